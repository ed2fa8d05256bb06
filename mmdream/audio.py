"""Audio dreaming: the engine on each channel's STFT log-magnitude, resynthesised with the original phase.

The net sees the input at its own rate through an in-graph mel front end (mmdream.nets.musicnn), so the gradient
lands in the domain that is resynthesised and content above 8 kHz (which the nets never hear) stays untouched.
Long files stream through in overlapping chunks that are cross-faded, so memory does not grow with length. The
result is loudness-matched to the input (BS.1770) and limited to a true peak of -1 dBFS.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from mmdream.engine import Dreamer, DreamSettings
from mmdream.errors import UserError
from mmdream.io_utils import atomic_output
from mmdream.loudness import LoudnessMeter, limiter_gain
from mmdream.media import MediaInfo, encode_audio, probe, read_audio_blocks
from mmdream.nets.musicnn import MIN_FRAMES, SR, stft_params

AUDIO_DEFAULTS = DreamSettings(octaves=2, octave_scale=1.4, steps=20, step_size=0.05, jitter=16, tile_size=1024,
                               grad_clip=3.0, min_size=MIN_FRAMES, axes=(1,), center_gradient=True)
CHUNK_SECONDS, OVERLAP_SECONDS = 10.0, 0.5
PEAK_CEILING_DB = -1.0
WRITE_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a"}
LOG_FLOOR = 1e-7


@dataclass
class Spectrum:
    """Per-channel STFT of a block: log-magnitude in the engine's layout (ch, T, F, 1), and the phase."""

    logmag: np.ndarray
    phase: np.ndarray
    length: int


def analyse(x: np.ndarray, sr: int) -> Spectrum:
    import librosa

    n_fft, hop = stft_params(sr)
    stft = librosa.stft(np.ascontiguousarray(x.T), n_fft=n_fft, hop_length=hop, window="hann", center=True)
    logmag = np.log(np.abs(stft) + LOG_FLOOR).transpose(0, 2, 1)[..., None].astype(np.float32)
    return Spectrum(logmag, np.angle(stft), len(x))


def synthesise(logmag: np.ndarray, phase: np.ndarray, sr: int, length: int, griffin_lim: int = 0) -> np.ndarray:
    """Inverse STFT with the given phase (optionally refined by Griffin-Lim iterations); returns (n, ch)."""
    import librosa

    n_fft, hop = stft_params(sr)
    mag = np.maximum(np.exp(logmag[..., 0].transpose(0, 2, 1)) - LOG_FLOOR, 0.0)
    spec = mag * np.exp(1j * phase)
    for _ in range(griffin_lim):
        y = librosa.istft(spec, hop_length=hop, n_fft=n_fft, window="hann", center=True, length=length)
        spec = mag * np.exp(1j * np.angle(librosa.stft(y, n_fft=n_fft, hop_length=hop, window="hann", center=True)))
    y = librosa.istft(spec, hop_length=hop, n_fft=n_fft, window="hann", center=True, length=length)
    return y.T.astype(np.float32)


def _pad_frames(logmag: np.ndarray) -> np.ndarray:
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


@functools.cache
def _log_k_weights(sr: int, bins: int) -> np.ndarray:
    """log |H_K(f)|^2 of the BS.1770 K-weighting filter at `bins` frequencies spanning 0..sr/2."""
    from scipy import signal

    from mmdream.loudness import _k_weighting

    freqs = np.linspace(0, sr / 2, bins)
    response = np.ones(bins)
    for b, a in _k_weighting(sr):
        response *= np.abs(signal.freqz(b, a, worN=freqs, fs=sr)[1]) ** 2
    return np.log(np.maximum(response, 1e-12)).astype(np.float32).reshape(1, 1, bins, 1)


def keep_loudness(sr: int):
    """A constraint that shifts each channel's log-magnitude so its K-weighted energy equals the octave base's.

    The output is loudness-matched afterwards, so a louder dream is no dream: this makes the ascent reshape the
    spectrum instead of raising its level (otherwise the dream gain is lost when the level is put back).
    """
    import tensorflow as tf

    def project(x, base):
        w = _log_k_weights(sr, int(x.shape[2]))

        def log_energy(v):
            return tf.math.reduce_logsumexp(2.0 * v + w, axis=[1, 2, 3], keepdims=True)

        return x + 0.5 * (log_energy(base) - log_energy(x))

    return project


def dream_block(x: np.ndarray, sr: int, dreamer: Dreamer, settings: DreamSettings, strength: float = 1.0,
                griffin_lim: int = 0, on_step: Callable[[], None] | None = None) -> np.ndarray:
    """Dream one (n, ch) block of audio; same shape out."""
    spec = analyse(x, sr)
    frames = spec.logmag.shape[1]
    dreamed = dreamer.dream(_pad_frames(spec.logmag), settings, on_step=on_step, strength=strength,
                            constraint=keep_loudness(sr))[:, :frames]
    keep = ~dreamable_mask(sr)
    dreamed[:, :, keep] = spec.logmag[:, :, keep]
    return synthesise(dreamed, spec.phase, sr, spec.length, griffin_lim)


