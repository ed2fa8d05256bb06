"""One block of sound dreamed: the engine on the linked channels' log-magnitude, held to what resynthesis can
deliver and to the block's loudness, the change tapered out above what the nets hear."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from keras import ops

from mmdream.core import backend
from mmdream.core.engine import Dreamer, DreamSettings
from mmdream.nets.musicnn import MIN_FRAMES, stft_params
from mmdream.options import DREAM_DEFAULTS
from mmdream.pipelines.audio.spectrum import (
    LOG_FLOOR,
    Spectrum,
    analyse,
    change_taper,
    dreamable_mask,
    linked,
    pad_frames,
    resynthesise,
)

AUDIO_DEFAULTS = DreamSettings(**DREAM_DEFAULTS["audio"], grad_clip=3.0, min_size=MIN_FRAMES, axes=(1,),
                               center_gradient=True)


@functools.cache
def _log_k_weights(sr: int, bins: int) -> np.ndarray:
    """log |H_K(f)|^2 of the BS.1770 K-weighting filter at `bins` frequencies spanning 0..sr/2."""
    from scipy import signal

    from mmdream.media.loudness import k_weighting

    freqs = np.linspace(0, sr / 2, bins)
    response = np.ones(bins)
    for b, a in k_weighting(sr):
        response *= np.abs(signal.freqz(b, a, worN=freqs, fs=sr)[1]) ** 2
    return np.log(np.maximum(response, 1e-12)).astype(np.float32).reshape(1, 1, bins, 1)


def keep_loudness(sr: int):
    """A constraint that shifts each channel's log-magnitude so its K-weighted energy equals the octave base's.

    The output is loudness-matched afterwards, so a louder dream is no dream: this makes the ascent reshape the
    spectrum instead of raising its level (otherwise the dream gain is lost when the level is put back).
    """
    def project(x, base):
        w = _log_k_weights(sr, int(x.shape[2]))

        def log_energy(v):
            return ops.logsumexp(2.0 * v + w, axis=(1, 2, 3), keepdims=True)

        return x + 0.5 * (log_energy(base) - log_energy(x))

    return project


def consistent_spectrum(spec: Spectrum, sr: int):
    """A projection onto what resynthesis can deliver: restore the bins the nets never hear, inverse-STFT with
    the original phase, re-analyse.

    Without it the ascent carves magnitudes far below the level that leaks into a bin from its neighbours once
    the phase is put back, and most of the dream is lost in resynthesis (measured on the humpback recording:
    3.6x in the spectrogram, 1.2x after resynthesis). Applied at the full-resolution octave only.
    """
    n_fft, hop = stft_params(sr)
    frames = spec.logmag.shape[1]
    rotor = np.pad(spec.rotor(), ((0, 0), (0, 0), (0, max(0, MIN_FRAMES - frames))), mode="wrap")
    rotor = rotor.transpose(0, 2, 1)  # (ch, T, F)
    original = backend.tensor(pad_frames(spec.logmag))
    keep = backend.tensor(~dreamable_mask(sr).reshape(1, 1, -1, 1), "bool")
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)  # periodic Hann
    norm = _overlap_added(np.tile(np.square(window)[None, None], (1, rotor.shape[1], 1)), hop)[0]
    norm = np.where(norm > 1e-3 * norm.max(), norm, 1.0).astype(np.float32)
    args = [original, keep, backend.tensor(rotor.real), backend.tensor(rotor.imag), backend.tensor(window),
            backend.tensor(norm)]
    project = _consistent_fn(hop)
    full = tuple(original.shape)

    def constraint(x, base):
        return project(x, *args) if tuple(x.shape) == full else x

    return constraint


def _overlap_added(frames, hop: int):
    """(ch, T, 2 hop) frames overlap-added at `hop`, as (ch, T + 1, hop) blocks of the signal: each block is one
    frame's second half plus the next frame's first half (the window is two hops long)."""
    pad = np.pad if isinstance(frames, np.ndarray) else ops.pad
    return pad(frames[..., :hop], [[0, 0], [0, 1], [0, 0]]) + pad(frames[..., hop:], [[0, 0], [1, 0], [0, 0]])


@functools.cache
def _consistent_fn(hop: int):
    """The projection, compiled once for every chunk of this rate (shapes vary only at the last chunk)."""
    n_fft = 2 * hop

    def project(x, original, keep, rotor_re, rotor_im, window, norm):
        x = ops.where(keep, original, x)
        mag = ops.maximum(ops.exp(x[..., 0]) - LOG_FLOOR, 0.0)
        y = _overlap_added(ops.irfft((mag * rotor_re, mag * rotor_im), n_fft) * window, hop) / norm
        re, im = ops.rfft(ops.concatenate([y[:, :-1], y[:, 1:]], axis=-1) * window, n_fft)  # framed again
        return ops.log(ops.sqrt(re * re + im * im) + LOG_FLOOR)[..., None]

    spec4, spec3 = backend.spec([None, None, None, 1]), backend.spec([None, None, None])
    return backend.compiled(project, [spec4, spec4, backend.spec([1, 1, None, 1], "bool"), spec3, spec3,
                                      backend.spec([n_fft]), backend.spec([None, hop])])


def dream_block(x: np.ndarray, sr: int, dreamer: Dreamer, settings: DreamSettings, strength: float = 1.0,
                griffin_lim: int = 0, on_step: Callable[[], None] | None = None) -> np.ndarray:
    """Dream one (n, ch) block of audio; same shape out. The channels are dreamed once, linked (see `linked`),
    and the change in log-magnitude is applied to each with its own phase, so the stereo image stays."""
    spec = analyse(x, sr)
    link = linked(spec)
    frames = spec.logmag.shape[1]
    consistent, loud = consistent_spectrum(link, sr), keep_loudness(sr)
    dreamed = dreamer.dream(pad_frames(link.logmag), settings, on_step=on_step, strength=strength,
                            constraint=lambda v, base: loud(consistent(v, base), base))[:, :frames]
    change = (dreamed - link.logmag) * change_taper(sr)
    return resynthesise(spec, change, sr, griffin_lim).astype(np.float32)
