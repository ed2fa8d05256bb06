"""The soundtrack of `mmdream live --audio`: the source's sound dreamed in short chunks as it comes.

The audio pipeline's pieces, in real time: DC blocking, overlapping chunks (`CHUNK_SECONDS` + `OVERLAP_SECONDS`),
`dream_block` (whose loudness constraint keeps each chunk's loudness), cross-fades, and a peak limiter. A chunk
that cannot be dreamed before the next one is complete goes out as it came (cross-faded like the rest), so the
sound never falls behind the pictures; its latency is about a chunk and a dream. The sound is cut or padded to
the pictures' length at the end, so the two end together."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

import numpy as np

from mmdream.media.loudness import limited
from mmdream.media.master import PEAK_CEILING_DB, DCBlocker
from mmdream.pipelines.audio.block import dream_block
from mmdream.pipelines.audio.stream import crossfade_stream, overlapping_chunks
from mmdream.pipelines.film.frames import Dreaming
from mmdream.pipelines.live.controls import LayerDreamers, LiveControls

CHUNK_SECONDS, OVERLAP_SECONDS = 1.0, 0.25
PEAK_CEILING = 10 ** (PEAK_CEILING_DB / 20)  # -1 dBFS, as the audio pipeline's


class LiveSound:
    """Blocks in (`put`, from the source's AudioTap), dreamed sound out (`run`'s `write`), in its own thread."""

    def __init__(self, dreaming: Dreaming, rate: int, channels: int) -> None:
        self.dreaming, self.rate, self.channels = dreaming, rate, channels
        self.cond = threading.Condition()
        self.blocks: deque[np.ndarray] = deque()
        self.queued = 0  # samples in `blocks`
        self.ended = False  # the source's sound ended
        self.length: int | None = None  # samples to write in all (the pictures' length), once known
        self.rows: list[dict] = []
        self.latency: list[float] = []  # per written piece: written minus when its end was live (the pictures' clock)

    def put(self, block: np.ndarray) -> None:
        with self.cond:
            if len(block) == 0:
                self.ended = True
            else:
                self.blocks.append(block)
                self.queued += len(block)
            self.cond.notify_all()

    def finish(self, seconds: float) -> None:
        """The pictures ended after `seconds`: write the sound up to there and stop."""
        with self.cond:
            self.length = int(round(seconds * self.rate))
            self.cond.notify_all()

    def _incoming(self) -> Iterator[np.ndarray]:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.blocks or self.ended or self.length is not None)
                if not self.blocks:
                    return
                block = self.blocks.popleft()
                self.queued -= len(block)
            yield block

    def _behind(self, size: int) -> bool:
        """The next chunk is complete already: no time to dream this one."""
        with self.cond:
            return self.queued >= size or self.length is not None

    def run(self, write: Callable[[np.ndarray], None], clock: Callable[[], float | None],
            controls: LiveControls) -> None:
        """Dream and write until the pictures' length is written (padding with silence if the sound ended
        first). `clock()`: when the first picture arrived (the time the sound's latency is counted from).
        `controls`: the performer's depth (the sound net's layer at that depth) and strength apply here too."""
        sr = self.rate
        size, overlap = int(CHUNK_SECONDS * sr), int(OVERLAP_SECONDS * sr)
        dc = DCBlocker(sr, self.channels)
        chunks = overlapping_chunks((dc(b) for b in self._incoming()), size, overlap)
        written = 0
        for piece in crossfade_stream(self._dreamed(chunks, size, controls), overlap):
            if self.length is not None:
                piece = piece[: max(0, self.length - written)]
            write(_limited(piece))
            written += len(piece)
            first = clock()
            if first is not None:
                self.latency.append(time.perf_counter() - first - written / sr)
            if self.length is not None and written >= self.length:
                return
        with self.cond:
            self.cond.wait_for(lambda: self.length is not None)
        if written < self.length:
            write(np.zeros((self.length - written, self.channels), np.float32))

    def _dreamed(self, chunks: Iterator[tuple[np.ndarray, bool]], size: int,
                 controls: LiveControls) -> Iterator[tuple[np.ndarray, bool]]:
        plan, dreamers = self.dreaming.plan, LayerDreamers(self.dreaming.dreamer)
        for k, (chunk, last) in enumerate(chunks):
            start = time.perf_counter()
            if self._behind(size):
                out, dreamed, strength = chunk, False, 0.0
            else:
                depth, factor, _ = controls.now()
                dreamer, layers, _ = dreamers.at(depth)
                moment = plan.at(k * CHUNK_SECONDS + len(chunk) / (2 * self.rate))
                dreamer.take(moment, layers)
                strength = moment.strength * factor
                out, dreamed = dream_block(chunk, self.rate, dreamer, moment.settings, strength), True
            self.rows.append({"chunk": k, "dreamed": dreamed, "seconds": round(time.perf_counter() - start, 4),
                              "strength": strength})
            yield out, last

    def figures(self) -> dict:
        dreamed = [r for r in self.rows if r["dreamed"]]
        latency = self.latency
        return {"audio_chunks": len(self.rows), "audio_dreamed_chunks": len(dreamed),
                "audio_chunk_seconds": CHUNK_SECONDS,
                "audio_dream_seconds_mean": float(np.mean([r["seconds"] for r in dreamed])) if dreamed else None,
                "audio_latency_p95_s": float(np.percentile(latency, 95)) if latency else None,
                "audio_latency_max_s": float(np.max(latency)) if latency else None, "per_audio_chunk": self.rows}


def _limited(x: np.ndarray) -> np.ndarray:
    """Finite, under -1 dBFS: a smooth gain where a dreamed peak would pass it (2 ms windows), then a clip."""
    x = np.nan_to_num(x.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return limited(x, PEAK_CEILING, 96) if len(x) and np.abs(x).max() > PEAK_CEILING else x