def score_audio(dreamer: Dreamer, x: np.ndarray, sr: int, seconds: float = 30.0) -> float:
    """The objective (mean squared activation) of a signal, averaged over chunks: how input and output compare."""
    step = int(seconds * sr)
    vals, weights = [], []
    for start in range(0, max(1, len(x)), step):
        block = x[start:start + step]
        if len(block) == 0:
            break
        vals.append(dreamer.score(_pad_frames(analyse(block, sr).logmag), tile=100_000))
        weights.append(len(block))
    return float(np.average(vals, weights=weights))


# ---- streaming -------------------------------------------------------------------------------------------
def overlapping_chunks(blocks: Iterator[np.ndarray], size: int, overlap: int) -> Iterator[tuple[np.ndarray, bool]]:
    """Re-cut a stream into chunks of `size + overlap` frames that overlap by `overlap`; flag the last one."""
    buf = np.zeros((0, 0), np.float32)
    for b in blocks:
        buf = b if buf.size == 0 else np.concatenate([buf, b])
        while len(buf) >= size + 2 * overlap:  # keep enough back to know this chunk is not the last
            yield buf[: size + overlap], False
            buf = buf[size:]
    if len(buf):
        yield buf, True


def crossfade_stream(chunks: Iterator[tuple[np.ndarray, bool]], overlap: int) -> Iterator[np.ndarray]:
    """Join processed overlapping chunks with linear cross-fades; yields finished audio in order."""
    tail = None
    ramp = None
    for chunk, last in chunks:
        if tail is not None:
            n = min(overlap, len(chunk), len(tail))
            if ramp is None or len(ramp) != n:
                ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None]
            chunk = chunk.copy()
            chunk[:n] = tail[:n] * (1 - ramp) + chunk[:n] * ramp
        if last:
            yield chunk
            return
        yield chunk[: len(chunk) - overlap]
        tail = chunk[len(chunk) - overlap:]


class DCBlocker:
    """One-pole high-pass at ~5 Hz, with state across blocks: dreamed magnitudes must not add a DC offset."""

    def __init__(self, sr: int, channels: int) -> None:
        self.r = float(np.exp(-2 * np.pi * 5.0 / sr))
        self.zi = np.zeros((1, channels))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        from scipy import signal

        y, self.zi = signal.lfilter([1.0, -1.0], [1.0, -self.r], x, axis=0, zi=self.zi)
        return y.astype(np.float32)


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


def open_source(src: str, duration: float | None) -> tuple[MediaInfo, Callable[[int], Iterator[np.ndarray]]]:
    """Media info plus a function that yields the input in blocks (a file via ffmpeg, or generated).

    For a file, `duration` keeps only its first `duration` seconds."""
    if src in ("noise", "sine"):
        data = generated_source(src, duration or 5.0)
        info = MediaInfo(src, len(data) / 44100, 44100, 1, None, None)
        return info, lambda block: (data[i:i + block] for i in range(0, len(data), block))
    info = probe(src)
    if not info.has_audio:
        raise UserError(f"{src} has no audio stream")
    return info, lambda block: read_audio_blocks(src, info, block, end=duration)


def dream_audio_file(src: str, dst: str, dreamer: Dreamer, settings: DreamSettings, *, strength: float = 1.0,
                     loudness: float | None = None, griffin_lim: int = 0, duration: float | None = None,
                     progress=None, chunk_seconds: float = CHUNK_SECONDS) -> dict:
    """The `mmdream audio` command's work: stream, dream, cross-fade, loudness-match, limit, write."""
    if Path(dst).suffix.lower() not in WRITE_SUFFIXES:
        raise UserError(f"cannot write {Path(dst).suffix or 'an extensionless file'}; use .wav, .flac, .mp3 or .ogg")
    info, blocks = open_source(src, duration)
    sr, ch = info.audio_rate, info.audio_channels
    size, overlap = int(chunk_seconds * sr), int(OVERLAP_SECONDS * sr)
    t0 = time.perf_counter()
    in_meter, raw_meter = LoudnessMeter(sr, ch), LoudnessMeter(sr, ch)
    dc = DCBlocker(sr, ch)
    work = tempfile.mkdtemp(prefix="mmdream-audio-", dir=os.environ.get("MMDREAM_TMP"))
    raw_path = os.path.join(work, "raw.wav")
    frames = 0
    with sf.SoundFile(raw_path, "w", sr, ch, subtype="FLOAT") as raw:

        def dreamed_chunks():
            for chunk, last in overlapping_chunks(blocks(65536), size, overlap):
                # the input's loudness is metered once, on the non-overlapping part of each chunk
                in_meter.add(chunk if last else chunk[:size])
                on_step = progress.update if progress is not None else None
                yield dream_block(chunk, sr, dreamer, settings, strength, griffin_lim, on_step), last

        for piece in crossfade_stream(dreamed_chunks(), overlap):
            piece = dc(piece)
            raw_meter.add(piece)
            raw.write(piece)
            frames += len(piece)
    if frames == 0:
        raise UserError(f"{src} decodes to no audio samples")
    target = in_meter.integrated() if loudness is None else loudness
    final = finalise(raw_path, dst, sr, ch, raw_meter.integrated(), target)
    os.remove(raw_path)
    os.rmdir(work)
    return {"input": src, "output": dst, "sample_rate": sr, "channels": ch, "frames": frames,
            "duration_s": frames / sr, "input_loudness_lufs": in_meter.integrated(), "seconds": time.perf_counter() - t0,
            **final}


