"""A loaded net: its model and what a dream needs to know about it."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from mmdream.errors import UserError
from mmdream.nets.classes import class_names, find_class, no_such_class
from mmdream.nets.registry import DEFAULT_DEPTHS, NetSpec


@functools.cache
def _keras_version() -> str:
    """Keras' installed version, read once: the metadata lookup parses a file each time, and the studio lists every
    net's layers on each request."""
    from importlib.metadata import version

    return version("keras")


def _layers_key(name: str) -> str:
    return f"{name}|keras {_keras_version()}"


def graph_layers(model: Any, name: str) -> list[str]:
    """The block outputs found in a net's graph (mmdream.nets.graph, which imports Keras), remembered so that
    `mmdream models` and the studio can list them without building the net."""
    from mmdream.nets.cache import remembered
    from mmdream.nets.graph import block_outputs

    layers = block_outputs(model)
    return remembered("layers.json", _layers_key(name), lambda: layers)


def record_layers(record: NetSpec, build: bool = False) -> list[str]:
    """A registered net's dreamable layers without loading its weights: its record's, else those found when it
    was last built; `build` builds its graph (random weights) when they were never found."""
    from mmdream.nets.cache import recalled

    if record.layers:
        return list(record.layers)
    if (known := recalled("layers.json", _layers_key(record.name))) is not None:
        return known
    return record.module().load(record, "random", "fp32").layers if build else []


def at_depth(layers: list[str], depth: float) -> str:
    """The layer at relative depth `depth` in [0, 1] of a list ordered shallow to deep (0 = shallowest)."""
    depth = min(max(depth, 0.0), 1.0)
    return layers[round(depth * (len(layers) - 1))]


def layers_by_depth(layers: list[str]) -> dict[str, float]:
    """Default layers for a net whose record names none: the layers at DEFAULT_DEPTHS."""
    return {at_depth(layers, depth): weight for depth, weight in DEFAULT_DEPTHS.items()}


@dataclass
class Net:
    """Input in the net's *dream space* (images: RGB in [-1, 1]; sound: natural-log STFT magnitudes, see
    mmdream.nets.musicnn), output logits. `layers` lists its dreamable layers from shallow to deep, so a depth in
    [0, 1] can name a layer."""

    name: str
    model: Any  # a keras.Model (typed loosely so this module, like the registry, imports no Keras)
    layers: list[str]
    classes: list[str]
    kind: str  # the modality: "image" or "audio"
    default_layers: dict[str, float]
    value_range: tuple[float, float] | None = (-1.0, 1.0)
    extras: dict = field(default_factory=dict)
    min_size: int = 1  # the smallest side (pixels, frames) the net takes end to end
    input_side: int | None = None  # the side it classifies a picture at (None: as it is)
    multilabel: bool = False  # its logits are tags (sigmoid), not one class of many (softmax)

    @classmethod
    def built(cls, record: NetSpec, model: Any, **more: Any) -> Net:
        """The net a builder made from its record."""
        layers = list(record.layers) or graph_layers(model, record.name)
        return cls(name=record.name, model=model, layers=layers, classes=class_names(record.classes),
                   kind=record.kind, default_layers=dict(record.default_layers) or layers_by_depth(layers),
                   min_size=record.min_size, input_side=record.input_side, multilabel=record.multilabel, **more)

    def layer_at_depth(self, depth: float) -> str:
        """The dreamable layer at relative depth `depth` in [0, 1] (0 = shallowest)."""
        return at_depth(self.layers, depth)

    def class_index(self, name: str) -> int:
        """Index of a class by number, whole name, first name or alias (nets.classes.find_class)."""
        if not isinstance(name, str):
            raise UserError(f"a class is named by text, not {type(name).__name__} {str(name)[:40]!r}")
        found = find_class(name, self.classes)
        if found is None:
            raise UserError(no_such_class(self.name, name, self.classes))
        return found


def require_kind(net: Net, kind: str, doing: str) -> None:
    """A net of the modality `doing` needs (a picture's dream, image style transfer), else one line naming the nets
    that are."""
    from mmdream.nets.registry import names

    if net.kind != kind:
        raise UserError(f"{net.name} is an {net.kind} net; {doing} needs one of {', '.join(names(kind))}")
