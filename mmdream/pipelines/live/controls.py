"""What a performer changes while `mmdream live` runs: the layer depth, the strength and the warm steps, from the
keyboard of the terminal it runs in, or from Python (a notebook, the studio) through the same object.

Depth uses the schedule's mapping (0 the net's shallowest dreamable layer, 1 its deepest; see
`Net.layer_at_depth`), so "0.7" means the same here as in a schedule. The dreamer for a layer is built the first
time that depth is picked and kept; its one trace takes a moment, during which the last dream is carried."""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

KEYS = {"]": ("depth", +0.1), "[": ("depth", -0.1), "+": ("strength", 1.25), "=": ("strength", 1.25),
        "-": ("strength", 0.8), ".": ("steps", +1), ",": ("steps", -1)}
STOP_KEYS = "q"
HELP = "keys: [ ] depth, - + strength, , . warm steps, q stops"
MAX_WARM_STEPS = 8


@dataclass
class LiveControls:
    """Thread-safe live settings. `depth` None: the plan's layers; `steps` None: adapted to the frame rate (see
    `adapted_steps`). Every change is logged with its time for the report."""

    depth: float | None = None
    strength: float = 1.0
    steps: int | None = None
    stop_requested: bool = False
    steps_now: int = 1  # the warm steps dreams run with now (what a key's +-1 starts from while adapted)
    changes: list[dict] = field(default_factory=list)
    on_stop: list[Callable[[], None]] = field(default_factory=list, repr=False)  # the session's own stop
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _t0: float = field(default_factory=time.perf_counter, repr=False)

    def change(self, what: str, by: float) -> None:
        """One nudge: depth by +-0.1 (from 0.5 when the plan's layers held), strength by a factor, steps by +-1."""
        with self._lock:
            if what == "depth":
                self.depth = round(min(1.0, max(0.0, (0.5 if self.depth is None else self.depth) + by)), 2)
            elif what == "strength":
                self.strength = round(min(8.0, max(0.05, self.strength * by)), 4)
            elif what == "steps":
                self.steps = int(min(MAX_WARM_STEPS, max(1, (self.steps or self.steps_now) + by)))
            self.changes.append({"t": round(time.perf_counter() - self._t0, 3), "depth": self.depth,
                                 "strength": self.strength, "steps": self.steps})

    def set(self, depth: float | None, strength: float, steps: int | None) -> None:
        """All three at once, as sliders give them (the studio's Live tab); not logged as a performer's nudge."""
        with self._lock:
            self.depth, self.strength, self.steps = depth, strength, steps

    def stop(self) -> None:
        """End the session as the source's end would (the `q` key; Ctrl-C does the same)."""
        self.stop_requested = True
        for stop in self.on_stop:
            stop()

    def now(self) -> tuple[float | None, float, int | None]:
        with self._lock:
            return self.depth, self.strength, self.steps


class LayerDreamers:
    """A dreamer for each layer a performer picks by depth, built the first time and kept (None: the plan's). A
    layer the plan's dreamer holds is dreamed by it, its weight moved there: no new dreamer, no trace."""

    def __init__(self, base) -> None:
        self.base, self.built = base, {None: base}

    def at(self, depth: float | None) -> tuple[object, dict[str, float] | None, bool]:
        """(dreamer, its layers or None for the plan's, whether it was built just now)."""
        layer = None if depth is None else self.base.net.layer_at_depth(depth)
        if layer is not None and layer in self.base.layer_names:
            return self.base, {layer: 1.0}, False
        new = layer not in self.built
        if new:
            from mmdream.core.engine import Dreamer
            from mmdream.core.objectives import Objective

            self.built[layer] = Dreamer(self.base.net, Objective({layer: 1.0}))
        return self.built[layer], None if layer is None else {layer: 1.0}, new


def every_depth(net, depths: int = 20) -> list[str]:
    """Every layer a depth can pick, at `depths` steps from 0 to 1: a dreamer that holds them all (see
    mmdream.plan.build_plan's `also_layers`) moves weight when a performer changes depth and never waits for a
    trace, at the cost of every step running the net to the deepest of them."""
    return list(dict.fromkeys(net.layer_at_depth(i / depths) for i in range(depths + 1)))


SCALES = (1.0, 0.75, 0.5)  # few sizes: each new one costs a slow first dream (the kernels are set up per shape)
FITTED_STEPS = (1, 2, 3, 4)  # the warm steps a fit may choose at full size: where a step count is a compiled program
                             # of its own (a GPU), each is made before the source opens


