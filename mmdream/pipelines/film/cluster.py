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

The nodes share nothing but Ray: what a task reads from the head's disk (the recipe's files, the nets' weight
files) travels in a parcel (mmdream.pipelines.film.parcel), and every result comes back as a task's return value.

Resumable: finished segments are kept in the work folder and never rendered again. Fault-tolerant: a task whose
worker or whole node dies is retried by Ray (`max_retries`), the film is still complete and identical, and the
report names the lost node and the segments done again (Attempts).
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
from mmdream.core.backend import onednn_isa_cap
from mmdream.errors import UserError
from mmdream.media.flow import FlowEstimator, flicker
from mmdream.pipelines.film.encode import PieceEncoder, finish_piece, mux, open_encoder, write_contact_sheet
from mmdream.pipelines.film.frames import StopSignal, background, dream_frames, film_frames
from mmdream.pipelines.film.options import FilmOptions
from mmdream.pipelines.film.parcel import Parcel, pack, unpack
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
    # "local": a new Ray here. Without an address Ray would take RAY_ADDRESS or the address a `ray start` left in its
    # temporary folder, which outlives a killed cluster, and refuse the worker count for it.
    if cluster.workers is not None:
        ray.init(address="local", num_cpus=cluster.workers * cluster.threads, **quiet)
    elif cluster.address == "auto" and not os.environ.get("RAY_ADDRESS"):
        address = answering_cluster()
        try:
            ray.init(address=address or "local", **quiet)  # no cluster answers: one on this machine
        except ConnectionError:
            ray.init(address="local", **quiet)
    else:
        try:
            ray.init(address=cluster.address, **quiet)
        except ConnectionError as e:
            hint = "" if os.environ.get("RAY_AUTH_MODE") == "token" else \
                " (a cluster with token authentication needs RAY_AUTH_MODE=token and its RAY_AUTH_TOKEN here too)"
            raise UserError(f"cannot reach the Ray cluster at {cluster.address}: {str(e).splitlines()[0]}{hint}") \
                from None
    try:
        yield
    finally:
        ray.shutdown()


def answering_cluster(seconds: float = 3.0) -> str | None:
    """The address `ray.init(address="auto")` would take (a `ray start`'s address in Ray's temporary folder, or a
    running cluster's), where something answers there within `seconds`; else None. A killed `ray start` leaves its
    address behind, and Ray, given "auto", waits on it for minutes."""
    from ray._private.services import canonicalize_bootstrap_address  # how ray.init itself reads "auto"

    try:
        address = canonicalize_bootstrap_address("auto")
    except ConnectionError:  # none known
        return None
    if address is None:
        return None
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=seconds):
            return address
    except OSError:
        return None


# --- in the workers ------------------------------------------------------------------------------------------

_BUILT: dict[tuple[str, str], object] = {}  # per worker process: (the film's key, part) -> what was built


def _built(parcel: Parcel, info, opts: FilmOptions, part: str):
    """The film's frame function (`part` "frames") or SoundPlan ("sound"), built once per worker process, each only
    where a task needs it: a segment task never loads the sound net, a soundtrack chunk never the image net. The
    parcel's files are unpacked on this node first (mmdream.pipelines.film.parcel)."""
    key = (parcel.key() + repr(opts), part)
    if key not in _BUILT:
        recipe = unpack(parcel)
        if recipe.threads is not None:
            from mmdream.core.backend import use_threads

            use_threads(recipe.threads)
        for old in [k for k in _BUILT if k[0] != key[0]]:  # another film's: let it go
            del _BUILT[old]
        _BUILT[key] = (recipe.frame_function(recipe.image(), info, opts) if part == "frames"
                       else recipe.sound(info, opts))
    return _BUILT[key]


def _worker() -> dict:
    import ray

    return {"host": socket.gethostname(), "pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(),
            "isa": instruction_set()}


