"""The render: one film through a frame function and a soundtrack plan, locked, resumable, reported."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from mmdream.checks import film_lock, work_folder
from mmdream.errors import UserError
from mmdream.io_utils import describe_os_error, disk_full, exclusive
from mmdream.media.ffmpeg import MediaInfo
from mmdream.pipelines.film.encode import mux, write_contact_sheet
from mmdream.pipelines.film.frames import FrameFn, StopSignal, dream_frames, film_frames
from mmdream.pipelines.film.options import FilmOptions, check_film_input, film_fps
from mmdream.pipelines.film.soundtrack import SoundPlan, make_soundtrack, reactive_strength
from mmdream.pipelines.film.workfolder import WorkFolder


def dream_film(src: str, dst: str, frame_fn: FrameFn, sound: SoundPlan, opts: FilmOptions,
               fingerprint: dict, progress_bar: Callable | None = None,
               on_frame: Callable[[int, np.ndarray], None] | None = None) -> dict:
    """`mmdream video` and `mmdream style video`: every frame through `frame_fn`, the soundtrack made beside
    them, remuxed; returns the report's figures. One render at a time per output: the work folder is locked.
    `on_frame(index, rgb)` hears of each finished frame (a live preview); an exception it raises stops the
    render with the work folder kept, so the same render resumes."""
    with locked_render(dst):
        return _dream_film(src, dst, frame_fn, sound, opts, fingerprint, progress_bar, on_frame)


@contextlib.contextmanager
def locked_render(dst: str) -> Iterator[None]:
    """One render at a time per output (its work folder is locked); a render that fills the disk removes its work
    folder to free it, and says so in one line."""
    out = Path(dst)
    lock, busy = film_lock(out)
    with exclusive(lock, busy):
        try:
            yield
        except (OSError, RuntimeError) as e:
            work = work_folder(out)
            if disk_full(work) and work.exists():  # it holds the disk: free it, and say so
                shutil.rmtree(work, ignore_errors=True)
                reason = describe_os_error(e, work) or f"no space left on the disk of {work}"
                raise UserError(f"{reason}; removed the work folder to free the disk") from None
            raise
        finally:
            lock.unlink(missing_ok=True)


@dataclass
class FilmJob:
    """A render about to start: the input's streams, the options with the film's end filled in, its rate and
    frame count, the work folder, whether it has sound and the per-frame strength factor."""

    info: MediaInfo
    opts: FilmOptions
    fps: float
    expected: int
    work: WorkFolder
    with_sound: bool
    factor: np.ndarray


def start_film(src: str, dst: str, opts: FilmOptions, fingerprint: dict) -> FilmJob:
    """What one machine and a cluster both do before the first frame."""
    info = check_film_input(src, dst, opts)
    if info.duration and (opts.end is None or opts.end > info.duration):
        opts = replace(opts, end=info.duration)
    fps = film_fps(info, opts)
    expected = max(1, int(round(((opts.end or 0) - opts.start) * fps)))
    work = WorkFolder(Path(dst), fingerprint)
    with_sound = info.has_audio and opts.soundtrack != "none"
    factor = reactive_strength(src, info, opts, expected) if with_sound else np.ones(expected)
    return FilmJob(info, opts, fps, expected, work, with_sound, factor)


def film_soundtrack(src: str, job: FilmJob, sound: SoundPlan,
                    map_chunks: Callable | None = None) -> Callable[[StopSignal], dict] | None:
    """The film's soundtrack as `soundtrack_beside` makes it (None: the film has none)."""
    if not job.with_sound:
        return None
    return lambda stop: make_soundtrack(src, job.info, sound, job.opts, job.work, progress=stop,
                                        map_chunks=map_chunks)


@contextlib.contextmanager
def soundtrack_beside(make: Callable[[StopSignal], dict] | None, stop: StopSignal) -> Iterator[dict]:
    """`make(stop)` (a soundtrack, None: none) run in a thread while the block makes the frames; yields its
    figures (filled in once the block is done). An error in either stops the other (`stop` ends the soundtrack
    at its next step) and is raised here."""
    figures: dict = {}
    errors: list[BaseException] = []

    def soundtrack() -> None:
        try:
            figures.update(make(stop))
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            errors.append(e)

    worker = threading.Thread(target=soundtrack, name="mmdream-soundtrack") if make is not None else None
    if worker:
        worker.start()
    try:
        yield figures
    except BaseException:
        stop.set()  # a thread killed inside TensorFlow at exit aborts the process: stop it at its next step
        raise
    finally:
        if worker:
            worker.join()
    if errors:
        raise errors[0]


