"""What the studio shows besides the media themselves and a result's summary (mmdream.results): spectrograms, a
strip of the latest dreamed frames, a film's progress."""

from __future__ import annotations

import time

import cv2
import numpy as np

THUMB_WIDTH = 160


def thumbnail(rgb: np.ndarray, width: int = THUMB_WIDTH) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (width, max(2, round(h * width / w))), interpolation=cv2.INTER_AREA)


def sheet(thumbs: list[np.ndarray], per_row: int = 3) -> np.ndarray:
    """The latest dreamed frames in rows of `per_row`, oldest first (all thumbnails of one film share a size;
    a short last row is filled with black)."""
    blank = np.zeros_like(thumbs[0])
    rows = [thumbs[i:i + per_row] for i in range(0, len(thumbs), per_row)]
    return np.vstack([np.hstack(row + [blank] * (per_row - len(row))) for row in rows])


def spectrogram(path: str, duration: float | None = None, height: int = 160, width: int = 480,
                top_db: float = 90.0) -> np.ndarray:
    """The spectrogram `mmdream audio --plot` draws (the audio nets' own log-STFT, first 30 s) as an RGB picture
    in magma colours, low frequencies at the bottom."""
    from matplotlib import colormaps

    from mmdream.media.audio_source import load_whole
    from mmdream.pipelines.audio.spectrum import spectrogram_db

    x, sr = load_whole(path, end=min(30.0, duration or 30.0))
    db = spectrogram_db(x, sr)
    level = np.flipud(np.clip((db - (db.max() - top_db)) / top_db, 0.0, 1.0))
    rgb = (colormaps["magma"](level)[..., :3] * 255).astype(np.uint8)
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


class FrameRate:
    """Frames per second of a render as seen so far, counted from its first progress report (frames an earlier,
    interrupted render finished are not counted)."""

    def __init__(self) -> None:
        self.start: tuple[float, int] | None = None
        self.last: tuple[float, int] | None = None

    def add(self, done: int) -> None:
        now = (time.monotonic(), done)
        if self.start is None:
            self.start = now
        self.last = now

    def per_second(self) -> float | None:
        if self.start is None or self.last is None or self.last[1] <= self.start[1]:
            return None
        return (self.last[1] - self.start[1]) / max(self.last[0] - self.start[0], 1e-9)


def film_progress(done: int, total: int | None, rate: FrameRate, width: int = 20) -> str:
    """`▇▇▇▇▁▁▁ 41 / 96 frames dreamed · 3.2 frames/s · ETA 0:17`: the bar the page shows while a film renders."""
    if not total:
        return f"{done} / ? frames dreamed"
    filled = round(width * done / total)
    line = f"{'▇' * filled}{'▁' * (width - filled)} {done} / {total} frames dreamed"
    if (fps := rate.per_second()) is not None:
        left = round((total - done) / fps)
        line += f" · {fps:.1f} frames/s · ETA {left // 60}:{left % 60:02d}"
    return line
