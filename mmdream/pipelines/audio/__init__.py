"""Audio dreaming: the engine on each channel's STFT log-magnitude, resynthesised with the original phase.

The net sees the input at its own rate through an in-graph mel front end (mmdream.nets.musicnn), so the gradient
lands in the domain that is resynthesised and content above 8 kHz (which the nets never hear) stays untouched.
Long files stream through in overlapping chunks that are cross-faded, so memory does not grow with length. The
result is loudness-matched to the input (BS.1770) and limited to a true peak of -1 dBFS.

spectrum: a sound to and from dream space · block: one block dreamed · stream: a file dreamed in chunks ·
plot: the spectrograms of --plot. The sound's sources and its mastering are media (mmdream.media.audio_source,
mmdream.media.master). This module imports nothing.
"""
