"""Audio dreaming: the engine on each channel's STFT log-magnitude, resynthesised with the original phase.

The net sees the input at its own rate through an in-graph mel front end (mmdream.nets.musicnn), so the gradient
lands in the domain that is resynthesised and content above 8 kHz (which the nets never hear) stays untouched.
Long files stream through in overlapping chunks that are cross-faded, so memory does not grow with length. The
result is loudness-matched to the input (BS.1770) and limited to a true peak of -1 dBFS.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from librosa import istft, stft  # librosa loads these lazily on first use (1 s): here it is start-up, not a chunk

from mmdream.checks import AUDIO_SUFFIXES
from mmdream.core.engine import Dreamer, DreamSettings
from mmdream.errors import UserError
from mmdream.io_utils import atomic_output, check_finite, temporary_folder
from mmdream.media.ffmpeg import MediaInfo, encode_audio, probe, read_audio_blocks
from mmdream.media.loudness import LoudnessMeter, limited, true_peak_db
from mmdream.nets.musicnn import MIN_FRAMES, SR, stft_params
from mmdream.options import DREAM_DEFAULTS
from mmdream.schedule import Resolved

AUDIO_DEFAULTS = DreamSettings(**DREAM_DEFAULTS["audio"], grad_clip=3.0, min_size=MIN_FRAMES, axes=(1,),
                               center_gradient=True)
CHUNK_SECONDS, OVERLAP_SECONDS = 10.0, 0.5
PEAK_CEILING_DB = -1.0
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
    import tensorflow as tf

    def project(x, base):
        w = _log_k_weights(sr, int(x.shape[2]))

        def log_energy(v):
            return tf.math.reduce_logsumexp(2.0 * v + w, axis=[1, 2, 3], keepdims=True)

        return x + 0.5 * (log_energy(base) - log_energy(x))

    return project


def consistent_spectrum(spec: Spectrum, sr: int):
    """A projection onto what resynthesis can deliver: restore the bins the nets never hear, inverse-STFT with
    the original phase, re-analyse.

    Without it the ascent carves magnitudes far below the level that leaks into a bin from its neighbours once
    the phase is put back, and most of the dream is lost in resynthesis (measured on the humpback recording:
    3.6x in the spectrogram, 1.2x after resynthesis). Applied at the full-resolution octave only.
    """
    import tensorflow as tf

    n_fft, hop = stft_params(sr)
    frames = spec.logmag.shape[1]
    rotor = np.pad(spec.rotor(), ((0, 0), (0, 0), (0, max(0, MIN_FRAMES - frames))), mode="wrap")
    rotor = tf.constant(rotor.transpose(0, 2, 1), tf.complex64)  # (ch, T, F)
    original = tf.constant(_pad_frames(spec.logmag))
    keep = tf.constant(~dreamable_mask(sr).reshape(1, 1, -1, 1))
    window = tf.signal.hann_window(n_fft, periodic=True)
    norm = tf.signal.overlap_and_add(tf.tile(tf.square(window)[None], [rotor.shape[1], 1]), hop)
    norm = tf.where(norm > 1e-3 * tf.reduce_max(norm), norm, 1.0)

    def project(x):
        return _project_consistent(x, original, keep, rotor, window, norm, n_fft, hop)

    full = tuple(original.shape)

    def constraint(x, base):
        return project(x) if tuple(x.shape) == full else x

    return constraint


@functools.cache
def _consistent_fn():
    """One traced function for every chunk (shapes vary only at the last chunk), not one per chunk."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True, autograph=False)
    def project(x, original, keep, rotor, window, norm, n_fft: int, hop: int):
        x = tf.where(keep, original, x)
        mag = tf.exp(x[..., 0]) - LOG_FLOOR
        frames_t = tf.signal.irfft(tf.cast(tf.maximum(mag, 0.0), tf.complex64) * rotor, [n_fft]) * window
        y = tf.signal.overlap_and_add(frames_t, hop) / norm
        again = tf.abs(tf.signal.rfft(tf.signal.frame(y, n_fft, hop) * window, [n_fft]))
        return tf.math.log(again + LOG_FLOOR)[..., None]

    return project


def _project_consistent(*args):
    return _consistent_fn()(*args)


