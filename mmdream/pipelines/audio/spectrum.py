"""A sound in the audio nets' dream space: each channel's STFT log-magnitude (ch, T, F, 1) with the STFT the
audio nets' front end uses (mmdream.nets.musicnn), and back: the changed magnitudes with the original phase."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from librosa import istft, stft  # librosa loads these lazily on first use (1 s): here it is start-up, not a chunk

from mmdream.nets.musicnn import MIN_FRAMES, SR, stft_params

LOG_FLOOR = 1e-7


@dataclass
class Spectrum:
    """Per-channel STFT of a block: log-magnitude in the engine's layout (ch, T, F, 1), and the complex STFT
    (ch, F, T) whose phase resynthesis keeps."""

    logmag: np.ndarray
    stft: np.ndarray
    length: int

    def rotor(self) -> np.ndarray:
        """The phase as unit phasors, (ch, F, T)."""
        return self.stft / np.maximum(np.abs(self.stft), 1e-30)


def analyse(x: np.ndarray, sr: int) -> Spectrum:
    n_fft, hop = stft_params(sr)
    spec = stft(np.ascontiguousarray(x.T), n_fft=n_fft, hop_length=hop, window="hann", center=True)
    return Spectrum(_logmag(np.abs(spec)), spec, len(x))


def _logmag(mag: np.ndarray) -> np.ndarray:
    """(ch, F, T) magnitudes to (ch, T, F, 1) log-magnitudes."""
    return np.log(mag + LOG_FLOOR).transpose(0, 2, 1)[..., None].astype(np.float32)


def resynthesise(spec: Spectrum, change: np.ndarray, sr: int, griffin_lim: int = 0) -> np.ndarray:
    """Inverse STFT of `spec` with its log-magnitude changed by `change` (same layout), keeping its phase
    (optionally refined by Griffin-Lim iterations); returns (n, ch)."""
    n_fft, hop = stft_params(sr)
    changed = spec.stft * np.exp(change[..., 0].transpose(0, 2, 1))
    if griffin_lim:
        return phase_refined_istft(np.abs(changed), np.angle(changed), spec.length, n_fft, hop, griffin_lim).T
    return istft(changed, hop_length=hop, n_fft=n_fft, window="hann", center=True, length=spec.length).T


def phase_refined_istft(mag: np.ndarray, phase: np.ndarray, length: int, n_fft: int, hop: int,
                        iterations: int) -> np.ndarray:
    """Inverse STFT (Hann, centred) of magnitudes `mag` (..., F, T) starting from `phase`, refined by
    `iterations` of Griffin-Lim; (..., length). Shared by the audio dreamer and audio style transfer."""
    spec = mag * np.exp(1j * phase)
    for _ in range(iterations):
        y = istft(spec, hop_length=hop, n_fft=n_fft, window="hann", center=True, length=length)
        spec = mag * np.exp(1j * np.angle(stft(y, n_fft=n_fft, hop_length=hop, window="hann", center=True)))
    return istft(spec, hop_length=hop, n_fft=n_fft, window="hann", center=True, length=length)


def pad_frames(logmag: np.ndarray) -> np.ndarray:
    """Loop very short sounds up to the shortest length every layer accepts."""
    frames = logmag.shape[1]
    if frames >= MIN_FRAMES:
        return logmag
    return np.pad(logmag, ((0, 0), (0, MIN_FRAMES - frames), (0, 0), (0, 0)), mode="wrap")


def dreamable_mask(sr: int) -> np.ndarray:
    """True for STFT bins the nets hear (above DC, up to 8 kHz); the rest is restored from the input."""
    n_fft, _ = stft_params(sr)
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    return (freqs > 0) & (freqs <= SR / 2)


TAPER_FROM_HZ = 6000.0  # the change fades out from here to the top of what the nets hear (8 kHz)


@functools.cache
def change_taper(sr: int) -> np.ndarray:
    """Weights (1, 1, bins, 1) for the dreamed change in log-magnitude: 1 up to 6 kHz, a raised-cosine fade to 0 at
    8 kHz, 0 above and at DC. A hard stop at 8 kHz left a notch under a shelf (the change fell 15-20 dB just below
    8 kHz and nothing above): the fade joins the dream to the untouched band smoothly."""
    n_fft, _ = stft_params(sr)
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    top = SR / 2
    fade = np.clip((top - freqs) / (top - TAPER_FROM_HZ), 0.0, 1.0)
    weights = 0.5 - 0.5 * np.cos(np.pi * fade)
    weights[freqs == 0] = 0.0
    return weights.astype(np.float32).reshape(1, 1, -1, 1)


def linked(spec: Spectrum) -> Spectrum:
    """All channels as one: their mean magnitude, with the phase of their sum. Dreaming this costs one
    channel's work, and the same change to every channel keeps panning and width."""
    if spec.stft.shape[0] == 1:
        return spec
    return Spectrum(_logmag(np.abs(spec.stft).mean(axis=0, keepdims=True)), spec.stft.sum(axis=0, keepdims=True),
                    spec.length)


def spectrogram_db(x: np.ndarray, sr: int) -> np.ndarray:
    """The log-magnitude spectrogram the audio nets dream on (first channel) in dB: (frequency, time), low
    frequencies first. `--plot` and the studio draw this one."""
    return analyse(x, sr).logmag[0, :, :, 0].T / np.log(10) * 20
