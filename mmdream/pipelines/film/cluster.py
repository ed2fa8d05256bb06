"""A dream film rendered across a Ray cluster, the same film a one-machine render makes.

The head decodes the film once, finds its scene cuts with the renderer's own rule and writes each segment's
frames losslessly (mmdream.pipelines.film.segments); every segment is a Ray task that rebuilds the film's
frame function from its recipe (once per worker process), renders its frames with their film-wide indices
(schedule, seeds and strength follow them) and encodes them in pieces that start at cold frames, as the
one-machine render does. The head joins the pieces by stream copy and muxes the soundtrack, whose chunks are
dreamed as tasks too, with the one-machine chunk boundaries.

Identical: a segment starts at a cut, where a one-machine render also starts cold, and x264 runs with a fixed
thread count; the nets run with the same intra-op thread count (`threads`) and precision (resolved on the
head). A stretch without cuts longer than `max_segment` is split anyway: there the film differs from the
one-machine film, the segment starts with a warm-up and the seam is cross-faded; its flicker is reported.

Resumable: finished segments are kept in the work folder and never rendered again. Fault-tolerant: a task whose
worker dies is retried by Ray (`max_retries`), and the film is still complete and identical.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from mmdream.checks import ClusterOptions
from mmdream.errors import UserError
from mmdream.media.flow import FlowEstimator, flicker
from mmdream.pipelines.film.encode import PieceEncoder, mux, open_encoder
from mmdream.pipelines.film.frames import StopSignal, background, dream_frames, film_frames
from mmdream.pipelines.film.options import FilmOptions
from mmdream.pipelines.film.recipe import FilmRecipe
from mmdream.pipelines.film.render import (
    film_figures,
    film_soundtrack,
    locked_render,
    soundtrack_beside,
    start_film,
)
from mmdream.pipelines.film.segments import Segment, read_lossless, split_film
from mmdream.pipelines.film.soundtrack import SoundPlan

RETRIES = 3  # a task whose worker process dies is run again this many times


@contextlib.contextmanager
def connected(cluster: ClusterOptions) -> Iterator[None]:
    """Ray joined (an address, or "auto": RAY_ADDRESS or a running local cluster, else a new one) or started
    here with `workers` workers; shut down again if this render started it."""
    import ray

    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    if ray.is_initialized():
        yield
        return
    if cluster.workers is not None:
        ray.init(num_cpus=cluster.workers * cluster.threads, **quiet)
    elif cluster.address == "auto" and not os.environ.get("RAY_ADDRESS"):
        try:
            ray.init(address="auto", **quiet)
        except ConnectionError:
            ray.init(**quiet)  # no cluster running: one on this machine
    else:
        try:
            ray.init(address=cluster.address, **quiet)
        except ConnectionError as e:
            raise UserError(f"cannot reach the Ray cluster at {cluster.address}: {str(e).splitlines()[0]}") from None
    try:
        yield
    finally:
        ray.shutdown()


# --- in the workers ------------------------------------------------------------------------------------------

_BUILT: dict[tuple[str, str], object] = {}  # per worker process: (the film's key, part) -> what was built


def _built(recipe: FilmRecipe, info, opts: FilmOptions, part: str):
    """The film's frame function (`part` "frames") or SoundPlan ("sound"), built once per worker process, each only
    where a task needs it: a segment task never loads the sound net, a soundtrack chunk never the image net."""
    key = (recipe.key() + repr(opts), part)
    if key not in _BUILT:
        if recipe.threads is not None:
            from mmdream.nets.keras_base import use_threads

            use_threads(recipe.threads)
        for old in [k for k in _BUILT if k[0] != key[0]]:  # another film's: let it go
            del _BUILT[old]
        _BUILT[key] = (recipe.frame_function(recipe.image(), info, opts) if part == "frames"
                       else recipe.sound(info, opts))
    return _BUILT[key]


def _worker() -> dict:
    import ray

    return {"host": socket.gethostname(), "pid": os.getpid(), "node": ray.get_runtime_context().get_node_id()}


class SegmentSink:
    """What a segment task keeps of the frames it renders: its rows, its kept frames encoded in pieces (new pieces
    where the work folder starts them), and the raw frames a seam's cross-fade needs."""

    def __init__(self, folder: Path, seg: Segment) -> None:
        self.folder, self.seg = folder, seg
        self.rows: list[dict] = []
        self.head: list[np.ndarray] = []  # kept frames [first, first + fade_in]
        self.tail: list[np.ndarray] = []  # frames [end - 1, end + tail)
        self.encoder: PieceEncoder | None = None

    def finished(self) -> list[dict]:
        return []

    def resume(self, _rows: list[dict]) -> None:
        return None  # a segment task starts from its first frame

    @contextlib.contextmanager
    def encoding(self, size: tuple[int, int], fps: float, resume_at: int = 0) -> Iterator[None]:
        self.encoder = PieceEncoder(self.folder / "pieces", size, fps)
        try:
            yield
        finally:
            self.encoder.close()

    def save(self, i: int, rgb: np.ndarray, row: dict) -> None:
        seg, at = self.seg, self.seg.file_first + i
        if seg.tail and seg.end - 1 <= at:
            self.tail.append(rgb)
        if at < seg.first or at >= seg.end:  # a warm-up or a tail frame: not kept
            return
        self.rows.append(row)
        if seg.fade_in and at <= seg.first + seg.fade_in:
            self.head.append(rgb)
        if at >= seg.first + seg.fade_in:  # a cross-faded frame is encoded by the head
            self.encoder.write(rgb, at, bool(row.get("cold")))

    def pieces(self) -> list[tuple[str, bytes]]:
        return [(p.name, p.read_bytes()) for p in self.encoder.pieces()]


