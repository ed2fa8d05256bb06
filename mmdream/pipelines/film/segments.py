"""Where a film is split for a cluster: at its scene cuts, found by the renderer's own cut rule, so a segment
starts cold exactly where a one-machine render starts cold and its frames are the same. A stretch without cuts
longer than `max_segment` frames is split anyway; that segment starts with a warm-up over the frames before it
(rendered, not kept) and the two sides are cross-faded over a few frames.

The pre-pass decodes the film once, as the renderer does, and writes each segment's frames losslessly (x264 at
qp 0, RGB: 1.6 ms a frame and a fifth of the raw size at 540x304, measured here), so a task decodes only its own
frames, frame-exact, on any machine.
"""

from __future__ import annotations

import subprocess
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mmdream.media.ffmpeg import _ffmpeg_output, ffmpeg_exe
from mmdream.media.flow import FlowEstimator
from mmdream.pipelines.film.options import FilmOptions


@dataclass
class Segment:
    """A stretch of the film one task renders: it keeps frames [first, end) (the film's indices)."""

    index: int
    first: int
    end: int
    warmup: int = 0  # frames before `first` rendered to settle the carried dream, not kept (a forced split)
    fade_in: int = 0  # its first kept frames, cross-faded with the previous segment's tail (a forced split)
    tail: int = 0  # frames after `end` rendered for the next segment's cross-fade
    seam: list[int] = field(default_factory=list)  # film indices of the frames saved for the seam's flicker

    @property
    def file_first(self) -> int:
        """The film's index of the first frame in the segment's input."""
        return self.first - self.warmup

    @property
    def frames(self) -> int:
        return self.end - self.first

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "seam"}


def settle_frames(fps: float) -> int:
    """Warm-up and cross-fade length at a forced split: half a second. A longer warm-up does not bring the two
    dreams closer (measured on cockatoo.mp4: 20 and 60 warm-up frames both left them 8 grey levels apart), the
    cross-fade is what hides the seam."""
    return max(2, round(fps / 2))


class LosslessWriter:
    """RGB frames into an x264 qp-0 file (lossless), fed as they are decoded."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        self.path = path
        w, h = size
        self.proc = subprocess.Popen([ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                                      "-s", f"{w}x{h}", "-r", f"{fps:.6f}", "-i", "-", "-c:v", "libx264rgb",
                                      "-qp", "0", "-preset", "ultrafast", "-threads", "1", str(path)],
                                     stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self.count = 0

    def write(self, rgb: np.ndarray) -> None:
        self.proc.stdin.write(np.ascontiguousarray(rgb).tobytes())
        self.count += 1

    def close(self) -> None:
        self.proc.stdin.close()
        err = self.proc.stderr.read().decode(errors="replace")
        if self.proc.wait() != 0:
            raise RuntimeError(f"ffmpeg could not write {self.path}: {err.strip()[-300:]}")


def read_lossless(path: Path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """A segment's frames, exactly as they were written."""
    w, h = size
    cmd = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    for raw in _ffmpeg_output(cmd, w * h * 3, f"the segment {path.name}"):
        if len(raw) == w * h * 3:
            yield np.frombuffer(raw, np.uint8).reshape(h, w, 3)


def split_film(frames: Iterator[np.ndarray], size: tuple[int, int], fps: float, opts: FilmOptions,
               max_segment: int, folder: Path, skip: set[int] | frozenset = frozenset()) -> Iterator[Segment]:
    """Segments of the film, each as soon as its input is written (`folder/NNNN.in.mkv`; after a forced split also
    `NNNN.seam.npy`, the input frames around the seam, for its flicker). Segments in `skip` (finished earlier) are
    planned the same way, but nothing is written for them."""
    settle = settle_frames(fps) if opts.flow else 0  # without flow every frame starts cold: any split is clean
    flow = FlowEstimator()
    recent: deque[np.ndarray] = deque(maxlen=max(settle, 1))
    current: _Open | None = None
    tailing: _Open | None = None  # the previous segment, rendering on into this one for the cross-fade
    i = -1
    for i, frame in enumerate(frames):
        cold = not recent or not opts.flow or flow.change(recent[-1], frame) > opts.cut
        forced = current is not None and not cold and i - current.seg.first >= max_segment
        if cold or forced:
            if tailing is not None:
                yield tailing.close(i, folder)
                tailing = None
            if current is not None:
                current.seg.end = i
                if forced:
                    current.seg.tail, tailing = settle, current
                else:
                    yield current.close(i, folder)
            seg = Segment(current.seg.index + 1 if current else 0, i, i)
            if forced:
                seg.warmup, seg.fade_in, seg.seam = len(recent), settle, [i - 1]
            current = _Open(seg, None if seg.index in skip else
                            LosslessWriter(folder / f"{seg.index:04d}.in.mkv", size, fps))
            current.write_all(list(recent) if forced else [])
            current.seam = [recent[-1]] if forced else []
        if tailing is not None:
            tailing.write(frame)
            if i + 1 - tailing.seg.end >= tailing.seg.tail:
                yield tailing.close(i + 1, folder)
                tailing = None
        current.write(frame)
        if current.seg.fade_in and i <= current.seg.first + current.seg.fade_in:
            current.seam.append(frame)
            current.seg.seam.append(i)
        recent.append(frame)
    if tailing is not None:
        yield tailing.close(i + 1, folder)
    if current is not None:
        current.seg.end = i + 1
        yield current.close(i + 1, folder)


class _Open:
    """A segment whose input is being written."""

    def __init__(self, seg: Segment, writer: LosslessWriter | None) -> None:
        self.seg, self.writer, self.seam = seg, writer, []

    def write(self, frame: np.ndarray) -> None:
        if self.writer is not None:
            self.writer.write(frame)

    def write_all(self, frames: list[np.ndarray]) -> None:
        for frame in frames:
            self.write(frame)

    def close(self, boundary: int, folder: Path) -> Segment:
        """The input complete: a tail or fade that a sooner boundary (a cut, the film's end) cuts short shrinks."""
        seg = self.seg
        seg.tail = min(seg.tail, boundary - seg.end)
        seg.fade_in = min(seg.fade_in, seg.frames)
        seg.seam = seg.seam[:seg.fade_in + 2] if seg.fade_in else []
        if self.writer is not None:
            self.writer.close()
            if seg.seam:
                np.save(folder / f"{seg.index:04d}.seam.npy", np.stack(self.seam[:len(seg.seam)]))
        return seg
