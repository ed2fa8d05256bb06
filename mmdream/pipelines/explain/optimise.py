"""Adam on a batch of goals under random transformations: one compiled step (mmdream.core.backend) that turns the
parameter into inputs, moves each by its own transformation, reads the net's activations and ascends the sum of
each input's own objective, less lucid's diversity term where one goal has several inputs.

Each input's transformation is an affine map (scale, rotation and shift for a picture; a shift and a stretch of
the time axis for a sound) plus an offset (a sound's gain, in log-magnitude), drawn anew every step: a feature
that survives them is one the net sees, not an accident of one pixel grid (lucid's transformation robustness)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from mmdream.core import backend
from mmdream.core.objectives import LOGITS
from mmdream.nets import Net
from mmdream.nets.fold import fold_batch_norm
from mmdream.nets.graph import layer_output
from mmdream.pipelines.explain.goals import CHANNEL, Goal

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
DIVERSITY_WEIGHT = 0.5  # the diversity term's pull, as a share of each input's objective as it stands


@dataclass(frozen=True)
class Jitter:
    """The random transformations drawn each step: a picture's scale, rotation (degrees) and shift (pixels); a
    sound's time shift (a share of its length), stretch and gain (dB)."""

    scale: tuple[float, float] = (1.0, 1.0)
    degrees: float = 0.0
    shift: float = 0.0
    stretch: tuple[float, float] = (1.0, 1.0)
    gain_db: float = 0.0

    def draw(self, shape: tuple[int, int], batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(B, 8) affine maps, output point -> input point, about the centre; (B,) offsets."""
        h, w = shape
        maps, offsets = [], []
        for _ in range(batch):
            s = rng.uniform(*self.scale)
            a = math.radians(rng.uniform(-self.degrees, self.degrees))
            stretch = rng.uniform(*self.stretch)
            dy, dx = (rng.uniform(-self.shift, self.shift, 2) if self.shift >= 1 else
                      (rng.uniform(-self.shift, self.shift) * h, 0.0))
            c, si = math.cos(a) / s, math.sin(a) / s
            cy, cx = h / 2, w / 2
            b1 = c / stretch
            maps.append([c, -si, cx - c * cx + si * cy + dx, si, b1, cy - si * cx - b1 * cy + dy, 0.0, 0.0])
            offsets.append(rng.uniform(-self.gain_db, self.gain_db) * math.log(10) / 20)
        return np.asarray(maps, np.float32), np.asarray(offsets, np.float32)


PICTURE_JITTER = Jitter(scale=(0.9, 1.1), degrees=10.0, shift=12.0)
SOUND_JITTER = Jitter(shift=0.2, stretch=(0.95, 1.05), gain_db=5.0)
UNSEEN_PICTURE = Jitter(scale=(0.8, 1.2), degrees=20.0, shift=20.0)  # wider than any step saw


def transformed(x, maps, offsets, fill: str):
    return ops.image.affine_transform(x, maps, fill_mode=fill) + offsets[:, None, None, None]


class Explainer:
    """A net's activations for a batch of goals, and the compiled step that ascends them."""

    def __init__(self, net: Net, goals: list[Goal], group: list[int], diversity_layer: str | None) -> None:
        self.net, self.goals = net, goals
        model = fold_batch_norm(net.model)
        self.layers = sorted({g.layer for g in goals if g.kind == CHANNEL} | ({diversity_layer} - {None}))
        outputs = [layer_output(model, n) for n in self.layers] + [model.output]
        self.features = keras.Model(model.input, outputs, name=f"{net.name}_explained")
        self.widths = {n: int(o.shape[-1]) for n, o in zip(self.layers, outputs)}
        self.diversity_layer = diversity_layer
        # Each input's objective as selections: one row per input, one column per channel or class.
        self.select = {n: np.zeros((len(goals), self.widths[n]), np.float32) for n in self.layers}
        self.select[LOGITS] = np.zeros((len(goals), len(net.classes)), np.float32)
        for i, g in enumerate(goals):
            self.select[g.layer if g.kind == CHANNEL else LOGITS][i, g.index] = 1.0
        same = np.asarray(group)[:, None] == np.asarray(group)[None, :]
        self.pairs = (same & ~np.eye(len(goals), dtype=bool)).astype(np.float32)
        self.state = list(model.variables)

    def activations(self, x) -> dict:
        outs = self.features(x, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return {n: ops.cast(o, "float32") for n, o in zip([*self.layers, LOGITS], outs)}

    def scores(self, acts: dict):
        """Each input's own objective: its class's logit, or its channel's mean activation."""
        select = {k: ops.convert_to_tensor(v) for k, v in self.select.items()}  # tensors, for every backend
        total = ops.sum(acts[LOGITS] * select[LOGITS], axis=-1)
        for n in self.layers:
            total = total + ops.sum(ops.mean(acts[n], axis=(1, 2)) * select[n], axis=-1)
        return total

    def diversity(self, acts: dict):
        """Each input's mean similarity to the other inputs of its goal: the cosine of their layer's Gram matrices
        (lucid's diversity objective); 0 where a goal has one input."""
        if self.diversity_layer is None or not self.pairs.any():
            return ops.zeros((len(self.goals),))
        a = acts[self.diversity_layer]
        flat = ops.reshape(a, (ops.shape(a)[0], -1, ops.shape(a)[-1]))
        grams = ops.einsum("bnc,bnd->bcd", flat, flat)
        grams = grams / ops.maximum(ops.sqrt(ops.sum(grams * grams, axis=(1, 2), keepdims=True)), 1e-10)
        similar = ops.einsum("bcd,ecd->be", grams, grams)
        pairs = ops.convert_to_tensor(self.pairs)
        return ops.sum(similar * pairs, axis=-1) / ops.maximum(ops.sum(pairs, axis=-1), 1.0)

    def compile(self, to_input: Callable, fill: str, learning_rate: float) -> Callable:
        """The step (p, m, v, t, maps, offsets, diversity weight) -> (p, m, v, objective)."""
        b1, b2 = 0.9, 0.999

        def step(p, m, v, t, maps, offsets, weight):
            def loss(q):
                acts = self.activations(transformed(to_input(q), maps, offsets, fill))
                scores = self.scores(acts)  # the diversity term weighs in proportion to what it must not drown
                return ops.sum(scores - weight * ops.stop_gradient(ops.abs(scores)) * self.diversity(acts))

            value, g = backend.value_and_grad(loss, p)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            p = p + learning_rate * (m / (1 - b1 ** t)) / (ops.sqrt(v / (1 - b2 ** t)) + 1e-8)
            return p, m, v, value

        return backend.compiled(step, None, self.state)

    def similarity(self, acts: dict[str, np.ndarray]) -> np.ndarray:
        """What the diversity term measured, on a batch's activations: each input's mean similarity to the others of
        its goal (0 where a goal has one)."""
        if self.diversity_layer is None:
            return np.zeros(len(self.goals))
        return backend.array(self.diversity({self.diversity_layer: backend.tensor(acts[self.diversity_layer])}))

    def activations_of(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The activations of any batch of inputs, as arrays."""
        with backend.inference():
            return {k: backend.array(v) for k, v in self.activations(backend.tensor(x)).items()}

    def measure(self, x: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Each input's own objective (a batch of one input per goal), without transformation, and the
        activations."""
        acts = self.activations_of(x)
        return self.table(acts)[np.arange(len(self.goals)), np.arange(len(self.goals))], acts

    def table(self, acts: dict[str, np.ndarray]) -> np.ndarray:
        """Every goal's objective on every input of a batch's activations (inputs by goals)."""
        table = acts[LOGITS] @ self.select[LOGITS].T
        for n in self.layers:
            table = table + acts[n].mean(axis=(1, 2)) @ self.select[n].T
        return table


def optimise(explainer: Explainer, to_input: Callable, start: np.ndarray, shape: tuple[int, int], jitter: Jitter,
             fill: str, steps: int, learning_rate: float, rng: np.random.Generator,
             project: Callable | None = None, on_step: Callable[[], None] | None = None) -> np.ndarray:
    """`steps` of Adam from the parameter `start`; the inputs it ends at (no transformation), as an array."""
    step = explainer.compile(to_input, fill, learning_rate)
    p = backend.tensor(start)
    m, v = ops.zeros_like(p), ops.zeros_like(p)
    batch = start.shape[0]
    weight = backend.tensor(DIVERSITY_WEIGHT if explainer.pairs.any() else 0.0)
    for t in range(1, steps + 1):
        maps, offsets = jitter.draw(shape, batch, rng)
        p, m, v, _ = step(p, m, v, backend.tensor(float(t)), backend.tensor(maps), backend.tensor(offsets), weight)
        if project is not None:
            p = project(p)
        if on_step:
            on_step()
    return backend.array(to_input(p))