def render_segment(recipe: FilmRecipe, info, opts: FilmOptions, size: tuple[int, int], fps: float, seg: Segment,
                   data: bytes, factor: np.ndarray, progress) -> dict:
    """A Ray task: one segment's frames, from its lossless input, through the film's frame function."""
    t0 = time.perf_counter()
    frame_fn = _built(recipe, info, opts, "frames")
    done, last = 0, time.monotonic()

    def tell(_i: int, _rgb: np.ndarray, _row: dict) -> None:
        nonlocal done, last
        done += 1
        if time.monotonic() - last > 0.5 or done == seg.warmup + seg.frames + seg.tail:
            last = time.monotonic()
            with contextlib.suppress(Exception):  # progress is a courtesy
                progress.put_nowait((seg.index, max(0, min(done - seg.warmup, seg.frames))))

    with tempfile.TemporaryDirectory(prefix="mmdream-segment-") as tmp:
        source = Path(tmp) / "input.mkv"
        source.write_bytes(data)
        sink = SegmentSink(Path(tmp), seg)
        dream_frames((read_lossless(source, size), size, fps), frame_fn, sink, factor, tell,
                     offset=seg.file_first)
        return {"rows": sink.rows, "pieces": sink.pieces(), "head": np.stack(sink.head) if sink.head else None,
                "tail": np.stack(sink.tail) if sink.tail else None, "worker": _worker(),
                "seconds": time.perf_counter() - t0}


def dream_sound_chunk(recipe: FilmRecipe, info, opts: FilmOptions, k: int, chunk: np.ndarray, sr: int,
                      start: float) -> np.ndarray:
    """A Ray task: chunk `k` of the soundtrack, dreamed as `mmdream.pipelines.audio.stream.dream_chunk` does here."""
    from mmdream.pipelines.audio.stream import dream_chunk

    sound = _built(recipe, info, opts, "sound")
    return dream_chunk(sound.audio.dreamer, sound.audio.plan, k, chunk, sr, start, opts.griffin_lim)


# --- on the head ---------------------------------------------------------------------------------------------

def dream_film_on_cluster(src: str, dst: str, recipe: FilmRecipe, sound: SoundPlan, opts: FilmOptions,
                          fingerprint: dict, cluster: ClusterOptions, progress_bar: Callable | None = None) -> dict:
    """`mmdream video --ray/--workers`: the film as tasks on a Ray cluster; returns the report's figures."""
    import cv2

    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # the pre-pass's flow shares the head's cores with the workers: no threads spinning
    with locked_render(dst), connected(cluster):
        try:
            return _on_cluster(src, dst, recipe, sound, opts, fingerprint, cluster, progress_bar)
        finally:
            cv2.setNumThreads(cv_threads)


