"""`mmdream live`: the film dreamer on a live source, holding real time by itself.

Three threads: ffmpeg delivers frames as they come (a camera, a network stream, or a file at its own pace); the
network dreams the newest frame whenever it is free (stale frames are skipped, so it can never fall behind); and
a writer emits every input frame, in order, as soon as its own dream is ready or its deadline passes, whichever
comes first. A frame whose dream is not ready shows the last dream carried onto it along the optical flow (the
film's warm carry, without the network), so the output has as many frames as the input and its latency is
bounded by the deadline. Each frame's latency (written minus arrived) is measured."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mmdream.errors import UserError
from mmdream.io_utils import atomic_output
from mmdream.media.ffmpeg import AudioTap, ffmpeg_exe, is_stream, read_video_frames
from mmdream.media.flow import FlowEstimator
from mmdream.pipelines.film.frames import FrameDreamer, carried_dream, scaled
from mmdream.pipelines.live.controls import FITTED_STEPS, SCALES, DreamFit, LayerDreamers, LiveControls, keyboard
from mmdream.specs import options_class

if TYPE_CHECKING:  # the sound's pipeline (librosa) is loaded only for --audio
    from mmdream.pipelines.live.sound import LiveSound


# A live dream's options as the schema declares them for `mmdream live` (its live concern): the deadline a frame may
# wait for its own dream before the carried one is written, the seconds to stop after, a file read at its own
# pace, the share of the last dream carried onto a frame it was not dreamed for, the terminal's keys.
LiveOptions = options_class("LiveOptions", "live", ("live",))
LiveOptions.__module__ = __name__


class LiveSink:
    """H.264 through ffmpeg, as frames come: to a file, or as MPEG-TS to a `udp://` or `tcp://` address that
    VLC or OBS can open (x264 `ultrafast`, `zerolatency`: no frames held back). With `audio` (rate, channels),
    AAC from a second pipe: samples are counted from the start like frames, so the two stay in sync. ffmpeg
    holds the pictures back until their sound is there (a chunk behind), so frames go to it through a queue of
    up to 10 s that a thread of its own feeds: the writer that meets each frame's deadline never waits for it."""

    def __init__(self, dst: str, size: tuple[int, int], fps: float, audio: tuple[int, int] | None = None) -> None:
        stream = is_stream(dst)
        fmt = ["-f", "mpegts"] if stream or Path(dst).suffix.lower() == ".ts" else []
        sound, self.audio, fds = [], None, ()
        if audio is not None:
            read_end, write_end = os.pipe()
            sound = ["-thread_queue_size", "1024", "-f", "f32le", "-ar", str(audio[0]), "-ac", str(audio[1]),
                     "-i", f"pipe:{read_end}", "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "160k"]
            self.audio, fds = os.fdopen(write_end, "wb"), (read_end,)
        self.frames: queue.Queue[bytes | None] = queue.Queue(maxsize=max(1, int(10 * fps)))
        try:
            self.proc = subprocess.Popen(
                [ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                 "-s", f"{size[0]}x{size[1]}", "-r", f"{fps:.6f}", "-i", "-", *sound, "-c:v", "libx264", "-preset",
                 "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", *fmt, dst], stdin=subprocess.PIPE,
                stderr=subprocess.PIPE, pass_fds=fds,
                start_new_session=True)  # Ctrl-C is ours to handle: the recording is closed, not cut
        finally:
            for fd in fds:
                os.close(fd)
        self.feeder = threading.Thread(target=self._feed, name="mmdream-live-encode", daemon=True)
        self.feeder.start()

    def write(self, rgb: np.ndarray) -> None:
        self.frames.put(np.ascontiguousarray(rgb).tobytes())

    def _feed(self) -> None:
        alive = True
        while (frame := self.frames.get()) is not None:  # drained to the end, so a writer never blocks on it
            if alive:
                try:
                    self.proc.stdin.write(frame)
                    self.proc.stdin.flush()
                except BrokenPipeError:  # ffmpeg gone: close() reports its error
                    alive = False

    def write_audio(self, samples: np.ndarray) -> None:
        self.audio.write(np.ascontiguousarray(samples, "<f4").tobytes())
        self.audio.flush()

    def close(self) -> None:
        self.frames.put(None)
        self.feeder.join()
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()
        if self.audio is not None:
            with contextlib.suppress(BrokenPipeError):
                self.audio.close()
        err = self.proc.stderr.read().decode(errors="replace").strip()
        if self.proc.wait() != 0:
            raise UserError(f"ffmpeg could not write the live output: {err[-300:]}")


class _Live:
    """What the three threads share: frames waiting to be written, the newest frame, the newest dream."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.waiting: deque[tuple[int, np.ndarray, float]] = deque()  # (index, frame, arrival) not yet written
        self.newest: tuple[int, np.ndarray] | None = None
        self.dreaming = -1  # the frame the network dreams now (or dreamed last): an older one will not be dreamed
        self.last: tuple[int, np.ndarray, np.ndarray] | None = None  # (index, input frame, dream)
        self.arrived = 0
        self.first_arrival: float | None = None  # the live clock: frame i and sample i / rate were live then
        self.source_ended = False
        self.dreamer_done = False
        self.stopped = False  # everyone stops now (Ctrl-C, or an error)
        self.interrupted = False  # Ctrl-C: what was written is kept

    def arrive(self, i: int, frame: np.ndarray) -> None:
        with self.cond:
            self.waiting.append((i, frame, time.perf_counter()))
            self.first_arrival = self.first_arrival or self.waiting[-1][2]
            self.newest, self.arrived = (i, frame), self.arrived + 1
            self.cond.notify_all()

    def publish(self, i: int, frame: np.ndarray, out: np.ndarray) -> None:
        with self.cond:
            self.last = (i, frame, out)
            self.cond.notify_all()

    def interrupt(self, *_) -> None:
        """SIGINT's handler: the session ends, as if the source had."""
        self.interrupted = True
        self.set("stopped")

    def set(self, flag: str) -> None:
        with self.cond:
            setattr(self, flag, True)
            self.cond.notify_all()

    def next_to_dream(self, after: int) -> tuple[int, np.ndarray] | None:
        """The newest frame once one newer than `after` arrived; None once the source ended without one."""
        with self.cond:
            self.cond.wait_for(lambda: self.source_ended or self.stopped or (
                self.newest is not None and self.newest[0] > after))
            if self.stopped:
                return None
            if self.newest is None or self.newest[0] <= after:
                return None
            self.dreaming = self.newest[0]
            self.cond.notify_all()  # the writer stops waiting for the frames this one skips
            return self.newest


# Timed steps per size before the source opens: their median. One timing alone can catch the host at a slow
# moment, and a smaller size timed no faster than the one above is given up for the whole session.
TIMING_ROUNDS = 3


def trace_and_time(frame_fn: FrameDreamer, size: tuple[int, int]) -> dict[float, float]:
    """Before the source opens: trace every shape a live dream may take (the cold pyramid and the warm step at
    each of `SCALES`, and where the carry runs on the device, a continuing frame's calls there at each step count a
    fit may choose: a first dream at a new shape, or of a new step count there, is slow), and time a warm step at
    each size, so the very first dreams are fitted to this machine (see `DreamFit`). `size`: (width, height).
    Returns the median seconds of a step at each size over TIMING_ROUNDS."""
    dreamer, settings = frame_fn.dreamer, frame_fn.plan.at(0.0).settings
    blanks = {scale: np.zeros((*scaled((size[1], size[0]), scale), 3), np.float32) for scale in SCALES}
    for blank in blanks.values():
        dreamer.dream(blank, replace(settings, steps=1))
    frame_fn.compile_continuing(size, FITTED_STEPS if frame_fn.opts.warm_steps is None else ())
    times: dict[float, list[float]] = {scale: [] for scale in SCALES}
    for _ in range(TIMING_ROUNDS):  # sizes in turn, so a drift in the host's speed touches each alike
        for scale, blank in blanks.items():
            start = time.perf_counter()
            dreamer.dream(blank, replace(settings, octaves=1, steps=1))
            times[scale].append(time.perf_counter() - start)
    return {scale: float(np.median(t)) for scale, t in times.items()}


class Performance:
    """Applies a performer's `LiveControls` to the film's frame dreamer before each dream: the layer at the
    chosen depth (a dreamer per layer, built when first chosen) and the strength; and fits each dream to the frame
    interval (see `DreamFit`) from the measured cost of the warm dreams, starting from `step_costs` (seconds of
    one warm step per size, see `trace_and_time`): more steps, or a smaller dream, cold dreams included. Steps the
    user or the performer gave are held; the size still fits them."""

    def __init__(self, frame_fn: FrameDreamer, controls: LiveControls, fps: float,
                 step_costs: dict[float, float] | None = None) -> None:
        self.fn, self.controls, self.interval = frame_fn, controls, 1.0 / fps
        self.dreamers = LayerDreamers(frame_fn.dreamer)
        self.given_steps = frame_fn.opts.warm_steps  # --warm-steps: never adapted
        self.fit = DreamFit(self.interval, step_costs)
        self.layer: str | None = None
        self.new_dreamer = False  # its first dream traces it: not a cost to learn from

    def before(self) -> float:
        """Set up the next dream; returns its strength factor."""
        depth, strength, steps = self.controls.now()
        self.fn.dreamer, self.fn.layers, new = self.dreamers.at(depth)
        self.new_dreamer = self.new_dreamer or new
        self.layer = None if self.fn.layers is None else next(iter(self.fn.layers))
        self.fn.opts.warm_steps, self.fn.opts.warm_scale = self.fit.choose(self.fn.opts.warm_scale,
                                                                           steps or self.given_steps)
        self.controls.steps_now = self.fn.opts.warm_steps
        return strength

    def after(self, seconds: float, row: dict, flow_s: float = 0.0) -> dict:
        """Learn the cost of a warm dream at its size (not a first dream of a layer: that one traces), the flow it
        waited for included: the whole turn must fit the frame interval; returns the dream's row for the report."""
        if not row["cold"] and not self.new_dreamer:
            self.fit.record(row["scale"], row["steps"], seconds + flow_s)
        first_of_layer, self.new_dreamer = self.new_dreamer, False
        return {"frame": row["frame"], "seconds": round(seconds, 4), "flow_s": round(flow_s, 4),
                "traced": first_of_layer, "cold": row["cold"], "steps": row["steps"], "scale": row["scale"],
                "layer": self.layer, "strength": row["strength"]}

    def describe(self) -> str:
        depth, strength, steps = self.controls.now()
        layers = "the plan's layers" if depth is None else f"depth {depth:.1f} ({self.fn.dreamer.net.layer_at_depth(depth)})"
        return f"{layers}, strength x{strength:g}, warm steps {steps or 'adapted'}"


class LiveDreamer:
    """The network's side of a live session, one frame at a time (the newest a source has): each frame dreamed with
    the performer's controls and fitted to the frame interval (see Performance), warm along the flow from the last
    dream, afresh at a cut (the film's frame function decides). `mmdream live` feeds it from ffmpeg, the studio's
    Live tab from a browser's camera."""

    def __init__(self, frame_fn: FrameDreamer, controls: LiveControls, fps: float,
                 step_costs: dict[float, float] | None = None) -> None:
        self.fn, self.performance = frame_fn, Performance(frame_fn, controls, fps, step_costs)
        self.flow = FlowEstimator()
        self.prev: tuple[int, np.ndarray, np.ndarray] | None = None  # (index, input frame, dream)
        self.dreams: list[dict] = []  # one row per dream, for the report

    def dream(self, i: int, frame: np.ndarray) -> np.ndarray:
        """The dream of frame `i` (RGB uint8 at the session's size)."""
        prev = self.prev
        t_flow = time.perf_counter()
        motion = None if prev is None else self.flow.motion(prev[1], frame)
        flow_s = time.perf_counter() - t_flow
        strength = self.performance.before()
        start = time.perf_counter()
        out, row = self.fn(i, frame, None if prev is None else prev[1], None if prev is None else prev[2], motion,
                           strength)
        self.dreams.append(self.performance.after(time.perf_counter() - start, row, flow_s))
        self.prev = (i, frame, out)
        return out


def dream_live(source: str, dst: str, frame_fn: FrameDreamer, size: tuple[int, int], fps: float,
               opts: LiveOptions, controls: LiveControls | None = None, sound: LiveSound | None = None) -> dict:
    """Dream `source` live into `dst` (see the module) until the source ends, Ctrl-C or `controls.stop()`;
    returns per-frame latency and what was dreamed. `controls` (see live.controls) change depth, strength and
    steps while it runs; with `opts.keys`, the terminal's keys do. `sound`: the source's sound dreamed too (see
    live.sound). A file is written under a temporary name and renamed when the session ends (Ctrl-C ends a
    session: the recording is kept). Every shape is traced, and a step timed, before the source opens."""
    controls = controls if controls is not None else LiveControls()
    costs = trace_and_time(frame_fn, size)
    if is_stream(dst):
        return _dream_live(source, dst, frame_fn, size, fps, opts, controls, sound, costs)
    with atomic_output(Path(dst)) as tmp:
        return _dream_live(source, str(tmp), frame_fn, size, fps, opts, controls, sound, costs, named=dst)


def _dream_live(source: str, dst: str, frame_fn: FrameDreamer, size: tuple[int, int], fps: float,
                opts: LiveOptions, controls: LiveControls, sound: LiveSound | None,
                step_costs: dict[float, float], named: str | None = None) -> dict:
    """`named`: the output as the user named it, where `dst` is its temporary name."""
    live = _Live()
    controls.on_stop.append(live.interrupt)
    dreamer = LiveDreamer(frame_fn, controls, fps, step_costs)
    tap = None if sound is None else AudioTap(sound.rate, sound.channels, sound.put)
    frames = read_video_frames(source, size, fps, realtime=opts.realtime, sound=tap)
    limit = None if opts.seconds is None else max(1, round(opts.seconds * fps))  # counted: a stream's clock may not start at 0
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for i, frame in enumerate(frames):
                if live.stopped or (limit is not None and i >= limit):
                    break  # closing the generator stops ffmpeg
                live.arrive(i, frame)
        except BaseException as e:  # noqa: BLE001 - raised in the main thread
            errors.append(e)
        finally:
            live.set("source_ended")

    rows: list[dict] = []
    sink = LiveSink(dst, size, fps, None if sound is None else (sound.rate, sound.channels))

    def write() -> None:
        try:
            _write_all(live, sink, opts, rows, frame_fn.carry_on_device)
        except BaseException as e:  # noqa: BLE001 - raised in the main thread
            errors.append(e)

    def hear() -> None:
        try:
            sound.run(sink.write_audio, lambda: live.first_arrival, controls)
        except BaseException as e:  # noqa: BLE001 - raised in the main thread
            errors.append(e)
            live.set("stopped")

    reader = threading.Thread(target=read, name="mmdream-live-read", daemon=True)
    writer = threading.Thread(target=write, name="mmdream-live-write")
    listener = threading.Thread(target=hear, name="mmdream-live-sound", daemon=True) if sound else None
    here = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, live.interrupt) if here else None
    reader.start()
    writer.start()
    if listener is not None:
        listener.start()
    print(f"mmdream live: dreaming {source} into {named or dst}; Ctrl-C stops", file=sys.stderr,
          flush=True)  # all checked
    t0 = time.perf_counter()
    dreams = dreamer.dreams
    try:
        with keyboard(controls, dreamer.performance.describe) if opts.keys else contextlib.nullcontext():
            while not errors and (item := live.next_to_dream(-1 if dreamer.prev is None else dreamer.prev[0])):
                i, frame = item
                live.publish(i, frame, dreamer.dream(i, frame))
    finally:
        if errors or sys.exc_info()[0] is not None:
            live.set("stopped")
        live.set("dreamer_done")
        writer.join()
        if listener is not None:  # the sound ends with the pictures
            sound.finish(len(rows) / fps)
            listener.join()
        sink.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    interrupted = live.interrupted
    if errors and not interrupted:  # a source cut by Ctrl-C (ffmpeg hears it too) is no error
        raise errors[0]
    if not rows:
        raise UserError(f"{source} gave no video frames")
    latency = np.array([r["latency_s"] for r in rows])
    return {"frames_in": live.arrived, "frames_out": len(rows), "fps": fps, "size": list(size),
            "dreamed_frames": len(dreams), "carried_frames": sum(r["shown"] == "carried" for r in rows),
            "latency_p50_s": float(np.percentile(latency, 50)), "latency_p95_s": float(np.percentile(latency, 95)),
            "latency_max_s": float(latency.max()), "seconds": time.perf_counter() - t0,
            "stopped_by_user": interrupted,
            "first_dream_s": dreams[0]["seconds"] if dreams else None,  # the cold pyramid: raw frames before it
            "dream_seconds_mean": float(np.mean([d["seconds"] for d in dreams[1:]])) if len(dreams) > 1 else None,
            "step_seconds_before": {str(scale): round(c, 4) for scale, c in step_costs.items()},  # per size
            "options": {"deadline": opts.deadline, "realtime": opts.realtime, "max_size": opts.max_size},
            "controls": controls.changes, **(sound.figures() if sound is not None else {}),
            "per_dream": dreams, "per_frame": rows}