def dream_block(x: np.ndarray, sr: int, dreamer: Dreamer, settings: DreamSettings, strength: float = 1.0,
                griffin_lim: int = 0, on_step: Callable[[], None] | None = None) -> np.ndarray:
    """Dream one (n, ch) block of audio; same shape out. The channels are dreamed once, linked (see `linked`),
    and the change in log-magnitude is applied to each with its own phase, so the stereo image stays."""
    spec = analyse(x, sr)
    link = linked(spec)
    frames = spec.logmag.shape[1]
    consistent, loud = consistent_spectrum(link, sr), keep_loudness(sr)
    dreamed = dreamer.dream(_pad_frames(link.logmag), settings, on_step=on_step, strength=strength,
                            constraint=lambda v, base: loud(consistent(v, base), base))[:, :frames]
    change = (dreamed - link.logmag) * change_taper(sr)
    return resynthesise(spec, change, sr, griffin_lim).astype(np.float32)


def linked(spec: Spectrum) -> Spectrum:
    """All channels as one: their mean magnitude, with the phase of their sum. Dreaming this costs one
    channel's work, and the same change to every channel keeps panning and width."""
    if spec.stft.shape[0] == 1:
        return spec
    return Spectrum(_logmag(np.abs(spec.stft).mean(axis=0, keepdims=True)), spec.stft.sum(axis=0, keepdims=True),
                    spec.length)


def score_audio(dreamer: Dreamer, x: np.ndarray, sr: int, seconds: float = CHUNK_SECONDS) -> float:
    """The objective (mean squared activation) of a signal, averaged over chunks: how input and output compare."""
    step = int(seconds * sr)
    return score_stream(dreamer, (x[i:i + step] for i in range(0, len(x), step)), sr)


def score_stream(dreamer: Dreamer, blocks: Iterator[np.ndarray], sr: int) -> float:
    """`score_audio` over a stream of blocks (a file of any length in constant memory)."""
    vals, weights = [], []
    for block in blocks:
        if len(block):
            block = block - block.mean(axis=0)  # DC is inaudible; see DCBlocker
            vals.append(dreamer.score(_pad_frames(analyse(block, sr).logmag), tile=100_000))
            weights.append(len(block))
    return float(np.average(vals, weights=weights)) if vals else float("nan")


def score_file(dreamer: Dreamer, path: str, duration: float | None = None, start: float = 0.0) -> float:
    """The objective of a file (or generated source), streamed in blocks as long as the dreamed chunks."""
    info, blocks = open_source(path, duration, start)
    return score_stream(dreamer, blocks(int(CHUNK_SECONDS * info.audio_rate)), info.audio_rate)


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
    """One-pole high-pass at ~5 Hz, with state across blocks. DC is inaudible but real recordings carry it (the
    humpback recording here sits at +0.35) and the analysis window leaks it into the lowest bins, where the net
    would hear it; dreamed magnitudes must not add it either. The state starts as if the first samples' level
    had always been there, so a DC input does not begin with a click."""

    def __init__(self, sr: int, channels: int) -> None:
        self.r = float(np.exp(-2 * np.pi * 5.0 / sr))
        self.start = max(1, int(0.05 * sr))
        self.zi: np.ndarray | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        from scipy import signal

        if len(x) == 0:
            return x
        if self.zi is None:
            self.zi = -x[: self.start].mean(axis=0, keepdims=True).astype(np.float64)
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


def open_source(src: str, duration: float | None,
                start: float = 0.0) -> tuple[MediaInfo, Callable[[int], Iterator[np.ndarray]]]:
    """Media info plus a function that yields the input in blocks (a file via ffmpeg, or generated).

    For a file, only `duration` seconds from `start` are kept (decoded from the beginning, never seeked)."""
    if src in ("noise", "sine"):
        data = generated_source(src, duration or 5.0)
        info = MediaInfo(src, len(data) / 44100, 44100, 1, None, None)
        return info, lambda block: (data[i:i + block] for i in range(0, len(data), block))
    info = probe(src)
    if not info.has_audio:
        raise UserError(f"{src} has no audio stream")
    return info, lambda block: read_audio_blocks(src, info, block, end=duration, start=start)


def chunk_seconds_for(plan: Resolved) -> float:
    """10 s chunks, shorter (down to 3 s) when keyframes come faster, so the sound follows the schedule."""
    gap = plan.schedule.min_gap()
    return CHUNK_SECONDS if gap is None else float(np.clip(gap / 2, 3.0, CHUNK_SECONDS))


def total_audio_steps(plan: Resolved, dreamer: Dreamer, seconds: float, sr: int) -> int:
    """Gradient steps a dream of `seconds` will take (for the progress bar)."""
    chunk = chunk_seconds_for(plan)
    _, hop = stft_params(sr)
    total = 0
    for start in np.arange(0.0, max(seconds, 1e-3), chunk):
        length = min(chunk + OVERLAP_SECONDS, seconds - start)
        frames = max(MIN_FRAMES, int(length * sr / hop) + 1)
        total += dreamer.total_steps((frames, 96), plan.at(start + length / 2).settings)
    return total


