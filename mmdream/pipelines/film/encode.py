"""Encoding and muxing: H.264 as the frames are dreamed, the soundtrack added by a stream copy, the contact
sheet."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np

from mmdream.io_utils import atomic_output
from mmdream.media.ffmpeg import ffmpeg_exe


def open_encoder(path: Path, size: tuple[int, int], fps: float):
    """H.264 (yuv420p) through moviepy's ffmpeg writer (moviepy.video.io.ffmpeg_writer, its documented module):
    frames are written as they are dreamed."""
    from moviepy.video.io.ffmpeg_writer import FFMPEG_VideoWriter

    return FFMPEG_VideoWriter(str(path), size, fps, codec="libx264", preset="medium",
                              ffmpeg_params=["-pix_fmt", "yuv420p"])


def mux(video: Path, duration: float, audio_path: Path | None, dst: Path) -> None:
    """The encoded picture (copied, not encoded again) with the soundtrack as AAC, cut to the picture's length;
    both start at zero, so they stay in sync."""
    sound = ["-t", f"{duration:.6f}", "-i", str(audio_path)] if audio_path is not None else []
    with atomic_output(dst) as tmp:
        cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), *sound, "-map", "0:v:0",
               *(["-map", "1:a:0", "-c:a", "aac", "-b:a", "192k"] if sound else []), "-c:v", "copy", str(tmp)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"ffmpeg could not mux {dst}: {done.stderr.strip()[-500:]}")


def write_contact_sheet(thumbs: dict, path: str, width: int = 240) -> None:
    """Input frames on the top row, dreamed frames below."""
    pairs = [thumbs[i] for i in sorted(thumbs) if thumbs[i] is not None]
    if not pairs:
        return
    h, w = pairs[0][0].shape[:2]
    size = (width, max(2, round(h * width / w)))
    rows = [np.hstack([cv2.resize(p[k], size, interpolation=cv2.INTER_AREA) for p in pairs]) for k in (0, 1)]
    with atomic_output(Path(path)) as tmp:
        cv2.imwrite(str(tmp) if tmp.suffix else str(tmp) + ".png", cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
