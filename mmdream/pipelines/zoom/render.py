"""The zoom's render: the frame loop of the dream film (work folder, resume, encoding as frames finish) over a photo
that does not move on its own, the soundtrack made beside it, an optional seamless loop, muxed."""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from mmdream.media.ffmpeg import MediaInfo, even_size
from mmdream.media.picture import resize
from mmdream.pipelines.film.encode import PieceEncoder, mux, write_contact_sheet
from mmdream.pipelines.film.frames import FrameFn, StopSignal
from mmdream.pipelines.film.options import FILM_DEFAULTS, FilmOptions
from mmdream.pipelines.film.recipe import FilmRecipe
from mmdream.pipelines.film.render import locked_render, shown_frames, soundtrack_beside
from mmdream.pipelines.film.workfolder import WorkFolder
from mmdream.pipelines.zoom.frames import ZoomDreamer, ZoomOptions
from mmdream.pipelines.zoom.sound import looped_soundtrack, zoom_soundtrack
from mmdream.plan import giving_back

Soundtrack = Callable[[WorkFolder, float, StopSignal], dict]  # (work folder, seconds, stop) -> figures


def zoom_film(picture: np.ndarray, dst: str, opts: ZoomOptions, recipe: FilmRecipe, source: str | None,
              info: MediaInfo | None, grow: bool, inputs: dict, progress_bar: Callable | None = None,
              on_frame: Callable[[int, np.ndarray], None] | None = None) -> dict:
    """The zoom from checked inputs: `picture` (RGB) fitted to the film's size, dreamed by the recipe's net at its
    precision, with `source`'s soundtrack (`info`: its streams; grown block by block when generated or `grow`).
    `inputs` name the picture and the sound in the resume's fingerprint."""
    built = recipe.measured(with_sound=info is not None)
    width, height = even_size(picture.shape[1], picture.shape[0], opts.max_size)
    photo = resize(picture, (height, width))
    image = built.image(lend=True)  # an earlier render's dreamers, traced already, may serve (mmdream.plan)
    sound = built.sound(info, FilmOptions(soundtrack="dream"), lend=True) if info is not None else None
    frame_fn = ZoomDreamer(image, opts, photo)
    soundtrack = None if sound is None else zoom_soundtrack(source, info, sound, grow)
    given = {"net": recipe.net, "audio_net": recipe.audio_net, "audio_layers": recipe.audio_layers, "audio": source,
             "audio_ouroboros": grow, "threads": recipe.threads, **recipe.dream}
    fingerprint = {**inputs, **given,
                   "zoom": {k: v for k, v in asdict(opts).items() if k not in ("preview", "keep_work")},
                   "defaults": FILM_DEFAULTS.as_dict()}
    with giving_back(image.dreamer, sound and sound.audio and sound.audio.dreamer):
        return dream_zoom(photo, dst, frame_fn, soundtrack, opts, fingerprint, progress_bar, on_frame)


def dream_zoom(photo: np.ndarray, dst: str, frame_fn: FrameFn, soundtrack: Soundtrack | None, opts: ZoomOptions,
               fingerprint: dict, progress_bar: Callable | None = None,
               on_frame: Callable[[int, np.ndarray], None] | None = None) -> dict:
    """`mmdream zoom`: `photo` (RGB at the film's size, even sides) grown frame by frame by `frame_fn`, with
    `soundtrack(work, seconds, stop)` made beside it; returns the report's figures. Locked and resumable as a
    film's render; `on_frame(index, rgb)` as in dream_film."""
    with locked_render(dst):
        return _dream_zoom(photo, Path(dst), frame_fn, soundtrack, opts, fingerprint, progress_bar, on_frame)


