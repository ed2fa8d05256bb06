"""Mastering a dreamed sound: DC removed, the input's loudness matched (BS.1770), a true peak of -1 dBFS at most,
and the final file written atomically, the same bytes for the same dream."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from mmdream.io_utils import atomic_output, check_finite
from mmdream.media.ffmpeg import encode_audio
from mmdream.media.loudness import MeterAside, limited_with_peak
from mmdream.media.parallel import in_order

PEAK_CEILING_DB = -1.0
LIMITER_YIELD = 0.25  # dB of loudness a dB more of gain into the limiter must buy to be kept


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


def write_raw(pieces: Iterator[np.ndarray], raw_path: str, sr: int, ch: int) -> tuple[int, float]:
    """DC-block and write the processed stream as a float wav (before loudness matching); (frames, loudness)."""
    raw_meter, dc = MeterAside(sr, ch), DCBlocker(sr, ch)
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
    """Gain to the target loudness, then the limiter; where limiting cost loudness, the gain is raised by what was
    missed for as long as a dB more of it still buys LIMITER_YIELD dB of loudness. A target the ceiling cannot hold
    (an input louder than any sound under it: clipped noise, a hot master) stops there: the file written before
    the gain that bought too little is kept, as loud as the ceiling lets it be without the limiter's drive growing
    for nothing. The report's gain is the one that file was written with."""
    gain_db = (target_lufs - raw_lufs) if np.isfinite(raw_lufs) and np.isfinite(target_lufs) else 0.0
    suffix = Path(dst).suffix.lower()
    with atomic_output(Path(dst)) as tmp:
        wav_out = str(tmp) if suffix in (".wav", ".flac") else str(tmp) + ".wav"
        out = Path(wav_out)  # a later try beside it, kept only where its gain paid (stale-temporary named)
        trial = str(out.with_suffix(".next" + out.suffix))
        kept: tuple[float, float, float] | None = None  # the file at wav_out: its gain, loudness and true peak
        try:
            for _ in range(4):
                meter, peak_db = _apply_gain_and_limit(raw_path, wav_out if kept is None else trial, sr, ch, gain_db)
                out_lufs = meter.integrated()
                if kept is not None:
                    if gain_db > kept[0] and out_lufs - kept[1] < LIMITER_YIELD * (gain_db - kept[0]):
                        break
                    os.replace(trial, wav_out)
                kept = gain_db, out_lufs, peak_db
                miss = (target_lufs - out_lufs) if np.isfinite(out_lufs) and np.isfinite(target_lufs) else 0.0
                if abs(miss) < 0.3:
                    break
                gain_db += miss
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(trial)
        gain_db, out_lufs, peak_db = kept
        if wav_out != str(tmp):
            encode_audio(wav_out, str(tmp))
            os.remove(wav_out)
    return {"output_loudness_lufs": out_lufs, "target_loudness_lufs": target_lufs, "gain_db": gain_db,
            "true_peak_dbfs": peak_db}


def _apply_gain_and_limit(raw_path: str, out_path: str, sr: int, ch: int,
                          gain_db: float) -> tuple[MeterAside, float]:
    """The raw file with `gain_db` and the limiter into `out_path`, block by block on the host's cores; the
    output's meter and its true peak (dBFS), each block's measured with its margins as context."""
    ceiling = 10 ** ((PEAK_CEILING_DB - 0.15) / 20)
    window = max(8, int(0.01 * sr))
    margin = 2 * window
    block = 2 * sr  # a few seconds a block: enough blocks for every core
    gain = 10 ** (gain_db / 20)
    meter = MeterAside(sr, ch)
    fmt = "FLAC" if out_path.endswith(".flac") else "WAV"
    subtype = "PCM_24" if fmt == "FLAC" else "FLOAT"
    with sf.SoundFile(raw_path) as src, without_peak_chunk(sf.SoundFile(out_path, "w", sr, ch, subtype=subtype,
                                                                         format=fmt)) as out:
        total = src.frames

        def contexts() -> Iterator[tuple[int, int, np.ndarray]]:  # read here, in order: a file is one reader's
            for start in range(0, total, block):
                lo, hi = max(0, start - margin), min(total, start + block + margin)
                src.seek(lo)
                yield start, lo, src.read(hi - lo, dtype="float64", always_2d=True)

        def limit(item: tuple[int, int, np.ndarray]) -> tuple[np.ndarray, float]:
            start, lo, ctx = item
            keep = slice(start - lo, start - lo + min(block, total - start))
            written, block_peak = limited_with_peak(ctx * gain, ceiling, window, keep)
            return written[keep], block_peak

        peak = 0.0
        for y, block_peak in in_order(limit, contexts()):
            meter.add(y)
            out.write(y)
            peak = max(peak, block_peak)
    return meter, float(20 * np.log10(max(peak, 1e-12)))


SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile's command (sndfile.h)


def without_peak_chunk(f: sf.SoundFile) -> sf.SoundFile:
    """A float WAV without libsndfile's PEAK chunk, which is stamped with the time of writing: without it the same
    dream is the same file, byte for byte. (Must be set before the first sample is written.)"""
    with contextlib.suppress(AttributeError):  # soundfile keeps the handle private; older/newer ones may differ
        sf._snd.sf_command(f._file, SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
    return f
