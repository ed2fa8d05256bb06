"""The studio's Live tab: a visitor's camera, sent frame by frame by their browser, dreamed by the live engine
(mmdream.pipelines.live: the same frame dreamer, size fitting, cut detection and controls as `mmdream live`).

One stream per visitor and at most `max_live` at once (the next visitor is told that live is busy); a stream ends
when its page closes (Gradio's unload), when its frames stop coming for IDLE_S, or after `live_minutes`, and what it
built (its dreamers per layer and their traces) is let go so the memory returns."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from mmdream.errors import UserError

IDLE_S = 10.0  # a stream whose frames stopped coming this long ago has ended (its page went without a word)
STREAM_FPS = 10.0  # the frame rate each dream is fitted to (the page sends the next frame when a dream is back)
REPORT_EVERY = 50  # frames between the server's lines about a stream


@dataclass
class Stream:
    """One visitor's live stream: its dreamer, its controls and its measures."""

    net: str
    size: tuple[int, int]
    dreamer: object
    controls: object
    started: float = field(default_factory=time.monotonic)
    last: float = field(default_factory=time.monotonic)
    frames: int = 0
    latency_sum: float = 0.0  # seconds from a frame's arrival to its dream, summed after the first frame
    done_at: deque = field(default_factory=lambda: deque(maxlen=30))  # when each recent dream was handed back
    dreamed_layer: str | None = None  # the layer the last dream was at (the server says when it changes)
    controls_at: int = 0  # the frame the page's controls last changed with
    lock: threading.Lock = field(default_factory=threading.Lock)

    def rate(self) -> float:
        """Dreams handed back per second over the recent ones."""
        if len(self.done_at) < 2 or self.done_at[-1] <= self.done_at[0]:
            return 0.0
        return (len(self.done_at) - 1) / (self.done_at[-1] - self.done_at[0])

    def measured(self) -> str:
        """The server's own measure of the whole stream so far (the page shows the recent frames')."""
        return (f"{self.frames} frames in {time.monotonic() - self.started:.1f} s, mean latency "
                f"{self.mean_latency_ms():.0f} ms")

    def layer(self) -> str:
        return self.dreamer.performance.layer or "the net's own layers"

    def layer_change(self) -> str:
        """The server's line when the layer dreamed changes: from which frame, the frame the controls changed with
        (the same one where a slider's change is dreamed as it comes), and whether that dream waited for a trace."""
        first = self.dreamer.dreams[-1]
        return (f"dreams {self.layer()} from frame {self.frames} (controls changed at frame {self.controls_at}; "
                f"{1000 * first['seconds']:.0f} ms, {'traced' if first['traced'] else 'no trace'})")

    def mean_latency_ms(self) -> float:
        """A frame's arrival to its dream, averaged over the stream after its first frame (which starts it)."""
        return 1000 * self.latency_sum / max(1, self.frames - 1)

    def dreamed_size(self) -> tuple[int, int]:
        """(w, h) the last dream ran at: smaller than the stream where a full-size step would miss the frame
        interval on this host (its change is brought back up to the stream's size)."""
        from mmdream.pipelines.film.frames import scaled

        scale = self.dreamer.dreams[-1]["scale"] if self.dreamer.dreams else 1.0
        h, w = scaled((self.size[1], self.size[0]), scale)
        return w, h

    def status(self) -> str:
        """What the page shows beside the dream: the server's own measures (the rate over the recent dreams)."""
        w, h = self.dreamed_size()
        return (f"{self.rate():.1f} frames/s, latency {self.mean_latency_ms():.0f} ms; {self.size[0]}x{self.size[1]} "
                f"px dreamed at {w}x{h}, layer {self.layer()}, {self.frames} frames")