def stream_through(src: str, dst: str, make_process: Callable[[MediaInfo], Callable[[int, np.ndarray], np.ndarray]],
                   *, chunk_seconds: float = CHUNK_SECONDS, duration: float | None = None, start: float = 0.0,
                   loudness: float | None = None, map_chunks: ChunkMap | None = None) -> dict:
    """The one audio pipeline, for dreaming and style alike: decode in blocks, remove DC, cut overlapping chunks,
    `process(k, chunk)` each (from `make_process(info)`), cross-fade, write a raw float file, then match loudness
    and limit into `dst`. Memory does not grow with the length of the sound. `map_chunks(process, chunks)` may
    process the (k, chunk) pairs elsewhere (a cluster's tasks), yielding the results in order."""
    if Path(dst).suffix.lower() not in AUDIO_SUFFIXES:
        raise UserError(f"cannot write {Path(dst).suffix or 'an extensionless file'}; use .wav, .flac, .mp3 or .ogg")
    info, blocks = open_source(src, duration, start)
    sr, ch = info.audio_rate, info.audio_channels
    size, overlap = int(chunk_seconds * sr), int(OVERLAP_SECONDS * sr)
    in_meter = LoudnessMeter(sr, ch)
    process = make_process(info)

    lasts: list[bool] = []

    def chunks() -> Iterator[tuple[int, np.ndarray]]:
        dc = DCBlocker(sr, ch)
        for k, (chunk, last) in enumerate(overlapping_chunks((dc(b) for b in blocks(65536)), size, overlap)):
            in_meter.add(chunk if last else chunk[:size])  # the input is metered once, without the overlaps
            lasts.append(last)
            yield k, chunk

    def processed() -> Iterator[tuple[np.ndarray, bool]]:
        mapped = (map_chunks or _map_here)(process, chunks())
        for k, out in enumerate(mapped):
            yield out, lasts[k]

    t0 = time.perf_counter()
    with temporary_folder(dst) as work:  # beside the output: a killed run's leftovers go with the next run
        raw_path = os.path.join(work, "raw.wav")
        frames, raw_lufs = write_raw(crossfade_stream(processed(), overlap), raw_path, sr, ch)
        if frames == 0:
            raise UserError(f"{src} decodes to no audio samples")
        final = finalise(raw_path, dst, sr, ch, raw_lufs, in_meter.integrated() if loudness is None else loudness)
    figures = {"input": src, "output": dst, "sample_rate": sr, "channels": ch, "frames": frames,
               "duration_s": frames / sr, "input_loudness_lufs": in_meter.integrated(),
               "seconds": time.perf_counter() - t0, **final}
    if info.duration and src not in ("noise", "sine"):
        promised = min(duration or info.duration, info.duration - start)
        if frames / sr < promised - max(0.5, 0.05 * promised):
            figures["warning"] = (f"{src} decoded to {frames / sr:.2f} s of the {promised:.2f} s its header gives "
                                  "(a truncated file?): dreamed what was there")
    return figures


ChunkMap = Callable[[Callable[[int, np.ndarray], np.ndarray], Iterator[tuple[int, np.ndarray]]],
                    Iterator[np.ndarray]]


def _map_here(process: Callable[[int, np.ndarray], np.ndarray],
              chunks: Iterator[tuple[int, np.ndarray]]) -> Iterator[np.ndarray]:
    return (process(k, chunk) for k, chunk in chunks)


def dream_chunk(dreamer: Dreamer, plan: Resolved, k: int, chunk: np.ndarray, sr: int, start: float = 0.0,
                griffin_lim: int = 0, on_step: Callable[[], None] | None = None) -> np.ndarray:
    """Chunk `k` of a sound that starts `start` s into the schedule, dreamed with the schedule at its middle."""
    size = int(chunk_seconds_for(plan) * sr)
    moment = plan.at(start + (k * size + len(chunk) / 2) / sr)
    dreamer.set_layer_weights(moment.layers)
    return dream_block(chunk, sr, dreamer, moment.settings, moment.strength, griffin_lim, on_step)


def dream_audio_file(src: str, dst: str, dreamer: Dreamer, plan: Resolved, *, loudness: float | None = None,
                     griffin_lim: int = 0, duration: float | None = None, start: float = 0.0,
                     progress=None, map_chunks: ChunkMap | None = None) -> dict:
    """The audio dream of a file: each chunk dreamed with the schedule's settings at the chunk's middle
    (`dream_chunk`), here or through `map_chunks` (see `stream_through`)."""
    on_step = progress.update if progress is not None else None

    def make_process(info: MediaInfo) -> Callable[[int, np.ndarray], np.ndarray]:
        return lambda k, chunk: dream_chunk(dreamer, plan, k, chunk, info.audio_rate, start, griffin_lim, on_step)

    return stream_through(src, dst, make_process, chunk_seconds=chunk_seconds_for(plan), duration=duration,
                          start=start, loudness=loudness, map_chunks=map_chunks)