def _on_cluster(src: str, dst: str, recipe: FilmRecipe, sound: SoundPlan, opts: FilmOptions, fingerprint: dict,
                cluster: ClusterOptions, progress_bar: Callable | None) -> dict:
    import ray
    from ray.util.queue import Queue

    t0 = time.perf_counter()
    job = start_film(src, dst, opts, fingerprint)
    info, opts, fps, expected, work = job.info, job.opts, job.fps, job.expected, job.work
    out = Path(dst)
    folder = work.root / "segments"
    folder.mkdir(exist_ok=True)
    frames, size, _ = film_frames(src, info, opts)
    ask = {"num_cpus": cluster.threads, "num_gpus": cluster.gpus_per_task, "max_retries": RETRIES}
    shared = [ray.put(recipe), ray.put(info), ray.put(opts)]
    factor_ref = ray.put(job.factor)
    progress = Queue(actor_options={"num_cpus": 0})
    task = ray.remote(render_segment).options(**ask)
    slots = _slots(cluster)
    finished = _finished(folder)
    counts = {k: r["frames"] for k, r in finished.items()}

    stop = StopSignal()
    chunk_task = ray.remote(dream_sound_chunk).options(**ask)

    def map_chunks(_process, chunks):
        """The soundtrack's chunks as tasks, a few ahead, their results in order."""
        window: deque = deque()
        for k, chunk in chunks:
            stop.update()  # a stopped render stops sending chunks
            window.append(chunk_task.remote(*shared, k, chunk, info.audio_rate, opts.start))
            if len(window) > 2 * slots:
                yield _result(window.popleft())
        while window:
            yield _result(window.popleft())

    segments: dict[int, Segment] = {}
    pending: dict = {}
    bar = progress_bar(expected, "frames") if progress_bar else contextlib.nullcontext()
    with soundtrack_beside(film_soundtrack(src, job, sound, map_chunks), stop) as sound_figures:
        with bar as b:
            shown = 0

            def update() -> None:
                nonlocal shown
                while not progress.empty():
                    k, n = progress.get_nowait()
                    counts[k] = max(counts.get(k, 0), n)
                total = sum(counts.values())
                if b is not None and total > shown:
                    b.update(total - shown)
                    shown = total

            def collect(timeout: float) -> None:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=timeout)
                for ref in ready:
                    seg = pending.pop(ref)
                    finished[seg.index] = _keep(folder, seg, _result(ref))
                    counts[seg.index] = seg.frames
                update()

            # The pre-pass runs ahead in a thread; of the segments it has written, the longest goes first, so the
            # film does not end on one worker finishing a long segment while the others wait.
            with contextlib.closing(background(split_film(frames, size, fps, opts, cluster.max_segment, folder,
                                                          skip=set(finished)), 4 * slots)) as ahead:
                waiting: list[Segment] = []
                planned = False
                while not planned or waiting or pending:
                    news, planned = ahead.poll()
                    for seg in news:
                        segments[seg.index] = seg
                        if seg.index not in finished:
                            waiting.append(seg)
                    while waiting and len(pending) <= slots:  # one queued beyond: no worker waits for the head
                        seg = max(waiting, key=lambda s: s.warmup + s.frames + s.tail)
                        waiting.remove(seg)
                        data = ray.put((folder / f"{seg.index:04d}.in.mkv").read_bytes())
                        pending[task.remote(*shared, size, fps, seg, data, factor_ref, progress)] = seg
                    if pending:
                        collect(0.2)
                    else:
                        time.sleep(0.05)
    if not segments:
        raise UserError(f"{src} decodes to no video frames between {opts.start:g} s and {opts.end:g} s")
    pieces, rows, seams = _joined(folder, segments, finished, size, fps)
    frames_s = time.perf_counter() - t0
    mux(pieces, fps, len(rows), work.audio if job.with_sound else None, out)
    figures = film_figures(rows, fps, info, opts, frames_s, time.perf_counter() - t0)
    flick = [r["flicker"] for r in rows if r["flicker"] is not None]
    figures.update(soundtrack=sound_figures, resumed_segments=sum(r.get("resumed", False) for r in finished.values()),
                   cluster={"workers": cluster.workers, "address": cluster.address, "threads": cluster.threads,
                            "max_segment": cluster.max_segment, "gpus_per_task": cluster.gpus_per_task,
                            "nodes": len(ray.nodes())},
                   segments=[{**segments[k].as_dict(), **{key: finished[k][key] for key in
                                                         ("seconds", "worker", "resumed")}}
                             for k in sorted(segments)],
                   seams=seams, flicker_median=float(np.median(flick)) if flick else None)
    if not opts.keep_work:
        shutil.rmtree(work.root, ignore_errors=True)
    return figures