class LiveStreams:
    """Every visitor's live stream: started on their first frame, dreamed frame by frame, ended by `end`."""

    def __init__(self, max_live: int = 1, minutes: float = 10.0) -> None:
        self.max_live, self.seconds = max_live, minutes * 60
        self.streams: dict[str, Stream] = {}
        self.lock = threading.Lock()

    def frame(self, session: str, rgb: np.ndarray, net: str, max_size: int, depth: float | None, strength: float,
              steps: int | None) -> tuple[np.ndarray, str]:
        """The dream of the visitor's newest camera frame, and the stream's measures in words."""
        arrived = time.perf_counter()
        stream = self._stream(session, rgb, net, max_size)
        with stream.lock:  # a page that sends faster than its dreams come back waits its turn
            if stream.controls.now() != (depth, strength, steps):
                stream.controls.set(depth, strength, steps)
                stream.controls_at = stream.frames
            out = stream.dreamer.dream(stream.frames, _fitted(rgb, stream.size))
            if stream.dreamed_layer != stream.layer():
                stream.dreamed_layer = stream.layer()
                print(f"mmdream live: {session[:8]} {stream.layer_change()}", flush=True)
            stream.frames += 1
            stream.last = time.monotonic()
            stream.latency_sum += time.perf_counter() - arrived if stream.frames > 1 else 0.0
            stream.done_at.append(time.perf_counter())
            if stream.frames % REPORT_EVERY == 0:
                print(f"mmdream live: {session[:8]} at frame {stream.frames}: {stream.measured()}", flush=True)
            return out, stream.status()

    def _stream(self, session: str, rgb: np.ndarray, net: str, max_size: int) -> Stream:
        with self.lock:
            self._end_stale()
            stream = self.streams.get(session)
            if stream is not None and stream.net != net:
                self._drop(session, "changed net")
                stream = None
            elif stream is not None and time.monotonic() - stream.started > self.seconds:
                self._drop(session, "ran its time")
                raise UserError(f"a live stream lasts at most {self.seconds / 60:g} minutes; start it again")
            if stream is None:
                if len(self.streams) >= self.max_live:
                    raise UserError(f"live is busy ({self.max_live} stream(s) at once); try again "
                                    "when one ends")
                self.streams[session] = stream = _start(net, _size(rgb, max_size))
            return stream

    def end(self, session: str, why: str = "its page closed") -> None:
        """The visitor's stream ends now."""
        with self.lock:
            self._drop(session, why)

    def _end_stale(self) -> None:
        now = time.monotonic()
        for session, stream in list(self.streams.items()):
            if now - stream.last > IDLE_S:
                self._drop(session, "its frames stopped")

    def _drop(self, session: str, why: str) -> None:
        stream = self.streams.pop(session, None)
        if stream is None:
            return
        print(f"mmdream live: {session[:8]} ended ({why}): {stream.measured()}", flush=True)
        del stream
        gc.collect()  # its dreamers and their traces sit in reference cycles
        with contextlib.suppress(OSError, AttributeError):  # and the heap they took goes back to the system
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def _size(rgb: np.ndarray, max_size: int) -> tuple[int, int]:
    from mmdream.media.ffmpeg import even_size

    return even_size(rgb.shape[1], rgb.shape[0], max_size)


def _fitted(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A camera frame at the stream's size (a camera may change its own mid-stream)."""
    import cv2

    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _start(net: str, size: tuple[int, int]) -> Stream:
    """A live stream's dreamer, built as `mmdream live` builds one: every shape traced and a step timed first."""
    from mmdream.pipelines.live.controls import LiveControls
    from mmdream.pipelines.live.session import LiveDreamer, trace_and_time
    from mmdream.pipelines.live.setup import live_frames, live_parts
    from mmdream.specs import make_spec

    recipe, options = live_parts(make_spec("live", {"net": net, "max_size": max(size)}))
    frame_fn, _ = live_frames(recipe, options, STREAM_FPS, all_depths=True)  # the depth slider never waits
    costs = trace_and_time(frame_fn, size)
    controls = LiveControls()
    return Stream(net, size, LiveDreamer(frame_fn, controls, STREAM_FPS, costs), controls)
