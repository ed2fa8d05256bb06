"""What a net's graph says about dreaming it: its dreamable layers (the outputs of its blocks, in depth order),
names that stay the same from build to build, and the tensor a layer name stands for.

Found from the graph alone, so any keras.applications net or a user's own model needs no hand-written list.
A block output is a *cut* of the graph (every path from the picture to the logits goes through it) at which the
net branches again or merges its branches: a ResNet's or MobileNet's residual sum, an Inception or DenseNet
concatenation. A net that never branches (VGG, MobileNet v1) is a chain, and every cut that a convolution or
pool follows is one of its layers.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import keras

# Class-name parts of the operations that mix pixels or channels (a conv, a dense, a pool); the rest act
# pixel by pixel (a norm, an activation) or only pad.
_MIXING = ("Conv", "Dense", "Pooling", "Separable", "Depthwise", "Sequential", "Functional")
_MERGES = ("Add", "Concatenate")


def _name(op: Any) -> str:
    return type(op).__name__


def _mixes(op: Any) -> bool:
    return any(part in _name(op) for part in _MIXING) and "Global" not in _name(op)


def _pads(op: Any) -> bool:
    return "Padding" in _name(op) or "Cropping" in _name(op)


def _edges(model: keras.Model) -> tuple[list, dict[int, list], dict[int, list]]:
    """The model's operations in graph order, and each one's parents and children within the model."""
    ops = list(model.operations)
    inside = {id(op) for op in ops}
    parents: dict[int, list] = {id(op): [] for op in ops}
    children: dict[int, list] = {id(op): [] for op in ops}
    for op in ops:
        for node in op._inbound_nodes:
            for tensor in node.input_tensors:
                source = tensor._keras_history.operation
                if id(source) in inside:
                    parents[id(op)].append(source)
                    children[id(source)].append(op)
    return ops, parents, children


def _cuts(ops: list, parents: dict[int, list]) -> list[bool]:
    """Whether each operation is a cut: in graph order, a path avoids an operation exactly when some edge jumps
    over it, so counting the edges that span each position finds them in one pass."""
    at = {id(op): i for i, op in enumerate(ops)}
    spans = [0] * (len(ops) + 1)
    for op in ops:
        for parent in parents[id(op)]:
            if at[id(op)] - at[id(parent)] > 1:
                spans[at[id(parent)] + 1] += 1
                spans[at[id(op)]] -= 1
    running, cuts = 0, []
    for i in range(len(ops)):
        running += spans[i]
        cuts.append(running == 0)
    return cuts


def _feature_map(op: Any) -> bool:
    try:
        shape = op.output.shape
    except (AttributeError, ValueError):  # several outputs, or none
        return False
    return len(shape) == 4 and not isinstance(op, keras.layers.InputLayer)


def _head_start(ops: list) -> int:
    """Where the classifier head begins: its global pool (the last: a squeeze-and-excite block pools earlier), or
    the first flatten or resize to the head's fixed size."""
    pools = [i for i, op in enumerate(ops) if "Global" in _name(op)][-1:]
    flat = [i for i, op in enumerate(ops) if _name(op) in ("Flatten", "ResizeTo")][:1]
    return min(pools + flat, default=len(ops))


def block_outputs(model: keras.Model) -> list[str]:
    """The names of a net's block outputs, shallow to deep (see the module's docstring)."""
    ops, parents, children = _edges(model)
    cuts = _cuts(ops, parents)
    first = next((i for i, op in enumerate(ops) if _mixes(op)), len(ops))
    candidates = [op for i, op in enumerate(ops[:_head_start(ops)]) if cuts[i] and i >= first
                  and len(op._inbound_nodes) == 1
                  and _feature_map(op) and not _pads(op) and "Global" not in _name(op)]
    candidate_ids = {id(op) for op in candidates}

    def spatial_children(op: Any) -> list:  # a squeeze-and-excite branch (a global pool) is not a fork
        return [c for c in children[id(op)] if "Global" not in _name(c)]

    forks = {id(op) for op in candidates if len(spatial_children(op)) >= 2}
    merges = {id(op) for op in candidates if _name(op) in _MERGES}
    kept = []
    for op in candidates:
        nxt = children[id(op)]
        if (len(nxt) == 1 and id(nxt[0]) in candidate_ids and not _mixes(nxt[0]) and not _pads(nxt[0])
                and nxt[0].output.shape[-1] == op.output.shape[-1]):
            # The operation after it (a norm, an activation) only reshapes its values pixel by pixel: it stands
            # for this one, a merge's activation as the merge.
            if id(op) in merges:
                merges.add(id(nxt[0]))
            continue
        kept.append(op)
    if sum(id(op) in forks for op in kept) >= 3:  # a branching net: its blocks' outputs
        kept = [op for op in kept if id(op) in forks or id(op) in merges or op is kept[-1]]
    return [op.name for op in kept]


def stable_names(model: keras.Model) -> keras.Model:
    """Renames the operations Keras named itself (`add_37`, `activation_952`: numbered by how many were built
    before in the process) as a fresh process would (`add`, `add_1`, … in the order they were made), so a layer's
    name is the same in every process and on every build; returns the model."""
    from keras.src.utils.naming import to_snake_case

    auto: dict[str, list[tuple[int, Any]]] = {}
    for op in model.operations:
        base = to_snake_case(_name(op))
        if (match := re.fullmatch(rf"{re.escape(base)}(?:_(\d+))?", op.name)) is not None:
            auto.setdefault(base, []).append((int(match[1] or 0), op))
    taken = {op.name for op in model.operations}
    for base, numbered in auto.items():
        free = (name for k in itertools.count() if (name := base if k == 0 else f"{base}_{k}")
                not in taken - {op.name for _, op in numbered})
        for _, op in sorted(numbered, key=lambda pair: pair[0]):
            op.name = next(free)
    return model


def layer_output(model: keras.Model, name: str) -> Any:
    """The tensor a dreamable layer's name stands for: a layer's output, or an operation's (ConvNeXt's residual
    sums are operations, not layers)."""
    for op in model.operations:
        if op.name == name:
            return op.output
    raise ValueError(f"{model.name} has no layer {name!r}")
