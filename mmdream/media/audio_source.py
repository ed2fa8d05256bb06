"""A sound to dream: a file ffmpeg decodes in blocks (memory does not grow with its length), or generated noise or
tone for dreaming from nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from mmdream.errors import UserError
from mmdream.media.ffmpeg import MediaInfo, probe, read_audio_blocks

GENERATED = ("noise", "sine")


def generated_source(kind: str, duration: float, sr: int = 44100) -> np.ndarray:
    """`noise` (pink-ish) or `sine` (a 220 Hz tone with harmonics), mono, for dreaming from nothing."""
    if duration <= 0:
        raise UserError("--duration must be positive for generated input")
    n = int(round(duration * sr))
    rng = np.random.default_rng(0)
    if kind == "noise":
        white = rng.normal(0, 1, n)
        spec = np.fft.rfft(white) / np.sqrt(np.maximum(np.arange(n // 2 + 1), 1))
        y = np.fft.irfft(spec, n)
    else:
        t = np.arange(n) / sr
        y = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 6))
    return (0.25 * y / np.abs(y).max()).astype(np.float32)[:, None]


PCM_FULL_SCALE = {np.dtype(np.int8): 128, np.dtype(np.int16): 32768, np.dtype(np.int32): 2 ** 31}


def samples_from_array(audio: np.ndarray) -> np.ndarray:
    """Samples given as an array, (n,) or (n, channels), as float32 (n, channels): floats as they are, integer PCM
    (8, 16 or 32 bit, and unsigned 8 bit) at its full scale, as a WAV reader reads it. Anything else (an integer
    of another width, nothing at all, NaN) is one line: an int16 sound taken as floats is thousands of times
    full scale, and nothing said so."""
    samples = audio[:, None] if audio.ndim == 1 else audio
    if samples.ndim != 2 or samples.shape[1] < 1:
        raise UserError(f"samples must be (n,) or (n, channels), not {audio.shape}")
    if len(samples) == 0:
        raise UserError("the sample array is empty")
    if samples.dtype == np.uint8:
        return ((samples.astype(np.float32) - 128) / 128).astype(np.float32)
    if samples.dtype in PCM_FULL_SCALE:
        return (samples.astype(np.float64) / PCM_FULL_SCALE[samples.dtype]).astype(np.float32)
    if samples.dtype.kind != "f":
        raise UserError(f"samples must be floats or 8-, 16- or 32-bit PCM integers, not {samples.dtype}")
    if not np.isfinite(samples).all():
        raise UserError("the sample array holds NaN or Inf")
    return np.asarray(samples, np.float32)


def open_source(src: str, duration: float | None,
                start: float = 0.0) -> tuple[MediaInfo, Callable[[int], Iterator[np.ndarray]]]:
    """Media info plus a function that yields the input in blocks (a file via ffmpeg, or generated).

    For a file, only `duration` seconds from `start` are kept (decoded from the beginning, never seeked)."""
    if src in GENERATED:
        data = generated_source(src, duration or 5.0)
        info = MediaInfo(src, len(data) / 44100, 44100, 1, None, None)
        return info, lambda block: (data[i:i + block] for i in range(0, len(data), block))
    info = probe(src)
    if not info.has_audio:
        raise UserError(f"{src} has no audio stream")
    return info, lambda block: read_audio_blocks(src, info, block, end=duration, start=start)


def load_whole(path: str, end: float | None = None, start: float = 0.0) -> tuple[np.ndarray, int]:
    """Whole file as (n, ch) float32 at its own rate (for measuring and plotting, not for dreaming)."""
    info, blocks = open_source(path, end, start)
    return np.concatenate(list(blocks(1 << 20))), info.audio_rate


def load_mono(path: str, sr: int, end: float | None = None) -> np.ndarray:
    """A file's first `end` seconds (all: None) as one channel, the mean of its channels, at rate `sr` (n,)."""
    import librosa

    x, rate = load_whole(path, end=end)
    mono = x.mean(axis=1)
    return librosa.resample(mono, orig_sr=rate, target_sr=sr) if rate != sr else mono