def adapted(step_seconds: float, interval: float, scale: float = 1.0,
            most: int = FITTED_STEPS[-1]) -> tuple[int, float]:
    """Warm steps and dream scale that fit one frame interval, from the measured cost of one step at full size
    (the cost goes with the pixels): more steps where a step is cheap (a GPU; up to `most`); where even one is
    too dear, a smaller dream (`SCALES`), and the deadline carries the rest. From the `scale` in use it steps
    down when over the budget by a tenth, and back up only when the larger size would leave a fifth to spare."""
    budget = 0.9 * interval  # a margin: the writer and the source share the host too
    for s in SCALES:
        cost = step_seconds * s * s
        if cost <= budget * (1.1 if s == scale else 0.8 if s > scale else 1.0):
            return (int(min(most, max(1, interval // cost))) if s == 1.0 else 1), s
    return 1, SCALES[-1]


class DreamFit:
    """Fits the warm dreams to the frame interval (see `adapted`) from the median cost of the last dozen at each
    size, so a passing stall moves nothing; before a size has dreamed, from the step timed there before the source
    opened (`prior`: bare steps, without the flow and carry a dream has around it). A smaller size that turns out
    no faster than the one above it (a GPU whose time goes to per-operation overhead, not to pixels) is given up
    for good once dreams at both sizes show it; steps timed before the source only send the next dream up, since
    one timing can catch the host at a slow moment."""

    def __init__(self, interval: float, prior: dict[float, float] | None = None) -> None:
        self.interval = interval
        self.recent: dict[float, deque[float]] = {s: deque(maxlen=12) for s in SCALES}
        self.prior = dict(prior or {})
        self.least = SCALES[-1]

    def record(self, scale: float, steps: int, seconds: float) -> None:
        self.recent[scale].append(seconds / max(1, steps))

    def dreamed(self, scale: float) -> float | None:
        """Median seconds of one warm step at `scale` over its recent dreams, or None before any."""
        return float(np.median(self.recent[scale])) if self.recent[scale] else None

    def cost(self, scale: float) -> float | None:
        """`dreamed`, else the prior, else None."""
        return d if (d := self.dreamed(scale)) is not None else self.prior.get(scale)

    def _alike(self, scale: float, other: float) -> tuple[float, float, bool] | None:
        """The costs of two sizes measured the same way, and whether from dreams: both from dreams, else both from
        the prior."""
        if self.recent[scale] and self.recent[other]:
            return self.dreamed(scale), self.dreamed(other), True
        if scale in self.prior and other in self.prior:
            return self.prior[scale], self.prior[other], False
        return None

    def choose(self, scale: float, held: int | None) -> tuple[int, float]:
        """(steps, scale) for the next warm dream; `held`: steps the user or the performer set."""
        cost = self.cost(scale)
        if cost is None:
            return held or 1, scale
        larger = [s for s in SCALES if s > scale]
        pair = self._alike(scale, larger[-1]) if larger else None
        floor = self.least
        if pair is not None and pair[0] >= 0.9 * pair[1]:  # not faster than the size above: pixels are not the cost
            scale, cost, floor = larger[-1], self.cost(larger[-1]), larger[-1]
            if pair[2]:
                self.least = scale
        steps, fitted = adapted(cost / scale**2 * (held or 1), self.interval, scale)
        return held or steps, max(fitted, floor)


def key_actions(keys: str) -> Iterator[tuple[str, float] | None]:
    """What each key asks for: (what, by), None to stop; other keys are ignored."""
    for k in keys:
        if k in STOP_KEYS:
            yield None
        elif k in KEYS:
            yield KEYS[k]


@contextlib.contextmanager
def keyboard(controls: LiveControls, describe: Callable[[], str], stream=None) -> Iterator[bool]:
    """Read keys from the terminal while the block runs (unbuffered, not echoed; the terminal is restored after).
    Yields whether a terminal is there: a pipe or a file as stdin gives no keys and is left alone."""
    stream = stream if stream is not None else sys.stdin
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    if fd < 0 or not os.isatty(fd):
        yield False
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            if not select.select([fd], [], [], 0.1)[0]:
                continue
            data = os.read(fd, 32).decode(errors="ignore")
            if not data:
                return
            for action in key_actions(data):
                if action is None:
                    controls.stop()
                    return
                controls.change(*action)
                print(f"\r{describe()}", file=sys.stderr, flush=True)

    reader = threading.Thread(target=read, name="mmdream-live-keys", daemon=True)
    print(HELP, file=sys.stderr, flush=True)
    reader.start()
    try:
        yield True
    finally:
        done.set()
        reader.join(timeout=1.0)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
