"""The work folder beside a film's output: finished frames and their figures, so a render can resume."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from mmdream.checks import work_folder
from mmdream.io_utils import atomic_output, write_failure
from mmdream.pipelines.film.encode import PieceEncoder


class WorkFolder:
    """Finished frames' figures (frames.jsonl), the film encoded in pieces as it is dreamed, and a checkpoint at
    every piece start: the frame before it as a lossless picture, all a render needs to continue from there (the
    frames carry the dream along the flow). No frame is kept as a picture otherwise, unless `keep_frames` (a
    zoom's loop encodes its film again from them)."""

    def __init__(self, output: Path, fingerprint: dict, keep_frames: bool = False) -> None:
        self.root = work_folder(output)
        self.frames = self.root / "frames"
        self.thumbs = self.root / "thumbs"  # the contact sheet's dreamed frames
        self.stats_path = self.root / "frames.jsonl"
        self.checkpoint = self.root / "checkpoint.json"  # {"next": the frame a rerun continues from}
        self.state = self.root / "state.png"  # the finished frame before it
        self.audio = self.root / "soundtrack.wav"
        self.pieces = self.root / "pieces"  # the picture alone, encoded while the frames are dreamed
        self.keep_frames = keep_frames
        self._encoder: PieceEncoder | None = None
        self._last: np.ndarray | None = None  # the frame saved last: the state of the next checkpoint
        key = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()
        job = self.root / "job.json"
        if self.root.exists() and (not job.exists() or json.loads(job.read_text()).get("key") != key):
            shutil.rmtree(self.root)  # a different command's leftovers: start over
        for folder in (self.frames, self.thumbs) if keep_frames else (self.thumbs,):
            folder.mkdir(parents=True, exist_ok=True)
        job.write_text(json.dumps({"key": key, "job": fingerprint}, indent=1, default=str))

    def frame_path(self, i: int) -> Path:
        return self.frames / f"{i:06d}.png"

    def finished(self) -> list[dict]:
        """Figures of the frames a rerun keeps, in order: those before the last checkpoint (the frames after it
        are dreamed again, into the same pieces)."""
        if not self.checkpoint.exists() or not self.stats_path.exists() or not self.state.exists():
            return []
        try:
            resume_at = int(json.loads(self.checkpoint.read_text())["next"])
        except (ValueError, KeyError, TypeError):
            return []
        rows = []
        for line in self.stats_path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                row = json.loads(line)
                if row["frame"] == len(rows):
                    rows.append(row)
        return rows[:resume_at] if len(rows) >= resume_at else []

    def resume(self, rows: list[dict]) -> np.ndarray | None:
        """Go back to the checkpoint after `rows` (see `finished`): their figures alone stay, and the finished frame
        before it is returned (None: from the start)."""
        with atomic_output(self.stats_path) as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        self._last = self._read(self.state) if rows else None
        return self._last

    @contextlib.contextmanager
    def encoding(self, size: tuple[int, int], fps: float, resume_at: int = 0) -> Iterator[None]:
        """H.264 (yuv420p, moviepy's ffmpeg writer) of every frame as it is saved, so encoding overlaps the
        network instead of following it; in pieces (`video_pieces`), those before `resume_at` kept from the run
        that finished them."""
        self._encoder = PieceEncoder(self.pieces, size, fps, keep_before=resume_at)
        try:
            yield
        except BaseException:
            with contextlib.suppress(OSError):  # a Ctrl-C also stops ffmpeg: its pipe may be gone
                self._encoder.close()
            raise
        else:
            self._encoder.close()
        finally:
            self._encoder = None

    def video_pieces(self) -> list[Path]:
        return sorted(self.pieces.glob("*.mp4"))

    def save(self, i: int, rgb: np.ndarray, row: dict) -> None:
        """Frame `i` finished: encoded, then its figures recorded. Where it starts a piece, a rerun may begin there
        once the piece before it is complete (the checkpoint follows that piece's closing)."""
        if self._encoder is not None:
            last = self._last
            checkpoint = (lambda: self._checkpoint(i, last)) if i > 0 else None
            self._encoder.write(rgb, i, bool(row.get("cold")), after_closing=checkpoint)
        with self.stats_path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if self.keep_frames:
            self._write(self.frame_path(i), rgb)
        self._last = rgb

    def _checkpoint(self, i: int, before: np.ndarray) -> None:
        """A rerun may continue from frame `i` (a piece start): the pieces before it are complete, and `before` is
        the finished frame it continues from."""
        self._write(self.state, before)
        with atomic_output(self.checkpoint) as tmp:
            tmp.write_text(json.dumps({"next": i}))

    def keep_thumb(self, i: int, rgb: np.ndarray) -> None:
        self._write(self.thumbs / f"{i:06d}.png", rgb)

    def thumb(self, i: int) -> np.ndarray | None:
        path = self.thumbs / f"{i:06d}.png"
        return self._read(path) if path.exists() else None

    def load(self, i: int) -> np.ndarray:
        """A finished frame (kept only with `keep_frames`)."""
        return self._read(self.frame_path(i))

    @staticmethod
    def _write(path: Path, rgb: np.ndarray) -> None:
        with atomic_output(path) as tmp:
            if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
                raise write_failure(tmp)

    @staticmethod
    def _read(path: Path) -> np.ndarray:
        return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