def _result(ref):
    """A task's result; a task's own one-line error (a bad input, a full disk) is raised as itself."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, UserError):
            raise e.cause from None
        raise


def _slots(cluster: ClusterOptions) -> int:
    import ray

    cpus = ray.cluster_resources().get("CPU", 1)
    return max(1, int(cpus // cluster.threads))


def _finished(folder: Path) -> dict[int, dict]:
    """Segments finished by an earlier run of the same render (a `.json` is written last)."""
    done = {}
    for path in folder.glob("*.json"):
        record = json.loads(path.read_text())
        done[record["index"]] = {**record, "resumed": True}
    return done


def _keep(folder: Path, seg: Segment, result: dict) -> dict:
    """A finished segment into the work folder: its pieces, its cross-fade frames, then its record."""
    pieces = folder / f"{seg.index:04d}"
    shutil.rmtree(pieces, ignore_errors=True)
    pieces.mkdir()
    for name, data in result["pieces"]:
        (pieces / name).write_bytes(data)
    edges = {k: result[k] for k in ("head", "tail") if result[k] is not None}
    if edges:
        np.savez(folder / f"{seg.index:04d}.edges.npz", **edges)
    record = {"index": seg.index, "segment": seg.as_dict(), "rows": result["rows"], "frames": seg.frames,
              "seconds": round(result["seconds"], 3), "worker": result["worker"], "resumed": False}
    tmp = folder / f".{seg.index:04d}.json"
    tmp.write_text(json.dumps(record))
    tmp.rename(folder / f"{seg.index:04d}.json")
    (folder / f"{seg.index:04d}.in.mkv").unlink(missing_ok=True)
    return record


def _joined(folder: Path, segments: dict[int, Segment], finished: dict[int, dict], size: tuple[int, int],
            fps: float) -> tuple[list[Path], list[dict], list[dict]]:
    """The film's pieces in order (cross-fades encoded here), its rows, and each forced seam's figures."""
    pieces: list[Path] = []
    rows: list[dict] = []
    seams = []
    for k in sorted(segments):
        seg, seg_rows = segments[k], [dict(r) for r in finished[k]["rows"]]
        if seg.fade_in:
            blend, flick = _cross_fade(folder, segments[k - 1], seg, seg_rows, size, fps)
            pieces.append(blend)
            seams.append({"frame": seg.first, "fade_frames": seg.fade_in, "warmup_frames": seg.warmup,
                          "flicker_max": max(flick), "flicker": flick})
        pieces += sorted((folder / f"{k:04d}").glob("*.mp4"))
        rows += seg_rows
    return pieces, rows, seams


def _cross_fade(folder: Path, before: Segment, seg: Segment, seg_rows: list[dict], size: tuple[int, int],
                fps: float) -> tuple[Path, list[float]]:
    """The frames where `before` hands over to `seg`: before's own dream fading into seg's over `fade_in` frames,
    encoded as a piece of its own; the flicker of every frame the seam touches replaces the task's figure."""
    tail = np.load(folder / f"{before.index:04d}.edges.npz")["tail"]  # outputs [end - 1, end + tail)
    head = np.load(folder / f"{seg.index:04d}.edges.npz")["head"]  # outputs [first, first + fade_in]
    inputs = np.load(folder / f"{seg.index:04d}.seam.npy")  # inputs [first - 1, ...]
    n = seg.fade_in
    alpha = (np.arange(1, n + 1) / (n + 1))[:, None, None, None]
    faded = np.clip(np.rint((1 - alpha) * tail[1:n + 1] + alpha * head[:n]), 0, 255).astype(np.uint8)
    path = folder / f"{seg.index:04d}.fade.mp4"
    encoder = open_encoder(path, size, fps)
    for frame in faded:
        encoder.write_frame(np.ascontiguousarray(frame))
    encoder.close()
    shown = [tail[0], *faded, *head[n:n + 1]]  # what the film shows from frame first - 1 on
    flow, flick = FlowEstimator(), []
    for j in range(1, min(len(shown), len(inputs))):
        value = flicker(shown[j - 1], shown[j], flow.motion(inputs[j - 1], inputs[j]))
        seg_rows[j - 1]["flicker"] = value
        seg_rows[j - 1]["seam"] = True
        flick.append(value)
    return path, flick


def segment_report(figures: dict) -> str:
    """One line per segment for the terminal: where it ran and how fast."""
    lines = []
    for s in figures.get("segments", []):
        rate = s["end"] - s["first"]
        lines.append(f"  segment {s['index']}: frames {s['first']}-{s['end'] - 1} on {s['worker']['host']} "
                     f"pid {s['worker']['pid']}, {s['seconds']:.1f} s ({rate / max(s['seconds'], 1e-9):.2f} frames/s)")
    return "\n".join(lines)