def _dream_film(src: str, dst: str, frame_fn: FrameFn, sound: SoundPlan, opts: FilmOptions,
                fingerprint: dict, progress_bar: Callable | None, on_frame: Callable | None) -> dict:
    t0 = time.perf_counter()
    job = start_film(src, dst, opts, fingerprint)
    info, opts, fps, expected, work = job.info, job.opts, job.fps, job.expected, job.work
    t_frames = time.perf_counter()
    with soundtrack_beside(film_soundtrack(src, job, sound), StopSignal()) as sound_figures:
        rows, thumbs, resumed = shown_frames(film_frames(src, info, opts), frame_fn, work, job.factor, expected,
                                             opts.preview, progress_bar, on_frame)
        t_pictures = time.perf_counter()
    if rows and "stages_s" in rows[-1]:  # the network's thread then waited for the soundtrack's dream to end
        rows[-1]["stages_s"]["waiting"] += time.perf_counter() - t_pictures
    if not rows:
        raise UserError(f"{src} decodes to no video frames between {opts.start:g} s and {opts.end:g} s")
    t_mux = time.perf_counter()
    mux(work.video_pieces(), fps, len(rows), work.audio if job.with_sound else None, Path(dst))
    if thumbs is not None:
        write_contact_sheet({i: v for i, v in thumbs.items() if v is not None}, opts.preview,
                            rows_of={r["frame"]: r for r in rows if r["frame"] in thumbs})
    t_end = time.perf_counter()
    figures = film_figures(rows, fps, info, opts, t_mux - t0, t_end - t0)
    # the render's whole time in three: before the first frame (probing, the work folder, the sound's strength), the
    # frames (to the last piece encoded and the soundtrack made), and joining the pieces and the sound
    figures["phases_s"] = {"start": t_frames - t0, "frames": t_mux - t_frames, "mux": t_end - t_mux}
    figures["soundtrack"] = sound_figures
    figures["resumed_frames"] = resumed  # finished by an earlier, interrupted run of the same job
    if not opts.keep_work:
        shutil.rmtree(work.root, ignore_errors=True)
    return figures


def shown_frames(source: tuple, frame_fn: FrameFn, work: WorkFolder, factor: np.ndarray, total: int,
                 preview: str | None, progress_bar: Callable | None, on_frame: Callable | None, flow: bool = True,
                 sheet_frames: int | None = None) -> tuple[list[dict], dict | None, int]:
    """`dream_frames` with what a user sees of it: the progress bar (resumed frames counted at once), each
    finished frame handed to `on_frame(index, rgb)`, and thumbnails of six frames spread over the first
    `sheet_frames` (all: None) for the contact sheet. Returns the rows, the thumbnails and the frames resumed."""
    shown = total if sheet_frames is None else sheet_frames
    thumbs = {int(i): None for i in np.linspace(0, shown - 1, min(6, shown)).round()} if preview else None
    resumed = len(work.finished())
    bar = progress_bar(total, "frames") if progress_bar else contextlib.nullcontext()
    with bar as b:
        if b is not None:
            b.update(resumed)

        def frame_done(i: int, rgb: np.ndarray, _row: dict) -> None:
            if b is not None:
                b.update(1)
            if on_frame is not None:
                on_frame(i, rgb)

        rows = dream_frames(source, frame_fn, work, factor, frame_done, thumbs, flow=flow)
    return rows, thumbs, resumed


def film_figures(rows: list[dict], fps: float, info: MediaInfo, opts: FilmOptions, frames_s: float,
                 total_s: float) -> dict:
    flick = [r["flicker"] for r in rows if r["flicker"] is not None]
    measured = {k: [r[k] for r in rows if k in r] for k in ("objective_gain", "style_loss", "content_loss")}
    means = {f"{k}_mean": float(np.mean(v)) for k, v in measured.items() if v}
    if measured["objective_gain"]:
        means["objective_gain_min"] = float(np.min(measured["objective_gain"]))
        means["objective_measured_frames"] = len(measured["objective_gain"])
    return {"frames": len(rows), "fps": fps, "duration_s": len(rows) / fps, "input_duration_s": info.duration,
            "options": asdict(opts), "cold_frames": sum(r["cold"] for r in rows), **means,
            "flicker_mean": float(np.mean(flick)) if flick else None,
            "frames_seconds": frames_s, "seconds": total_s, "frames_per_second": len(rows) / max(frames_s, 1e-9),
            **stage_figures(rows, frames_s), "per_frame": rows}


# Where a frame's time goes: the decoding thread's stages, the network's (the frame's carry, its dream, its making
# into the picture the film writes), the writer's, and what the network's thread waited for (the next frame, or the
# writer).
STAGES = ("decode", "flow", "carry", "dream", "to_picture", "encode", "waiting")
NETWORK = ("carry", "dream", "to_picture")  # the frame function's stages: on a GPU, the device's work and its queue


def stage_figures(rows: list[dict], frames_s: float) -> dict:
    """Per stage, the mean and 95th percentile milliseconds a frame spent in it (frames dreamed in this run), and
    the share of the render's time the network was busy (the frame function's stages: on a GPU, where the host
    queues the device's calls and waits for the picture, the device's share)."""
    timed = [r["stages_s"] for r in rows if "stages_s" in r]
    if not timed:
        return {}
    stages = {name: _mean_and_p95_ms(values) for name in STAGES if (values := [t[name] for t in timed if name in t])}
    dreaming = sum(t.get(name, 0.0) for t in timed for name in NETWORK)
    network_thread = dreaming + sum(t["waiting"] for t in timed)
    writer = [r["waited_for_the_writer_s"] for r in rows if "waited_for_the_writer_s" in r]
    # which side held the network's thread up: the frames to come (decoding, flow) or the writer (flicker, encoding)
    held = {"waiting_for_the_writer": _mean_and_p95_ms(writer)} if writer else {}
    return {"stages": stages, **held, "net_busy_share": dreaming / max(frames_s, 1e-9),
            "network_thread_seconds": network_thread}


def _mean_and_p95_ms(seconds: list[float]) -> dict[str, float]:
    return {"mean_ms": 1000 * float(np.mean(seconds)), "p95_ms": 1000 * float(np.percentile(seconds, 95))}
