"""A sound of any length dreamed in constant memory: decoded in blocks, DC removed, cut into overlapping chunks
each dreamed with the schedule at its middle, cross-faded, written raw and then mastered. Style transfer streams
its sounds through the same pipeline, and so does a cluster (chunks dreamed elsewhere, in order)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from mmdream.checks import AUDIO_SUFFIXES
from mmdream.core.engine import Dreamer
from mmdream.errors import UserError
from mmdream.io_utils import temporary_folder
from mmdream.media.audio_source import GENERATED, open_source
from mmdream.media.ffmpeg import MediaInfo
from mmdream.media.loudness import MeterAside
from mmdream.media.master import DCBlocker, finalise, write_raw
from mmdream.media.parallel import cores, in_order
from mmdream.nets.musicnn import MIN_FRAMES, stft_params
from mmdream.pipelines.audio.block import dream_block
from mmdream.pipelines.audio.spectrum import analyse, pad_frames
from mmdream.schedule import Resolved

CHUNK_SECONDS, OVERLAP_SECONDS = 10.0, 0.5


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
            vals.append(dreamer.score(pad_frames(analyse(block, sr).logmag), tile=100_000))
            weights.append(len(block))
    return float(np.average(vals, weights=weights)) if vals else float("nan")


def score_file(dreamer: Dreamer, path: str, duration: float | None = None, start: float = 0.0) -> float:
    """The objective of a file (or generated source), streamed in blocks as long as the dreamed chunks."""
    info, blocks = open_source(path, duration, start)
    return score_stream(dreamer, blocks(int(CHUNK_SECONDS * info.audio_rate)), info.audio_rate)


def overlapping_chunks(blocks: Iterator[np.ndarray], size: int, overlap: int) -> Iterator[tuple[np.ndarray, bool]]:
    """Re-cut a stream into chunks of `size + overlap` frames that overlap by `overlap`; flag the last one. Blocks
    are joined once a chunk's worth is there (joining at every block copies a chunk per block)."""
    held: list[np.ndarray] = []
    count = 0
    for b in blocks:
        held.append(b)
        count += len(b)
        if count < size + 2 * overlap:  # keep enough back to know a chunk is not the last
            continue
        buf = np.concatenate(held) if len(held) > 1 else held[0]
        while len(buf) >= size + 2 * overlap:
            yield buf[: size + overlap], False
            buf = buf[size:]
        held, count = [buf], len(buf)
    if count:
        yield np.concatenate(held), True


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
    in_meter = MeterAside(sr, ch)  # off this thread, which cuts the chunks
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
    if info.duration and src not in GENERATED:
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
                griffin_lim: int = 0, on_step: Callable[[], None] | None = None,
                turn: threading.Lock | None = None) -> np.ndarray:
    """Chunk `k` of a sound that starts `start` s into the schedule, dreamed with the schedule at its middle.
    `turn`: where chunks are worked on in several threads (`chunks_on_threads`), the net dreams one at a time."""
    size = int(chunk_seconds_for(plan) * sr)
    moment = plan.at(start + (k * size + len(chunk) / 2) / sr)
    return dream_block(chunk, sr, _InTurn(dreamer, moment, turn or contextlib.nullcontext()), moment.settings,
                       moment.strength, griffin_lim, on_step)


class _InTurn:
    """`dreamer` as `dream_block` uses it, dreaming in its turn with the chunk's moment taken: the chunk's STFT and
    resynthesis run beside the other chunks' dreams."""

    def __init__(self, dreamer: Dreamer, moment, turn: threading.Lock | contextlib.nullcontext) -> None:
        self.dreamer, self.moment, self.turn = dreamer, moment, turn

    def dream(self, *args, **kwargs) -> np.ndarray:
        with self.turn:
            self.dreamer.take(self.moment)
            return self.dreamer.dream(*args, **kwargs)


CHUNK_THREADS = 3  # enough to hide a chunk's host work (decoding, STFT, resynthesis) behind the next one's dream


def chunks_on_threads(process: Callable[[int, np.ndarray], np.ndarray],
                      chunks: Iterator[tuple[int, np.ndarray]]) -> Iterator[np.ndarray]:
    """A `ChunkMap` for this machine: chunks worked on in a few threads, in order, one ahead of each thread."""
    threads = min(CHUNK_THREADS, cores())
    return in_order(lambda item: process(*item), chunks, threads, ahead=threads)


def dream_audio_file(src: str, dst: str, dreamer: Dreamer, plan: Resolved, *, loudness: float | None = None,
                     griffin_lim: int = 0, duration: float | None = None, start: float = 0.0,
                     progress=None, map_chunks: ChunkMap | None = None) -> dict:
    """The audio dream of a file: each chunk dreamed with the schedule's settings at the chunk's middle
    (`dream_chunk`), here on a few threads around the one net (`chunks_on_threads`) or through `map_chunks` (see
    `stream_through`)."""
    on_step = progress.update if progress is not None else None
    turn = threading.Lock()

    def make_process(info: MediaInfo) -> Callable[[int, np.ndarray], np.ndarray]:
        return lambda k, chunk: dream_chunk(dreamer, plan, k, chunk, info.audio_rate, start, griffin_lim, on_step,
                                            turn)

    return stream_through(src, dst, make_process, chunk_seconds=chunk_seconds_for(plan), duration=duration,
                          start=start, loudness=loudness, map_chunks=map_chunks or chunks_on_threads)
