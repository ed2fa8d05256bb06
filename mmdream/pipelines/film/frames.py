"""The frame loop: decode and flow in a thread, the network in the main thread, saving and encoding in
another; and the frame functions of the dream film and of video style transfer."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import cv2
import numpy as np

from mmdream.core import backend
from mmdream.core.carry import carried_on_device, dream_carried, picture, picture_kept
from mmdream.media.ffmpeg import MediaInfo, even_size, read_video_frames
from mmdream.media.flow import FlowEstimator, Motion, flicker
from mmdream.media.parallel import cores
from mmdream.media.picture import dream_difference, from_dream_space, to_dream_space
from mmdream.pipelines.film.options import FilmOptions, film_fps
from mmdream.pipelines.film.workfolder import WorkFolder
from mmdream.pipelines.image import changed_at


@dataclass
class Dreaming:
    """One dreamer with its schedule (see mmdream.plan.build_plan)."""

    dreamer: object
    plan: object


FrameFn = Callable[[int, np.ndarray, "np.ndarray | None", "np.ndarray | None", "Motion | None", float],
                   tuple[np.ndarray, dict]]


def film_frames(src: str, info: MediaInfo, opts: FilmOptions) -> tuple[Iterator[np.ndarray], tuple[int, int], float]:
    """The film's frames as the renderer sees them (decoded at the processing size and the film's rate), their
    size and rate."""
    size = even_size(*info.video_size, opts.max_size)
    fps = film_fps(info, opts)
    return read_video_frames(src, size, fps, opts.start, opts.end), size, fps


def dream_frames(source: tuple[Iterator[np.ndarray], tuple[int, int], float], frame_fn: FrameFn,
                 work: WorkFolder, strength_factor: np.ndarray,
                 on_frame: Callable[[int, np.ndarray, dict], None] | None = None, thumbs: dict | None = None,
                 offset: int = 0, flow: bool = True) -> list[dict]:
    """Run `frame_fn` on every frame of `source` (frames, size, rate; see `film_frames`) into the work folder,
    resuming from its last checkpoint (see WorkFolder). Returns per-frame figures (objective gain or losses, flicker against
    the flow-warped previous output, cold start). `offset`: the film's index of the first frame (a cluster's
    segment), which the schedule, seeds and strength follow; the work folder counts from 0.

    Four stages overlap: a background thread decodes frames and computes the optical flow of the next pair,
    the main thread runs the network, a writer thread measures flicker (on a GPU, threads of their own measure it
    ahead of the writer) and records finished frames, and an ffmpeg process encodes them."""
    decoded, size, fps = source
    rows = work.finished()
    done = len(rows)
    prev_out = work.resume(rows)  # the finished frame before the checkpoint a rerun continues from
    produced: dict[int, dict[str, float]] = {}  # the decoding thread's seconds per frame, by index
    frames = (_decoded_with_motion(decoded, done, produced, workers=flow_workers(), stage=getattr(frame_fn, "stage", None))
              if flow else _decoded_alone(decoded, produced))
    behind, measurers = writer_depth(), flicker_workers()

    def finish(i: int, frame: np.ndarray, out: np.ndarray, row: dict, prev: np.ndarray | None, motion,
               measured: Future | None) -> None:
        t0 = time.perf_counter()
        if motion is not None or "flicker" not in row:
            row["flicker"] = None if motion is None else measured.result() if measured else flicker(prev, out, motion)
        row["scene_change"] = None if motion is None else motion.change
        work.save(i, out, row)
        if thumbs is not None and i in thumbs:
            thumbs[i] = (frame, out)
            work.keep_thumb(i, out)
        row["stages_s"]["encode"] = time.perf_counter() - t0  # measuring its flicker, saving it, encoding it
        if on_frame:
            on_frame(i, out, row)

    with (opencv_beside_the_network(), work.encoding(size, fps, resume_at=done),
          ThreadPoolExecutor(1, thread_name_prefix="mmdream-writer") as writer,
          ThreadPoolExecutor(max(1, measurers), thread_name_prefix="mmdream-flicker") as flickers,
          ThreadPoolExecutor(1, thread_name_prefix="mmdream-compile") as compiler,
          contextlib.closing(frames)):
        ahead = _continuing_made_ahead(frame_fn, size, compiler)
        pending, items, last = deque(), iter(frames), None
        # The network's thread's time in marks that follow one another: a frame's waiting runs from where the last
        # frame was handed on (its hand-off to the writer included) to its own dream, so the stages leave no gap.
        t_wait = time.perf_counter()
        while True:
            item = next(items, None)
            if item is None:
                break
            i, frame, prev_in, motion = item
            if i < done:  # finished in an earlier run: already encoded
                if thumbs is not None and i in thumbs:
                    thumbs[i] = (frame, work.thumb(i))
                continue
            if ahead is not None and prev_out is not None:  # a frame that may continue: its programs are made
                ahead.result()
                ahead = None
            t0 = time.perf_counter()
            at = offset + i
            out, row = frame_fn(at, frame, prev_in, prev_out, motion,
                                float(strength_factor[min(at, len(strength_factor) - 1)]))
            t1 = time.perf_counter()
            row["seconds"] = round(t1 - t0, 4)
            inner = row.pop("stages_s", {})  # the frame function's own stages (carry, to_picture): the rest is dream
            row["stages_s"] = {**produced.pop(i, {}), **inner, "dream": t1 - t0 - sum(inner.values()),
                               "waiting": t0 - t_wait}
            while len(pending) >= behind:  # `behind` frames in flight at most: errors surface, memory stays bounded
                pending.popleft().result()
            t_wait = time.perf_counter()
            row["stages_s"]["waiting"] += t_wait - t1
            row["waited_for_the_writer_s"] = t_wait - t1  # the rest of its waiting was for this frame to come
            measured = flickers.submit(flicker, prev_out, out, motion) if measurers and motion is not None else None
            pending.append(writer.submit(finish, i, frame, out, row, prev_out, motion, measured))
            rows.append(row)
            prev_out, last = out, row
        while pending:
            pending.popleft().result()
    if last is not None:  # then it waited for the source's end and the writer: its frames, the encoder's last ones
        last["stages_s"]["waiting"] += time.perf_counter() - t_wait
    return rows


def _continuing_made_ahead(frame_fn: FrameFn, size: tuple[int, int], compiler: ThreadPoolExecutor) -> Future | None:
    """Where the carry runs on the device, a continuing frame's programs (`FrameDreamer.compile_continuing`) made,
    or read from XLA's cache, on a thread of their own while the film's first frame, a cold one, dreams: made at
    the first continuing frame's turn, they held the network's thread for as long. The frame loop waits for them
    before a frame that may continue (none runs twice: two threads would both compile it)."""
    make = getattr(frame_fn, "compile_continuing", None)
    if make is None or not getattr(frame_fn, "carry_on_device", False):
        return None
    return compiler.submit(make, size)


def flow_workers() -> int:
    """Threads computing the optical flow of the frames ahead: one where the network has the host's cores (a CPU),
    and where it runs on a GPU, half the cores (each pair's flow depends only on the source, so pairs go in
    parallel, each on one of OpenCV's threads: see opencv_beside_the_network)."""
    return max(1, cores() // 2) if backend.on_gpu() else 1


def flicker_workers() -> int:
    """Threads measuring finished frames' flicker ahead of the writer: none on a CPU (the writer measures it; the
    cores are the network's), a quarter of the cores where the network runs on a GPU: a 1080p frame's flicker
    samples three channels along the flow, as long as the flow itself on one thread, and on the writer's thread
    alone it would set the film's pace."""
    return max(1, cores() // 4) if backend.on_gpu() else 0


def writer_depth() -> int:
    """Finished frames the writer (flicker, checkpoint, encoder) may hold behind the network: one on a CPU, where
    they share the cores anyway; on a GPU enough for every flicker thread to have a frame and two more, so a
    piece's start or a slow encode does not stop the device."""
    return max(3, flicker_workers() + 2) if backend.on_gpu() else 1


@contextlib.contextmanager
def opencv_beside_the_network() -> Iterator[None]:
    """OpenCV on one thread per caller: the host's stages work on several frames at once instead (flow_workers,
    flicker_workers). On a CPU its own worker threads spin beside the network's (the flow of a 540 px frame took
    12.4 ms of CPU on two threads against 8.3 on one); on a GPU they took the cores of the thread that feeds the
    device, whose own work sets a small frame's pace."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _decoded_with_motion(frames: Iterator[np.ndarray], first: int, times: dict | None = None, depth: int = 4,
                         workers: int = 1, stage: Callable | None = None):
    """(index, frame, previous frame, motion) from a background thread that decodes and computes the flow
    while the network works; motion only from frame `first` on (earlier frames were finished before). `times`
    gets each frame's seconds of decoding and of flow, by index. `workers` > 1: that many pairs' flows at once,
    handed on in order (a pair's flow is the same whichever thread computes it). `stage(frame, motion)`: run on the
    flow's thread after each motion (the frame function's inputs sent ahead to its device; counted as flow)."""

    def motion_of(flow: FlowEstimator, prev: np.ndarray, frame: np.ndarray) -> Motion:
        motion = flow.motion(prev, frame)
        if stage is not None:
            stage(frame, motion)
        return motion

    if workers <= 1:
        def produce() -> Iterator[tuple]:
            flow, prev = FlowEstimator(), None
            for i, frame, decoding in _timed(frames):
                t0 = time.perf_counter()
                motion = motion_of(flow, prev, frame) if prev is not None and i >= first else None
                if times is not None:
                    times[i] = {"decode": decoding, "flow": time.perf_counter() - t0}
                yield i, frame, prev, motion
                prev = frame

        return background(produce(), depth)

    local = threading.local()

    def timed_motion(prev: np.ndarray, frame: np.ndarray) -> tuple[Motion, float]:
        if not hasattr(local, "flow"):
            local.flow = FlowEstimator()
        t0 = time.perf_counter()
        return motion_of(local.flow, prev, frame), time.perf_counter() - t0

    def produce_in_parallel() -> Iterator[tuple]:
        with ThreadPoolExecutor(workers, thread_name_prefix="mmdream-flow") as pool:
            ahead: deque = deque()
            prev = None
            for i, frame, decoding in _timed(frames):
                job = pool.submit(timed_motion, prev, frame) if prev is not None and i >= first else None
                ahead.append((i, frame, prev, decoding, job))
                prev = frame
                while len(ahead) > workers or (ahead and _ready(ahead[0][4])):
                    yield _in_order(ahead.popleft(), times)
            while ahead:
                yield _in_order(ahead.popleft(), times)

    return background(produce_in_parallel(), depth)


def _ready(job) -> bool:
    return job is None or job.done()


def _in_order(item: tuple, times: dict | None) -> tuple:
    i, frame, prev, decoding, job = item
    motion, seconds = job.result() if job is not None else (None, 0.0)
    if times is not None:
        times[i] = {"decode": decoding, "flow": seconds}
    return i, frame, prev, motion


def _decoded_alone(frames: Iterator[np.ndarray], times: dict | None = None, depth: int = 4):
    """(index, frame, previous frame, None) from a background thread: frames without motion."""

    def produce() -> Iterator[tuple]:
        prev = None
        for i, frame, decoding in _timed(frames):
            if times is not None:
                times[i] = {"decode": decoding}
            yield i, frame, prev, None
            prev = frame

    return background(produce(), depth)


def _timed(frames: Iterator[np.ndarray]) -> Iterator[tuple[int, np.ndarray, float]]:
    """(index, frame, the seconds it took to decode)."""
    i, items = 0, iter(frames)
    while True:
        t0 = time.perf_counter()
        frame = next(items, None)
        if frame is None:
            return
        yield i, frame, time.perf_counter() - t0
        i += 1


class background:  # noqa: N801 - used like a generator function
    """Iterate `items` in a thread, `depth` ahead of the consumer; errors are raised in the consumer. Closing
    it (or leaving a `with` block) stops the thread."""

    _END = object()

    def __init__(self, items: Iterator, depth: int) -> None:
        self.queue: queue.Queue = queue.Queue(depth)
        self.stop = threading.Event()
        self.ended = False
        self.thread = threading.Thread(target=self._run, args=(items,), daemon=True, name="mmdream-decode")
        self.thread.start()

    def _run(self, items: Iterator) -> None:
        try:
            for item in items:
                if not self._put(item):
                    return
            self._put(self._END)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            self._put(e)
        finally:
            close = getattr(items, "close", None)
            if close:
                close()

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            with contextlib.suppress(queue.Full):
                self.queue.put(item, timeout=0.1)
                return True
        return False

    def __iter__(self):
        while (item := self.queue.get()) is not self._END:
            if isinstance(item, BaseException):
                raise item
            yield item

    def poll(self) -> tuple[list, bool]:
        """What has been produced so far, without waiting, and whether that is everything."""
        items = []
        while not self.ended:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return items, False
            if item is self._END:
                self.ended = True
                break
            if isinstance(item, BaseException):
                raise item
            items.append(item)
        return items, True

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


class StopSignal(threading.Event):
    """Handed to a worker as its progress object: the worker's next step raises `Stopped` once it is set."""

    class Stopped(Exception):
        pass

    def update(self, _n: int = 1) -> None:
        if self.is_set():
            raise self.Stopped


def continues(motion: Motion | None, opts: FilmOptions) -> bool:
    """Whether a frame can start from the previous result (not the first frame, not a scene cut)."""
    return motion is not None and opts.flow and motion.change <= opts.cut


# A continuing frame (one step) follows a class target on every this many frames, that much harder: the target's
# gradient, a second pass through the whole net, cost a quarter of lite0's film frames/s on every frame, and the
# flow carries what grew in between. By frame index, so a frame follows alike on one machine and on a cluster.
FOLLOW_EVERY = 2


@dataclass
class StylePass:
    """A style pass inside the dream film: the styliser, the style image (dream space) and when it applies."""

    styler: object  # mmdream.pipelines.style.ImageStyle
    style: np.ndarray
    when: str = "after"


class FrameDreamer:
    """The dream film's frame function: a cold start (whole pyramid) or a warm continuation of the previous
    dream along the flow; optionally a style pass before or after, as the schedule says."""

    def __init__(self, image: Dreaming, opts: FilmOptions, fps: float, style: StylePass | None = None,
                 carry_on_device: bool | None = None) -> None:
        self.dreamer, self.plan, self.opts, self.fps, self.style = image.dreamer, image.plan, opts, fps, style
        self.layers: dict[str, float] | None = None  # instead of the schedule's (a live performer's depth)
        self.following = False  # whether the last frame followed a class target (see mmdream.senses)
        # A continuing frame's carry as one compiled call on the dream's device (mmdream.core.carry) where that is
        # a GPU (None): there numpy's passes over the frame, not the network, set the film's pace.
        self.carry_on_device = backend.on_gpu() if carry_on_device is None else carry_on_device
        self._sent: tuple | None = None  # (the last frame, its tensor on the device): the next frame's prev_in
        self._shown: tuple | None = None  # (the last picture, its tensor on the device): the next frame's prev_out

    def stage(self, frame: np.ndarray, motion: Motion) -> None:
        """Ahead of the frame, on the flow's thread: where the carry runs on the device, the frame and its flow are
        sent there now, so the frame's own turn only queues compiled calls."""
        if self.carry_on_device:
            motion.staged = (backend.tensor(frame, "uint8"), backend.tensor(motion.backward),
                             backend.tensor(motion.consistent))

    def compile_continuing(self, size: tuple[int, int], steps: Iterable[int] = ()) -> None:
        """Where the carry runs on the device: the calls a continuing frame of `size` (w, h) makes there (the carry,
        the dream and the picture, one call where the dream allows: one program per step count, the film's warm
        steps and each of `steps`) and a frame carried without a dream of its own (live) makes, made now on blank
        frames, so none is compiled, or read from XLA's cache, at a frame's turn: on a GPU each is a program of its
        own, and a live session's first continuing frames waited for them."""
        if not self.carry_on_device:
            return
        w, h = size
        blank = np.zeros((h, w, 3), np.uint8)
        inputs = (blank, blank, blank, np.zeros((h, w, 2), np.float32), np.ones((h, w), np.float32), self.opts.blend)
        warm = self._warm(self.plan.at(self.opts.start).settings)
        for count in dict.fromkeys((warm.steps, *steps)):
            picture_kept(dream_carried(self.dreamer, inputs, replace(warm, steps=count), 0.0))
        picture(carried_on_device(*inputs))

    def _warm(self, settings):
        """A continuing frame's settings: its octaves and steps."""
        warm = self.opts.warm_steps if self.opts.warm_steps is not None else 1
        return replace(settings, octaves=self.opts.warm_octaves, steps=warm)

    def __call__(self, i, frame, prev_in, prev_out, motion, strength_factor):
        opts, dreamer = self.opts, self.dreamer
        moment = self.plan.at(opts.start + i / self.fps)
        when = (moment.style or self.style.when) if self.style is not None else "none"
        # A followed target that ends (the bark stops) ends what it grew: that frame starts afresh, as after a cut;
        # carried on, the grown dogs would outlast the sound by seconds.
        released = self.following and moment.follow <= 0
        self.following = moment.follow > 0
        cold = not continues(motion, opts) or released
        scale = opts.warm_scale if not cold or opts.cold_at_warm_scale else 1.0
        on_device = self.carry_on_device and not cold and when != "before" and scale == 1
        t_carry = time.perf_counter()
        x = None if on_device else to_dream_space(frame)  # on the device, the frame goes there as it is
        dreamer.take(moment, self.layers)
        if not cold:  # continuing frames take the class target's gradient on every FOLLOW_EVERY-th frame, harder
            dreamer.set_class_target(moment.target, moment.follow * FOLLOW_EVERY if i % FOLLOW_EVERY == 0 else 0.0)
        settings = replace(moment.settings, seed=(moment.settings.seed or 0) + i)
        init = self._styled(x, prev_out, motion, cold) if when == "before" else x
        if on_device:
            sent, backward, consistent = motion.staged or (frame, motion.backward, motion.consistent)
            carry = (sent, _there(self._sent, prev_in), _there(self._shown, prev_out), backward, consistent, opts.blend)
            init = carry if when == "none" else carried_on_device(*carry)  # "none": carried with its dream, below
        elif not cold:
            detail = motion.warp(dream_difference(prev_out, prev_in))
            if when == "before":  # the style is redone each frame: carry only the dream on top of it
                init = np.clip(init + opts.blend * motion.consistent[..., None] * (detail - (init - x)), -1, 1)
            else:
                init = carried(x, detail, motion, opts.blend)
        self._sent = (frame, motion.staged[0]) if motion is not None and motion.staged is not None else None
        carrying = time.perf_counter() - t_carry
        if not cold:
            settings = self._warm(settings)
        # --fade-in: the dream rises out of the plain film over its first seconds.
        fade = min(1.0, i / (opts.fade_in * self.fps)) if opts.fade_in else 1.0
        push = moment.strength * strength_factor * fade * (1.0 if cold else opts.warm_strength)
        if scale < 1:  # dreamed smaller, its change brought back up
            out = changed_at(init, scaled(init.shape[:2], scale),
                             lambda v: dreamer.dream(v, settings, strength=push))[1]
        elif on_device and when == "none":  # carried, dreamed and made the picture where the dream runs
            out = dream_carried(dreamer, init, settings, push)
        else:
            out = dreamer.dream(init, settings, strength=push)
        if when == "after":
            out = self._styled(out, prev_out, motion, cold)
        t_picture = time.perf_counter()
        # on the device this waits for the dream (its calls were only queued): the device's time shows here
        if on_device and when == "none":
            out, kept = picture_kept(out)
            self._shown = (out, kept)
        else:
            out, self._shown = from_dream_space(out), None
        to_picture = time.perf_counter() - t_picture
        row = {"frame": i, "time": round(opts.start + i / self.fps, 4), "cold": bool(cold),
               "steps": settings.steps, "octaves": settings.octaves, "scale": scale, "style": when,
               "strength": moment.strength * strength_factor * fade, "follow": round(moment.follow, 4),
               "stages_s": {"carry": carrying, "to_picture": to_picture}}
        if moment.follow > 0:  # what it followed: the perceived class with the largest share
            row["follows"] = self.plan.steer.describe(opts.start + i / self.fps, 1)["target_by_perceived"][0]["from"]
        every = opts.measure_every
        if every is not None and (cold or (every and i % every == 0)):  # two forward passes: a sample of frames
            x = to_dream_space(frame) if x is None else x
            row["objective_gain"] = dreamer.score(to_dream_space(out)) / max(dreamer.score(x), 1e-12)
        return out, row

    def _styled(self, x, prev_out, motion, cold):
        return stylise_frame(self.style.styler, x, self.style.style, prev_out, motion, cold, self.opts)


def _there(kept: tuple | None, array: np.ndarray):
    """`array`'s tensor on the device where `kept` (array, tensor) holds it, else `array` itself (sent with the call)."""
    return kept[1] if kept is not None and kept[0] is array else array


def scaled(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """(h, w) times `scale`, rounded to whole pixels."""
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))


def carried(x: np.ndarray, detail: np.ndarray, motion: Motion, blend: float) -> np.ndarray:
    """Frame `x` (dream space) with `blend` of the previous dream's `detail`, warped along the flow, added where
    the flow is consistent (occluded pixels start afresh)."""
    out = detail * (blend * motion.consistent)[..., None]  # in one buffer: at 1080p each pass is milliseconds
    out += x
    return np.clip(out, -1.0, 1.0, out=out)


def carried_dream(frame: np.ndarray, prev_in: np.ndarray, prev_out: np.ndarray, motion: Motion,
                  blend: float, on_device: bool = False) -> np.ndarray:
    """The last dream carried onto a later `frame` without dreaming it (uint8): what a live render shows when a
    frame's own dream is not ready in time. `on_device`: carried where the dream runs (a GPU's compiled carry, a
    frame interval's fraction of the host's passes at 720p)."""
    if on_device:
        return picture(carried_on_device(frame, prev_in, prev_out, motion.backward, motion.consistent, blend))
    detail = motion.warp(dream_difference(prev_out, prev_in))
    return from_dream_space(carried(to_dream_space(frame), detail, motion, blend))


def stylise_frame(styler, x: np.ndarray, style: np.ndarray, prev_out: np.ndarray | None, motion: Motion | None,
                  cold: bool, opts: FilmOptions) -> np.ndarray:
    """One frame of video style transfer (Ruder et al. 2016): start from the flow-warped previous result where it
    is visible, and pull toward it there (temporal loss); occluded pixels start from the frame itself."""
    if cold:
        return styler.transfer(x, style)
    warped = motion.warp(to_dream_space(prev_out))
    mask = motion.consistent
    init = mask[..., None] * warped + (1 - mask[..., None]) * x
    warm = opts.warm_steps if opts.warm_steps is not None else max(2, styler.settings.steps // 3)
    return styler.transfer(x, style, init=init, prev=warped, mask=mask, steps=warm)


class FrameStyler:
    """`mmdream style video`'s frame function: video style transfer, or per-frame stylisation with --no-flow."""

    def __init__(self, styler, style: np.ndarray, opts: FilmOptions, fps: float) -> None:
        self.styler, self.style, self.opts, self.fps = styler, style, opts, fps

    def __call__(self, i, frame, prev_in, prev_out, motion, strength_factor):
        x = to_dream_space(frame)
        cold = not continues(motion, self.opts)
        out = from_dream_space(stylise_frame(self.styler, x, self.style, prev_out, motion, cold, self.opts))
        losses = self.styler.losses(to_dream_space(out), x, self.style)
        return out, {"frame": i, "time": round(self.opts.start + i / self.fps, 4), "cold": bool(cold),
                     "style_loss": losses["style"], "content_loss": losses["content"]}
