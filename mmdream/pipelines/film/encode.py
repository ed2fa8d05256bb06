"""Encoding and muxing: H.264 as the frames are dreamed, in pieces that start where the dream starts afresh,
the soundtrack added by a stream copy, the contact sheet."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from mmdream.io_utils import atomic_output
from mmdream.media.ffmpeg import ffmpeg_exe

# x264's output depends on its thread count; a fixed count makes a piece the same bytes on every machine, so a film
# rendered across a cluster is the one-machine film (see mmdream.pipelines.film.cluster).
X264_THREADS = 4
# veryfast: 7 ms of CPU a frame at 540x360 against medium's 16.5 (and a smaller file at the same CRF on dreamed
# frames, measured here): the encoder shares the cores with the network, on a cluster with every worker's.
X264_PRESET = "veryfast"
# A piece also starts every second of film (by frame index, so the pieces are the same on every machine and in every
# run): a render resumes from the last piece start, with no frame kept as a picture (see WorkFolder).
PIECE_SECONDS = 1.0
# x264's B-frame pyramid (veryfast: 3 B-frames, pyramid on) has a decoder wait two frames: a piece of three frames or
# more starts its decode times two frames before its first picture, a shorter one (no B-frame) with none. Joined as
# they are, the decode times after a short piece step back, which ffmpeg and players read as a lower frame rate (26
# frames at 6 fps stated 5.57); a short piece is rewritten (its bytes copied) with the same wait.
DECODE_DELAY_FRAMES = 2


def finish_piece(encoder, path: Path, frames: int) -> None:
    """Close a piece's encoder, then give a piece of `frames` <= DECODE_DELAY_FRAMES the others' decode wait, so
    pieces join into a stream whose decode times rise a frame at a time."""
    encoder.close()
    if not 0 < frames <= DECODE_DELAY_FRAMES:
        return
    with atomic_output(path) as shifted:
        cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(path), "-map", "0", "-c", "copy",
               "-bsf:v", f"setts=dts=DTS-{DECODE_DELAY_FRAMES}*DURATION", str(shifted)]
        done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"ffmpeg could not rewrite {path}'s decode times: {done.stderr.strip()[-500:]}")


def open_encoder(path: Path, size: tuple[int, int], fps: float):
    """H.264 (yuv420p) through moviepy's ffmpeg writer (moviepy.video.io.ffmpeg_writer, its documented module):
    frames are written as they are dreamed."""
    from moviepy.video.io.ffmpeg_writer import FFMPEG_VideoWriter

    return FFMPEG_VideoWriter(str(path), size, fps, codec="libx264", preset=X264_PRESET, threads=X264_THREADS,
                              ffmpeg_params=["-pix_fmt", "yuv420p"])


class PieceEncoder:
    """H.264 in pieces, a new one at every frame the dream starts afresh (the first, and each scene cut) and every
    `PIECE_SECONDS` of film: a piece depends only on its own frames, so pieces encoded on different machines, or
    before and after an interrupt, join into the same stream.

    A finished piece is closed behind the film, on a thread of its own: x264 encodes the frames it still holds (its
    lookahead) while the next piece takes new ones, so the frame loop never waits a piece's tail out. One piece
    closes at a time; what is to follow its closing (a checkpoint that names it complete) runs after it."""

    def __init__(self, folder: Path, size: tuple[int, int], fps: float, keep_before: int = 0) -> None:
        """`keep_before`: pieces that start before this frame are kept (a resumed render's); later ones are
        encoded afresh."""
        self.folder, self.size, self.fps = folder, size, fps
        self.every = max(1, round(fps * PIECE_SECONDS))
        folder.mkdir(parents=True, exist_ok=True)
        for piece in folder.glob("*"):
            if not (piece.suffix == ".mp4" and piece.stem.isdigit() and int(piece.stem) < keep_before):
                piece.unlink()
        self.current, self.path, self.frames = None, None, 0  # the open piece's encoder, file and frames so far
        self._closer = ThreadPoolExecutor(1, thread_name_prefix="mmdream-piece")
        self._closing: Future | None = None

    def write(self, rgb, index: int, cold: bool, after_closing: Callable[[], None] | None = None) -> bool:
        """Encode frame `index` (of the film); True when it starts a new piece. `after_closing` runs once the
        piece before this one is complete on disk (only where this frame starts one)."""
        started = cold or self.current is None or index % self.every == 0
        if started:
            self._close_behind(after_closing)
            self.path, self.frames = self.folder / f"{index:07d}.mp4", 0
            self.current = open_encoder(self.path, self.size, self.fps)
        self.current.write_frame(np.ascontiguousarray(rgb))
        self.frames += 1
        return started

    def close(self) -> None:
        """Every piece complete on disk; an encoder's failure is raised here."""
        try:
            self._close_behind(None)
            self._wait()
        finally:
            self._closer.shutdown(wait=True)

    def _close_behind(self, then: Callable[[], None] | None) -> None:
        self._wait()  # the piece before closed first: its error surfaces, and two tails never pile up
        piece, self.current = self.current, None
        if piece is not None or then is not None:
            self._closing = self._closer.submit(_closed, piece, self.path, self.frames, then)

    def _wait(self) -> None:
        closing, self._closing = self._closing, None
        if closing is not None:
            closing.result()

    def pieces(self) -> list[Path]:
        return sorted(self.folder.glob("*.mp4"))


def _closed(piece, path: Path, frames: int, then: Callable[[], None] | None) -> None:
    if piece is not None:
        finish_piece(piece, path, frames)
    if then is not None:
        then()


def mux(pieces: list[Path], fps: float, frames: int, audio_path: Path | None, dst: Path) -> None:
    """The encoded pieces joined by ffmpeg's concat demuxer (copied, not encoded again) with the soundtrack as AAC,
    cut to the picture's length; both start at zero, so they stay in sync."""
    duration = frames / fps
    listing = dst.parent / f".{dst.name}.pieces.txt"
    quoted = (str(p.resolve()).replace("'", "'\\''") for p in pieces)  # the concat demuxer's quoting
    listing.write_text("".join(f"file '{q}'\n" for q in quoted))
    sound = ["-t", f"{duration:.6f}", "-i", str(audio_path)] if audio_path is not None else []
    try:
        with atomic_output(dst) as tmp:
            # -nofind_stream_info: the concat demuxer already read each piece's format from the piece, and decoding
            # the joined stream's first frames again to guess it costs a 1080p film a tenth of a second (same bytes)
            cmd = [ffmpeg_exe(), "-v", "error", "-y", "-nofind_stream_info", "-f", "concat", "-safe", "0",
                   "-i", str(listing), *sound,
                   "-map", "0:v:0", *(["-map", "1:a:0", "-c:a", "aac", "-b:a", "192k"] if sound else []),
                   "-c:v", "copy", str(tmp)]
            done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if done.returncode != 0:
                raise RuntimeError(f"ffmpeg could not mux {dst}: {done.stderr.strip()[-500:]}")
    finally:
        listing.unlink(missing_ok=True)


def write_contact_sheet(thumbs: dict, path: str, width: int = 240, rows_of: dict | None = None) -> None:
    """Input frames on the top row, dreamed frames below; where a frame followed what the sound holds (its row in
    `rows_of`), a caption under it says what and how hard."""
    frames = [i for i in sorted(thumbs) if thumbs[i] is not None]
    pairs = [thumbs[i] for i in frames]
    if not pairs:
        return
    h, w = pairs[0][0].shape[:2]
    size = (width, max(2, round(h * width / w)))
    rows = [np.hstack([cv2.resize(p[k], size, interpolation=cv2.INTER_AREA) for p in pairs]) for k in (0, 1)]
    captions = [_caption((rows_of or {}).get(i, {})) for i in frames]
    if any(captions):
        rows.append(np.hstack([caption_strip(text, width) for text in captions]))
    with atomic_output(Path(path)) as tmp:
        cv2.imwrite(str(tmp) if tmp.suffix else str(tmp) + ".png", cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


def _caption(row: dict) -> str:
    return f"{row['time']:.1f} s: {row['follows']} x{row['follow']:.2f}" if row.get("follows") else ""


def caption_strip(text: str, width: int, height: int = 22) -> np.ndarray:
    strip = np.zeros((height, width, 3), np.uint8)
    cv2.putText(strip, text[:34], (4, height - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return strip
