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
    def __init__(self, output: Path, fingerprint: dict) -> None:
        self.root = work_folder(output)
        self.frames = self.root / "frames"
        self.stats_path = self.root / "frames.jsonl"
        self.audio = self.root / "soundtrack.wav"
        self.pieces = self.root / "pieces"  # the picture alone, encoded while the frames are dreamed
        self._encoder = None
        key = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()
        job = self.root / "job.json"
        if self.root.exists() and (not job.exists() or json.loads(job.read_text()).get("key") != key):
            shutil.rmtree(self.root)  # a different command's leftovers: start over
        self.frames.mkdir(parents=True, exist_ok=True)
        job.write_text(json.dumps({"key": key, "job": fingerprint}, indent=1, default=str))

    def frame_path(self, i: int) -> Path:
        return self.frames / f"{i:06d}.png"

    def finished(self) -> list[dict]:
        """Figures of the frames finished so far, in order (a frame counts once its PNG and its line exist)."""
        if not self.stats_path.exists():
            return []
        rows = []
        for line in self.stats_path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                row = json.loads(line)
                if row["frame"] == len(rows) and self.frame_path(row["frame"]).exists():
                    rows.append(row)
        return rows

    @contextlib.contextmanager
    def encoding(self, size: tuple[int, int], fps: float) -> Iterator[None]:
        """H.264 (yuv420p, moviepy's ffmpeg writer) of every frame as it is saved or replayed, so encoding
        overlaps the network instead of following it; in pieces that start at cold frames (`video_pieces`). Each run encodes afresh: a resumed render replays the frames it finished before."""
        self._encoder = PieceEncoder(self.pieces, size, fps)
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
        with atomic_output(self.frame_path(i)) as tmp:
            if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
                raise write_failure(tmp)
        with self.stats_path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        self._encode(i, rgb, row)

    def replay(self, i: int, row: dict) -> np.ndarray:
        """A frame finished in an earlier run, passed to the encoder again."""
        rgb = self.load(i)
        self._encode(i, rgb, row)
        return rgb

    def _encode(self, i: int, rgb: np.ndarray, row: dict) -> None:
        if self._encoder is not None:
            self._encoder.write(rgb, i, bool(row.get("cold")))

    def load(self, i: int) -> np.ndarray:
        return cv2.cvtColor(cv2.imread(str(self.frame_path(i))), cv2.COLOR_BGR2RGB)