def finalise(raw_path: str, dst: str, sr: int, ch: int, raw_lufs: float, target_lufs: float) -> dict:
    """Gain to the target loudness, then the limiter; re-measure and correct the gain if limiting cost loudness."""
    gain_db = (target_lufs - raw_lufs) if np.isfinite(raw_lufs) and np.isfinite(target_lufs) else 0.0
    suffix = Path(dst).suffix.lower()
    with atomic_output(Path(dst)) as tmp:
        wav_out = str(tmp) if suffix in (".wav", ".flac") else str(tmp) + ".wav"
        for _ in range(4):
            meter = _apply_gain_and_limit(raw_path, wav_out, sr, ch, gain_db)
            out_lufs = meter.integrated()
            miss = (target_lufs - out_lufs) if np.isfinite(out_lufs) and np.isfinite(target_lufs) else 0.0
            if abs(miss) < 0.3:
                break
            gain_db += miss
        if wav_out != str(tmp):
            encode_audio(wav_out, str(tmp))
            os.remove(wav_out)
    return {"output_loudness_lufs": out_lufs, "target_loudness_lufs": target_lufs, "gain_db": gain_db,
            "true_peak_dbfs": meter.true_peak_db()}


def _apply_gain_and_limit(raw_path: str, out_path: str, sr: int, ch: int, gain_db: float) -> LoudnessMeter:
    ceiling = 10 ** ((PEAK_CEILING_DB - 0.15) / 20)
    window = max(8, int(0.01 * sr))
    margin = 2 * window
    block = 10 * sr
    gain = 10 ** (gain_db / 20)
    meter = LoudnessMeter(sr, ch)
    fmt = "FLAC" if out_path.endswith(".flac") else "WAV"
    subtype = "PCM_24" if fmt == "FLAC" else "FLOAT"
    with sf.SoundFile(raw_path) as src, sf.SoundFile(out_path, "w", sr, ch, subtype=subtype, format=fmt) as out:
        total = src.frames
        for start in range(0, total, block):
            lo, hi = max(0, start - margin), min(total, start + block + margin)
            src.seek(lo)
            ctx = src.read(hi - lo, dtype="float64", always_2d=True) * gain
            g = limiter_gain(ctx, ceiling, window)
            y = (ctx * g[:, None])[start - lo: start - lo + min(block, total - start)]
            y = np.clip(y, -ceiling, ceiling)
            meter.add(y)
            out.write(y.astype(np.float32))
    return meter


def plot_spectrograms(before: np.ndarray, after: np.ndarray, sr: int, path: str) -> None:
    """Before/after log spectrograms (first channel) side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, x, title in zip(axes, (before, after), ("input", "dream")):
        lm = analyse(x[: 30 * sr], sr).logmag[0, :, :, 0].T / np.log(10) * 20
        ax.imshow(lm, origin="lower", aspect="auto", cmap="magma", vmin=lm.max() - 90, vmax=lm.max(),
                  extent=(0, lm.shape[1] * stft_params(sr)[1] / sr, 0, sr / 2000))
        ax.set_title(title)
        ax.set_xlabel("s")
    axes[0].set_ylabel("kHz")
    fig.tight_layout()
    with atomic_output(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def load_whole(path: str, end: float | None = None) -> tuple[np.ndarray, int]:
    """Whole file as (n, ch) float32 at its own rate (for measuring and plotting, not for dreaming)."""
    if path in ("noise", "sine"):
        return generated_source(path, end or 5.0), 44100
    info = probe(path)
    return np.concatenate(list(read_audio_blocks(path, info, 1 << 20, end=end))), info.audio_rate