def _write_all(live: _Live, sink: LiveSink, opts: LiveOptions, rows: list[dict], on_device: bool = False) -> None:
    """Every arrived frame in order: its own dream if it comes before the deadline, else the last dream carried
    onto it (or the frame itself before any dream exists). A frame the network skipped (it took a newer one) waits
    for nothing: it is carried at once. `on_device`: carried where the dream runs (see carried_dream)."""
    flow = FlowEstimator()
    while True:
        with live.cond:
            live.cond.wait_for(lambda: live.waiting or live.source_ended or live.stopped)
            if live.stopped or not live.waiting:
                return
            i, frame, arrived = live.waiting.popleft()
            live.cond.wait_for(lambda i=i: (live.last is not None and live.last[0] >= i) or live.dreaming > i
                               or live.dreamer_done or live.stopped,
                               timeout=max(0.0, arrived + opts.deadline - time.perf_counter()))
            last = live.last
        if last is not None and last[0] == i:
            shown, rgb = "dreamed", last[2]
        elif last is not None:
            shown, rgb = "carried", carried_dream(frame, last[1], last[2], flow.motion(last[1], frame), opts.blend,
                                                  on_device)
        else:
            shown, rgb = "raw", frame
        sink.write(rgb)
        rows.append({"frame": i, "shown": shown, "from": None if last is None else last[0],
                     "latency_s": round(time.perf_counter() - arrived, 4)})
