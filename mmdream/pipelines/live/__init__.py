"""`mmdream live`: the film dreamer on a live source (a camera, a network stream, a file at its own pace), holding
real time by itself.

Parts: session (the three threads: source, dreamer and writer; the sink; each size's step timed before the source
opens), controls (what a performer changes while it runs, and the fit of the dreams to the frame interval) and
sound (the soundtrack dreamed live beside the picture). Nothing is imported here: the controls load without
TensorFlow (a notebook's `mmdream.LiveControls`), the session does not."""