def instruction_set() -> str:
    """The widest vector instructions oneDNN may use here (its kernels, and so a net's last bits, follow them):
    the CPU's best of AVX-512 BF16, AVX-512 and AVX2, or ONEDNN_MAX_CPU_ISA where set."""
    if capped := onednn_isa_cap():
        return capped.lower()
    try:
        flags = next((ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")), "")
    except OSError:
        return "unknown"
    have = set(flags.split())
    return next((isa for isa in ("avx512_bf16", "avx512f", "avx2") if isa in have), "other")


class SegmentSink:
    """What a segment task keeps of the frames it renders: its rows, its kept frames encoded in pieces (new pieces
    where the work folder starts them), the raw frames a seam's cross-fade needs, and the contact sheet's."""

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

    def keep_thumb(self, _i: int, _rgb: np.ndarray) -> None:
        return None  # the contact sheet's frames go back to the head with the result

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


class Messages:
    """A task's word to the head through the progress queue: it started here, how many of its frames are done
    and (where the head shows them) its latest frame, at most every `every` seconds. Progress is a courtesy: a
    message that cannot be sent is dropped.

    A message is sent to the queue's actor without waiting for it: a task blocked in `ray.get` lends its CPU back
    to Ray, which then starts a queued task beside it on a fresh worker process (the cores oversubscribed, a net
    built again). A node lost in the instant a start message leaves takes it along: the segment is rendered again
    all the same, but the report's attempts miss that try."""

    def __init__(self, queue, seg: Segment, frames: bool, every: float = 0.5) -> None:
        self.queue, self.seg, self.frames, self.every = queue, seg, frames, every
        self.done, self.last = 0, time.monotonic()
        self._send(("start", seg.index, _worker()))

    def _send(self, message: tuple) -> None:
        with contextlib.suppress(Exception):
            self.queue.actor.put_nowait.remote(message)

    def frame_done(self, i: int, rgb: np.ndarray, _row: dict) -> None:
        seg = self.seg
        self.done += 1
        at = seg.file_first + i
        if time.monotonic() - self.last > self.every or self.done == seg.warmup + seg.frames + seg.tail:
            self.last = time.monotonic()
            shown = (at, rgb) if self.frames and seg.first <= at < seg.end else None
            self._send(("frames", seg.index, max(0, min(self.done - seg.warmup, seg.frames)), shown))


def render_segment(parcel: Parcel, info, opts: FilmOptions, size: tuple[int, int], fps: float, seg: Segment,
                   data: bytes, factor: np.ndarray, progress, sheet: list[int], frames: bool) -> dict:
    """A Ray task: one segment's frames, from its lossless input, through the film's frame function. `sheet`: the
    film's frames for the contact sheet (those in this segment come back as (input, dream)); `frames`: send the
    head a frame now and then (its on_frame)."""
    t0 = time.perf_counter()
    messages = Messages(progress, seg, frames)
    frame_fn = _built(parcel, info, opts, "frames")
    thumbs = {at - seg.file_first: None for at in sheet if seg.first <= at < seg.end}
    with tempfile.TemporaryDirectory(prefix="mmdream-segment-") as tmp:
        source = Path(tmp) / "input.mkv"
        source.write_bytes(data)
        sink = SegmentSink(Path(tmp), seg)
        dream_frames((read_lossless(source, size), size, fps), frame_fn, sink, factor, messages.frame_done,
                     thumbs=thumbs, offset=seg.file_first)
        return {"rows": sink.rows, "pieces": sink.pieces(), "head": np.stack(sink.head) if sink.head else None,
                "tail": np.stack(sink.tail) if sink.tail else None, "worker": _worker(),
                "thumbs": {seg.file_first + i: pair for i, pair in thumbs.items() if pair is not None},
                "seconds": time.perf_counter() - t0}


def dream_sound_chunk(parcel: Parcel, info, opts: FilmOptions, k: int, chunk: np.ndarray, sr: int,
                      start: float) -> np.ndarray:
    """A Ray task: chunk `k` of the soundtrack, dreamed as `mmdream.pipelines.audio.stream.dream_chunk` does here."""
    from mmdream.pipelines.audio.stream import dream_chunk

    sound = _built(parcel, info, opts, "sound")
    return dream_chunk(sound.audio.dreamer, sound.audio.plan, k, chunk, sr, start, opts.griffin_lim)


# --- on the head ---------------------------------------------------------------------------------------------

def dream_film_on_cluster(src: str, dst: str, recipe: FilmRecipe, sound: SoundPlan, opts: FilmOptions,
                          fingerprint: dict, cluster: ClusterOptions, progress_bar: Callable | None = None,
                          on_frame: Callable[[int, np.ndarray], None] | None = None) -> dict:
    """`mmdream video --ray/--workers`: the film as tasks on a Ray cluster; returns the report's figures.
    `on_frame(index, rgb)` hears of a frame of each running segment about every half second (not of every frame,
    which stay on the nodes); an exception it raises stops the render with the finished segments kept."""
    import cv2

    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # the pre-pass's flow shares the head's cores with the workers: no threads spinning
    with locked_render(dst), connected(cluster):
        try:
            return _on_cluster(src, dst, recipe, sound, opts, fingerprint, cluster, progress_bar, on_frame)
        finally:
            cv2.setNumThreads(cv_threads)


class Attempts:
    """Where each segment was started (a retried segment: more than once), and the nodes that were in the cluster,
    so the report can name a node lost mid-film and the segments it cost."""

    def __init__(self) -> None:
        import ray

        self.starts: dict[int, list[dict]] = {}
        self.nodes = {n["NodeID"]: n for n in ray.nodes() if n["Alive"]}

    def started(self, k: int, worker: dict) -> None:
        self.starts.setdefault(k, []).append(worker)

    def figures(self) -> dict:
        """The report's `lost_nodes` (a node the cluster has marked dead, or whose raylet no longer answers: Ray's
        health check takes half a minute to mark a killed node dead, its tasks are retried at once),
        `retried_segments` and the count of nodes that took part."""
        import ray

        now = {n["NodeID"]: n for n in ray.nodes()}
        self.nodes.update({k: n for k, n in now.items() if n["Alive"]})
        named = {k: {"node": k, "address": f"{n.get('NodeManagerAddress')}:{n.get('NodeManagerPort')}",
                     "resources": n.get("Resources", {})} for k, n in self.nodes.items()}
        lost = [{**named[k], "why": why} for k, n in self.nodes.items() if (why := _gone(now.get(k, n)))]
        return {"lost_nodes": lost, "retried_segments": sorted(k for k, ws in self.starts.items() if len(ws) > 1),
                "nodes": list(named.values())}


def _gone(node: dict) -> str | None:
    """Why a node is lost (None: it is not)."""
    if not node.get("Alive", False):
        return node.get("DeathReasonMessage") or "marked dead by the cluster"
    try:
        with socket.create_connection((node["NodeManagerAddress"], node["NodeManagerPort"]), timeout=2):
            return None
    except OSError as e:
        return f"its raylet does not answer ({e.strerror or e})"


def _on_cluster(src: str, dst: str, recipe: FilmRecipe, sound: SoundPlan, opts: FilmOptions, fingerprint: dict,
                cluster: ClusterOptions, progress_bar: Callable | None, on_frame: Callable | None) -> dict:
    import ray
    from ray.util.queue import Queue
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    t0 = time.perf_counter()
    job = start_film(src, dst, opts, fingerprint)
    info, opts, fps, expected, work = job.info, job.opts, job.fps, job.expected, job.work
    out = Path(dst)
    folder = work.root / "segments"
    folder.mkdir(exist_ok=True)
    frames, size, _ = film_frames(src, info, opts)
    ask = {"num_cpus": cluster.threads, "num_gpus": cluster.gpus_per_task, "resources": cluster.resources,
           "max_retries": RETRIES}
    shared = [ray.put(pack(recipe)), ray.put(info), ray.put(opts)]
    factor_ref = ray.put(job.factor)
    sheet = [int(i) for i in np.linspace(0, expected - 1, min(6, expected)).round()] if opts.preview else []
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    progress = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": here})  # lives as long as the head
    task = ray.remote(render_segment).options(**ask)
    slots = Slots(cluster)
    attempts = Attempts()
    finished = _finished(folder)
    counts = {k: r["frames"] for k, r in finished.items()}

    stop = StopSignal()
    chunk_task = ray.remote(dream_sound_chunk).options(**ask)

    def map_chunks(_process, chunks):
        """The soundtrack's chunks as tasks, a few ahead, their results in order."""
        window: deque = deque()
        for k, chunk in chunks:
            stop.update()  # a stopped render stops sending chunks
            window.append((chunk_task.remote(*shared, k, chunk, info.audio_rate, opts.start), f"soundtrack chunk {k}"))
            if len(window) > 2 * slots.now():
                yield _result(*window.popleft())
        while window:
            yield _result(*window.popleft())

    segments: dict[int, Segment] = {}
    pending: dict = {}
    bar = progress_bar(expected, "frames") if progress_bar else contextlib.nullcontext()
    with soundtrack_beside(film_soundtrack(src, job, sound, map_chunks), stop) as sound_figures:
        with bar as b:
            shown = 0

            def update() -> None:
                """The tasks' messages: the bar moved, then the frames shown (whose on_frame may stop the render)."""
                nonlocal shown
                frames = []
                while not progress.empty():
                    message = progress.get_nowait()
                    if message[0] == "start":
                        attempts.started(message[1], message[2])
                        continue
                    _, k, n, frame = message
                    counts[k] = max(counts.get(k, 0), n)
                    if frame is not None:
                        frames.append(frame)
                total = sum(counts.values())
                if b is not None and total > shown:
                    b.update(total - shown)
                    shown = total
                for frame in frames if on_frame is not None else ():
                    on_frame(*frame)

            def collect(timeout: float) -> None:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=timeout)
                for ref in ready:
                    seg = pending.pop(ref)
                    finished[seg.index] = _keep(folder, seg, _result(ref, _named(seg)))
                    counts[seg.index] = seg.frames
                update()

            # The pre-pass runs ahead in a thread; of the segments it has written, the longest goes first, so the
            # film does not end on one worker finishing a long segment while the others wait.
            with contextlib.closing(background(split_film(frames, size, fps, opts, cluster.max_segment, folder,
                                                          skip=set(finished)), 4 * slots.now())) as ahead:
                waiting: list[Segment] = []
                planned = False
                while not planned or waiting or pending:
                    news, planned = ahead.poll()
                    for seg in news:
                        segments[seg.index] = seg
                        if seg.index not in finished:
                            waiting.append(seg)
                    while waiting and len(pending) <= slots.now():  # one queued beyond: no worker waits for the head
                        seg = max(waiting, key=lambda s: s.warmup + s.frames + s.tail)
                        waiting.remove(seg)
                        data = ray.put((folder / f"{seg.index:04d}.in.mkv").read_bytes())
                        pending[task.remote(*shared, size, fps, seg, data, factor_ref, progress, sheet,
                                            on_frame is not None)] = seg
                    if pending:
                        collect(0.2)
                    else:
                        time.sleep(0.05)
            update()
    if not segments:
        raise UserError(f"{src} decodes to no video frames between {opts.start:g} s and {opts.end:g} s")
    pieces, rows, seams, thumbs = _joined(folder, segments, finished, size, fps)
    frames_s = time.perf_counter() - t0
    mux(pieces, fps, len(rows), work.audio if job.with_sound else None, out)
    if opts.preview:
        write_contact_sheet(thumbs, opts.preview, rows_of={r["frame"]: r for r in rows if r["frame"] in thumbs})
    figures = film_figures(rows, fps, info, opts, frames_s, time.perf_counter() - t0)
    flick = [r["flicker"] for r in rows if r["flicker"] is not None]
    faults = attempts.figures()
    resumed = [r for r in finished.values() if r.get("resumed", False)]
    figures.update(soundtrack=sound_figures, resumed_segments=len(resumed),
                   resumed_frames=sum(r["frames"] for r in resumed),
                   cluster={"workers": cluster.workers, "address": cluster.address, "threads": cluster.threads,
                            "max_segment": cluster.max_segment, "gpus_per_task": cluster.gpus_per_task,
                            "task_resources": cluster.resources, "nodes": len(faults["nodes"]),
                            "instruction_sets": sorted({finished[k]["worker"].get("isa", "unknown")
                                                        for k in segments})},
                   **faults,
                   segments=[{**segments[k].as_dict(), **{key: finished[k][key] for key in
                                                         ("seconds", "worker", "resumed")},
                              "attempts": attempts.starts.get(k, [])}
                             for k in sorted(segments)],
                   seams=seams, flicker_median=float(np.median(flick)) if flick else None)
    if not opts.keep_work:
        shutil.rmtree(work.root, ignore_errors=True)
    return figures


def _named(seg: Segment) -> str:
    return f"segment {seg.index} (frames {seg.first}-{seg.end - 1})"


def _result(ref, what: str):
    """A task's result; a task's own one-line error (a bad input, a full disk) is raised as one line naming the
    segment or chunk (`what`), not as a Ray traceback."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, UserError):
            raise UserError(f"{what}: {e.cause}") from None
        raise


class Slots:
    """How many tasks the cluster runs at once, looked up again every few seconds: a node that joins mid-film
    takes segments, one that is lost stops being waited for."""

    def __init__(self, cluster: ClusterOptions, every: float = 2.0) -> None:
        self.cluster, self.every, self.checked, self.count = cluster, every, -every, 1

    def now(self) -> int:
        if time.monotonic() - self.checked >= self.every:
            import ray

            self.checked = time.monotonic()
            have = ray.cluster_resources()
            asked = {"CPU": self.cluster.threads, "GPU": self.cluster.gpus_per_task, **self.cluster.resources}
            self.count = max(1, min(int(have.get(k, 0) // v) for k, v in asked.items() if v))
        return self.count


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
    edges.update({f"thumb_{at}": np.stack(pair) for at, pair in result["thumbs"].items()})
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
            fps: float) -> tuple[list[Path], list[dict], list[dict], dict[int, tuple]]:
    """The film's pieces in order (cross-fades encoded here), its rows, each forced seam's figures, and the
    contact sheet's (input, dream) pairs as the film shows them."""
    pieces: list[Path] = []
    rows: list[dict] = []
    seams = []
    thumbs: dict[int, tuple] = {}
    for k in sorted(segments):
        seg, seg_rows = segments[k], [dict(r) for r in finished[k]["rows"]]
        edges = folder / f"{k:04d}.edges.npz"
        if edges.exists():
            with np.load(edges) as saved:
                thumbs.update({int(key[6:]): tuple(saved[key]) for key in saved.files if key.startswith("thumb_")})
        if seg.fade_in:
            blend, flick, faded = _cross_fade(folder, segments[k - 1], seg, seg_rows, size, fps)
            pieces.append(blend)
            seams.append({"frame": seg.first, "fade_frames": seg.fade_in, "warmup_frames": seg.warmup,
                          "flicker_max": max(flick), "flicker": flick})
            for j, frame in enumerate(faded):
                if seg.first + j in thumbs:
                    thumbs[seg.first + j] = (thumbs[seg.first + j][0], frame)
        pieces += sorted((folder / f"{k:04d}").glob("*.mp4"))
        rows += seg_rows
    return pieces, rows, seams, thumbs


def _cross_fade(folder: Path, before: Segment, seg: Segment, seg_rows: list[dict], size: tuple[int, int],
                fps: float) -> tuple[Path, list[float], np.ndarray]:
    """The frames where `before` hands over to `seg`: before's own dream fading into seg's over `fade_in` frames,
    encoded as a piece of its own (and returned); the flicker of every frame the seam touches replaces the task's
    figure."""
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
    finish_piece(encoder, path, len(faded))
    shown = [tail[0], *faded, *head[n:n + 1]]  # what the film shows from frame first - 1 on
    flow, flick = FlowEstimator(), []
    for j in range(1, min(len(shown), len(inputs))):
        value = flicker(shown[j - 1], shown[j], flow.motion(inputs[j - 1], inputs[j]))
        seg_rows[j - 1]["flicker"] = value
        seg_rows[j - 1]["seam"] = True
        flick.append(value)
    return path, flick, faded


def segment_report(figures: dict) -> str:
    """One line per segment for the terminal: where it ran and how fast."""
    lines = []
    for s in figures.get("segments", []):
        rate = s["end"] - s["first"]
        lines.append(f"  segment {s['index']}: frames {s['first']}-{s['end'] - 1} on {s['worker']['host']} "
                     f"pid {s['worker']['pid']}, {s['seconds']:.1f} s ({rate / max(s['seconds'], 1e-9):.2f} frames/s)")
    if len(isas := figures.get("cluster", {}).get("instruction_sets", [])) > 1:
        lines.append(f"  nodes of different instruction sets ({', '.join(isas)}): the frames' last bits differ from a "
                     "one-machine render's; set ONEDNN_MAX_CPU_ISA alike everywhere for identical films")
    for node in figures.get("lost_nodes", []):
        lines.append(f"  lost node {node['node'][:12]} at {node['address']}: {node['why']}")
    if figures.get("retried_segments"):
        lines.append(f"  retried segments: {', '.join(map(str, figures['retried_segments']))}")
    return "\n".join(lines)