def write_raw(pieces: Iterator[np.ndarray], raw_path: str, sr: int, ch: int) -> tuple[int, float]:
    """DC-block and write the processed stream as a float wav (before loudness matching); (frames, loudness)."""
    raw_meter, dc = LoudnessMeter(sr, ch), DCBlocker(sr, ch)
    frames = 0
    with sf.SoundFile(raw_path, "w", sr, ch, subtype="FLOAT") as raw:
        for piece in pieces:
            piece = dc(piece)
            check_finite(piece, "the dreamed sound")
            raw_meter.add(piece)
            raw.write(piece)
            frames += len(piece)
    return frames, raw_meter.integrated()


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
        peak_db = file_true_peak_db(wav_out)
        if wav_out != str(tmp):
            encode_audio(wav_out, str(tmp))
            os.remove(wav_out)
    return {"output_loudness_lufs": out_lufs, "target_loudness_lufs": target_lufs, "gain_db": gain_db,
            "true_peak_dbfs": peak_db}


def file_true_peak_db(path: str) -> float:
    """True peak (dBFS) of a file, in overlapping blocks; measured once, on the pass that was kept."""
    return max((true_peak_db(b) for b in sf.blocks(path, blocksize=1 << 19, overlap=64, always_2d=True)),
               default=-240.0)


def _apply_gain_and_limit(raw_path: str, out_path: str, sr: int, ch: int, gain_db: float) -> LoudnessMeter:
    ceiling = 10 ** ((PEAK_CEILING_DB - 0.15) / 20)
    window = max(8, int(0.01 * sr))
    margin = 2 * window
    block = 10 * sr
    gain = 10 ** (gain_db / 20)
    meter = LoudnessMeter(sr, ch)
    fmt = "FLAC" if out_path.endswith(".flac") else "WAV"
    subtype = "PCM_24" if fmt == "FLAC" else "FLOAT"
    with sf.SoundFile(raw_path) as src, without_peak_chunk(sf.SoundFile(out_path, "w", sr, ch, subtype=subtype,
                                                                         format=fmt)) as out:
        total = src.frames
        for start in range(0, total, block):
            lo, hi = max(0, start - margin), min(total, start + block + margin)
            src.seek(lo)
            ctx = src.read(hi - lo, dtype="float64", always_2d=True) * gain
            y = limited(ctx, ceiling, window)[start - lo: start - lo + min(block, total - start)]
            meter.add(y)
            out.write(y.astype(np.float32))
    return meter


SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile's command (sndfile.h)


def without_peak_chunk(f: sf.SoundFile) -> sf.SoundFile:
    """A float WAV without libsndfile's PEAK chunk, which is stamped with the time of writing: without it the same
    dream is the same file, byte for byte. (Must be set before the first sample is written.)"""
    with contextlib.suppress(AttributeError):  # soundfile keeps the handle private; older/newer ones may differ
        sf._snd.sf_command(f._file, SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
    return f


def spectrogram_db(x: np.ndarray, sr: int) -> np.ndarray:
    """The log-magnitude spectrogram the audio nets dream on (first channel) in dB: (frequency, time), low
    frequencies first. `--plot` and the studio draw this one."""
    return analyse(x, sr).logmag[0, :, :, 0].T / np.log(10) * 20


def plot_spectrograms(before: np.ndarray, after: np.ndarray, sr: int, path: str) -> None:
    """Before/after log spectrograms (first channel) side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, x, title in zip(axes, (before, after), ("input", "dream")):
        lm = spectrogram_db(x[: 30 * sr], sr)
        ax.imshow(lm, origin="lower", aspect="auto", cmap="magma", vmin=lm.max() - 90, vmax=lm.max(),
                  extent=(0, lm.shape[1] * stft_params(sr)[1] / sr, 0, sr / 2000))
        ax.set_title(title)
        ax.set_xlabel("s")
    axes[0].set_ylabel("kHz")
    fig.tight_layout()
    with atomic_output(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def load_whole(path: str, end: float | None = None, start: float = 0.0) -> tuple[np.ndarray, int]:
    """Whole file as (n, ch) float32 at its own rate (for measuring and plotting, not for dreaming)."""
    info, blocks = open_source(path, end, start)
    return np.concatenate(list(blocks(1 << 20))), info.audio_rate

