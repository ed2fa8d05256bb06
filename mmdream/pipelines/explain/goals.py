"""What to explain: each objective a `Goal` (a class, or one channel of a layer), parsed from the spec's words and
checked against the net's record where it can tell (its classes and layers), so a misspelt class is one line
before any net is built."""

from __future__ import annotations

from dataclasses import dataclass

from mmdream.errors import UserError
from mmdream.nets.classes import find_class, no_such_class

CLASS, CHANNEL = "class", "channel"


@dataclass(frozen=True)
class Goal:
    """One objective: the logit of class `index`, or the mean activation of channel `index` of `layer`."""

    kind: str
    index: int
    layer: str | None = None
    label: str = ""

    @property
    def title(self) -> str:
        return self.label if self.kind == CLASS else f"{self.layer}:{self.index}"


def class_goals(text: str, classes: list[str], net: str) -> list[Goal]:
    """'tabby, goldfish' (names, first names of a class or its aliases, or numbers) -> one goal per class. A name
    may hold commas of its own ("black widow, Latrodectus mactans"): the longest run of parts that names a class
    is taken."""
    parts = [p.strip() for p in text.split(",")]
    goals, i = [], 0
    while i < len(parts):
        for j in range(len(parts), i, -1):
            found = find_class(", ".join(parts[i:j]), classes)
            if found is not None:
                goals.append(Goal(CLASS, found, label=classes[found].split(",")[0].strip()))
                i = j
                break
        else:
            raise UserError(no_such_class(net, parts[i], classes))
    return goals


def channel_goals(text: str, layers: list[str] | None, net: str) -> list[Goal]:
    """'block4c:3,7' -> a goal per channel of that layer (the channels' count is checked once the net is built)."""
    layer, sep, numbers = text.partition(":")
    layer = layer.strip()
    check_layer(layer, layers, net)
    try:
        indices = [int(n) for n in numbers.split(",")] if sep else []
    except ValueError:
        indices = []
    if not indices or min(indices) < 0:
        raise UserError(f"channel must be LAYER:N[,N...] with channel numbers from 0, not {text!r:.60}")
    return [Goal(CHANNEL, n, layer) for n in indices]


def check_layer(layer: str, layers: list[str] | None, net: str) -> None:
    """A layer the net has among its dreamable ones (where they are known without building it)."""
    if layers and layer not in layers:
        raise UserError(f"net {net} has no layer {layer!r}; choose from {', '.join(layers)}")


def check_channels(goals: list[Goal], widths: dict[str, int], net: str) -> None:
    """Each channel within its layer's width, once the net is built."""
    for g in goals:
        if g.kind == CHANNEL and g.index >= widths[g.layer]:
            raise UserError(f"layer {g.layer} of {net} has {widths[g.layer]} channels (0 to {widths[g.layer] - 1}), "
                            f"not channel {g.index}")