def _dream_zoom(photo, dst: Path, frame_fn, soundtrack, opts: ZoomOptions, fingerprint, progress_bar, on_frame):
    t0 = time.perf_counter()
    film, extra = opts.frames(), opts.loop_frames()
    rendered = film + extra
    size = (photo.shape[1], photo.shape[0])
    work = WorkFolder(dst, fingerprint, keep_frames=extra > 0)  # a loop is encoded again from its frames
    make = None if soundtrack is None else lambda stop: soundtrack(work, rendered / opts.fps, stop)
    with soundtrack_beside(make, StopSignal()) as sound_figures:
        source = (itertools.repeat(photo, rendered), size, opts.fps)
        rows, thumbs, resumed = shown_frames(source, frame_fn, work, np.ones(rendered), rendered, opts.preview,
                                             progress_bar, on_frame, flow=False, sheet_frames=film)
    frames_s = time.perf_counter() - t0
    pieces, audio = work.video_pieces(), (work.audio if soundtrack is not None else None)
    if extra:
        pieces = looped_pieces(work, film, extra, size, opts.fps)
        if audio is not None:
            looped_soundtrack(str(work.audio), str(work.root / "soundtrack-loop.wav"), film / opts.fps,
                              extra / opts.fps)
            audio = work.root / "soundtrack-loop.wav"
    mux(pieces, opts.fps, film, audio, dst)
    if thumbs is not None:
        write_contact_sheet({i: v for i, v in thumbs.items() if v is not None}, opts.preview)
    figures = zoom_figures(rows, film, opts, frames_s, time.perf_counter() - t0)
    figures.update(soundtrack=sound_figures, resumed_frames=resumed)
    if not opts.keep_work:
        shutil.rmtree(work.root, ignore_errors=True)
    return figures


def looped_pieces(work: WorkFolder, film: int, extra: int, size: tuple[int, int], fps: float) -> list[Path]:
    """The film of a loop, encoded again from the finished frames: it starts `extra` frames in, and its last
    `extra` frames cross-fade from the frames rendered past its end into its first ones, so the last frame
    leads into the first as any frame into the next."""
    encoder = PieceEncoder(work.root / "loop", size, fps)
    try:
        for j in range(film):
            if j < film - extra:
                rgb = work.load(extra + j)
            else:
                k = j - (film - extra)
                w = (k + 1) / (extra + 1)
                rgb = ((1 - w) * work.load(film + k) + w * work.load(k) + 0.5).astype(np.uint8)
            encoder.write(rgb, j, j == 0)
    finally:
        encoder.close()
    return encoder.pieces()


def zoom_figures(rows: list[dict], film: int, opts: ZoomOptions, frames_s: float, total_s: float) -> dict:
    """The report: speed, the objective gain of the measured warm frames (over the dream's input, and over the
    moved previous frame), flicker, and saturation and detail energy over the first and the last 10 s."""
    warm = [r for r in rows if not r["cold"]]
    gains = [r["objective_gain"] for r in warm if "objective_gain" in r]
    moved = [r["objective_gain_vs_moved"] for r in warm if "objective_gain_vs_moved" in r]
    flick = [r["flicker"] for r in warm if r.get("flicker") is not None]
    span = max(1, min(len(rows) // 2, int(round(10 * opts.fps))))

    def window(rs: list[dict]) -> dict:
        return {k: float(np.mean([r[k] for r in rs])) for k in ("saturation", "detail_energy")}

    first, last = window(rows[:span]), window(rows[-span:])
    return {"frames": film, "rendered_frames": len(rows), "fps": opts.fps, "duration_s": film / opts.fps,
            "options": asdict(opts),
            "objective_gain_mean": float(np.mean(gains)) if gains else None,
            "objective_gain_min": float(np.min(gains)) if gains else None,
            "objective_gain_vs_moved_mean": float(np.mean(moved)) if moved else None,
            "objective_gain_vs_moved_min": float(np.min(moved)) if moved else None,
            "objective_measured_frames": len(gains), "first_frame_gain": rows[0].get("objective_gain"),
            "flicker_mean": float(np.mean(flick)) if flick else None,
            "stability": {"window_s": span / opts.fps, "first": first, "last": last,
                          "ratio": {k: last[k] / max(first[k], 1e-9) for k in first}},
            "frames_seconds": frames_s, "seconds": total_s,
            "frames_per_second": len(rows) / max(frames_s, 1e-9), "per_frame": rows}

