"""What a dream maximises, as small composable terms (the shape of lucid's optvis objectives, Olah et al. 2017):

    deepdream("mixed3") + 0.2 * channel("mixed5", 7)
    class_logit(1)                      # a class
    class_set(weights)                  # a weighted set of classes (what a sound holds, for a picture)
    guided("block4c", guide_features)   # toward a guide picture's features

A term maps the activations of a batch, `{layer: tensor, "logits": tensor}`, to one score per batch item; it
names the layers it reads, so the engine builds a features model for exactly those. Terms add, subtract and scale
by numbers or tensors (a schedule's weights are a variable, so they change frame by frame without retracing).
`Objective` is the declarative form the CLI, the API and schedules use; it builds its term.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from keras import ops

LOGITS = "logits"
SEEN = "seen"  # the logits of the input at the side the net classifies at (a picture squashed to it)


class Term:
    """A differentiable score per batch item of a dict of activations."""

    def __init__(self, fn: Callable[[dict], object], layers: tuple[str, ...] = (), name: str = "term") -> None:
        self.fn, self.layers, self.name = fn, tuple(dict.fromkeys(layers)), name

    def __call__(self, acts: dict):
        return self.fn(acts)

    def __add__(self, other: Term | float) -> Term:
        if not isinstance(other, Term):
            return Term(lambda a: self(a) + other, self.layers, f"{self.name} + {other}")
        return Term(lambda a: self(a) + other(a), self.layers + other.layers, f"{self.name} + {other.name}")

    def __radd__(self, other: float) -> Term:  # sum() starts from 0
        return self if isinstance(other, (int, float)) and other == 0 else self + other

    def __mul__(self, k) -> Term:
        """Scale by a number, or by a callable read at each evaluation (a schedule's weight in a variable)."""
        return Term(lambda a: _value(k) * self(a), self.layers,
                    f"{k} * {self.name}" if isinstance(k, (int, float)) else f"w * {self.name}")

    __rmul__ = __mul__

    def __truediv__(self, k) -> Term:
        return Term(lambda a: self(a) / _value(k), self.layers, f"{self.name} / k")

    def __neg__(self) -> Term:
        return -1.0 * self

    def __sub__(self, other: Term | float) -> Term:
        return self + (-other)

    def __repr__(self) -> str:
        return f"Term({self.name})"


def _value(k):
    return k() if callable(k) else k


def deepdream(layer: str, channels: list[int] | None = None) -> Term:
    """The mean squared activation of a layer (or of some of its channels): the original DeepDream objective."""

    def score(acts: dict):
        a = acts[layer] if channels is None else ops.take(acts[layer], channels, axis=-1)
        return ops.mean(ops.square(a), axis=(1, 2, 3))

    return Term(score, (layer,), f"deepdream({layer}{'' if channels is None else f', {channels}'})")


def channel(layer: str, index: int) -> Term:
    """One channel of a layer, squared and averaged (DeepDream's objective on that channel alone)."""
    return deepdream(layer, [index])


def class_logit(index: int) -> Term:
    """The logit of one class."""
    return Term(lambda acts: acts[LOGITS][:, index], (LOGITS,), f"class_logit({index})")


def log_probabilities(logits, multilabel: bool = False):
    """Log-probabilities of a net's classes: one class of many (softmax), or each tag on its own (sigmoid)."""
    return ops.log_sigmoid(logits) if multilabel else ops.log_softmax(logits, axis=-1)


def class_set(weights) -> Term:
    """The weighted mean logit of a set of classes (`weights`, one per class, summing to 1, a variable a
    cross-modal dream changes frame by frame): a bark's target is every dog breed. Logits, not probabilities: a
    class's probability also rises by suppressing every other class, the easy and invisible way (measured on a
    photo: the dog mass reached 1.0 either way, but only the logits grew shapes one can see). Reads the logits of
    the input as the net classifies it (`SEEN`)."""
    return Term(lambda acts: ops.sum(acts[SEEN] * weights, axis=-1), (SEEN,), "class_set")


def guided(layer: str, guide) -> Term:
    """How well every position's features match their best match among a guide's features (`guide`: (n, c))."""

    def score(acts: dict):
        a = acts[layer]
        flat = ops.reshape(a, (ops.shape(a)[0], -1, ops.shape(a)[-1]))
        return ops.mean(ops.max(ops.einsum("bnc,mc->bnm", flat, guide), axis=-1), axis=-1)

    return Term(score, (layer,), f"guided({layer})")


@dataclass
class Objective:
    """The declarative objective: layers with weights (a weighted mean of their DeepDream terms), optionally
    restricted to channels, or a class `target` instead."""

    layers: dict[str, float]
    channels: dict[str, list[int]] = field(default_factory=dict)
    target: int | None = None

    def term(self, weights, guide: dict | None = None) -> Term:
        """The term to maximise; `weights` (one per layer, in order) is the schedule's variable."""
        names = list(self.layers)
        if self.target is not None:
            return class_logit(self.target)
        if guide is not None:
            return sum(guided(name, guide[name]) * _weight(weights, i) for i, name in enumerate(names))
        mix = sum(deepdream(name, self.channels.get(name)) * _weight(weights, i) for i, name in enumerate(names))
        return mix / (lambda: ops.sum(weights))


def _weight(weights, i: int) -> Callable[[], object]:
    """Layer i's weight, read from the variable whenever the term is evaluated (inside a trace: a live read)."""
    return lambda: weights[i]
