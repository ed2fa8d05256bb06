"""`mmdream explain`: what a net has learned, shown as feature visualisation (Olah, Mordvintsev and Schubert,
"Feature Visualization", Distill 2017): an input optimised from noise until it drives one class, one channel or
each channel of a layer, under a parameterisation that favours natural inputs and transformations the net must
see through, so what appears is the net's idea rather than an adversarial pattern.

- `goals`: what to explain (classes, channels, a layer's grid), named and checked before a net is built;
- `param`: how an input is parameterised (a picture: decorrelated colour in a frequency-scaled Fourier basis, or
  plain pixels; a sound: its log-magnitude spectrogram, held to what resynthesis can deliver);
- `optimise`: Adam under random transformations, one compiled step for a batch of goals;
- `examples`: the inputs of a folder that drive each goal most (lucid's dataset examples);
- `run`: the command's pipeline, from a spec to a labelled grid, or WAVs and a sheet of their spectrograms.
"""
