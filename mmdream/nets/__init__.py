"""The network registry: every dreamable net, image or audio, behind one `load_net` call.

A `Net` takes input in its *dream space* (images: RGB in [-1, 1]; audio: natural-log STFT magnitudes, see
mmdream.nets.musicnn) and outputs logits; `layers` lists its dreamable layer names from shallow to deep, so a depth in [0, 1] can name a layer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import keras
from keras import ops

from mmdream.errors import UserError


@keras.saving.register_keras_serializable(package="mmdream")
class ResizeTo(keras.layers.Layer):
    """Resize a feature map to a fixed (height, width), so a dense head works at any input size: VGG's top on
    any photo, musicnn's VGG head on any duration. `width=None` keeps the input's width (the mel axis)."""

    def __init__(self, height: int, width: int | None = None, **kw):
        super().__init__(**kw)
        self.height, self.width = height, width

    def call(self, x):
        return ops.image.resize(x, (self.height, self.width or x.shape[2]), interpolation="bilinear")

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


@dataclass
class Net:
    name: str
    model: keras.Model
    layers: list[str]
    classes: list[str]
    kind: str  # "image" or "audio"
    default_layers: dict[str, float]
    value_range: tuple[float, float] | None = (-1.0, 1.0)
    extras: dict = field(default_factory=dict)
    min_size: int = 1  # the smallest side (pixels, frames) the net takes end to end

    def layer_at_depth(self, depth: float) -> str:
        """The dreamable layer at relative depth `depth` in [0, 1] (0 = shallowest)."""
        depth = min(max(depth, 0.0), 1.0)
        return self.layers[round(depth * (len(self.layers) - 1))]

    def class_index(self, name: str) -> int:
        """Index of a class by exact name, by a comma-separated alias, or by number."""
        if name.isdigit() and int(name) < len(self.classes):
            return int(name)
        wanted = name.strip().lower().replace("_", " ")
        for i, c in enumerate(self.classes):
            aliases = [a.strip().lower().replace("_", " ") for a in c.split(",")]
            if wanted in aliases:
                return i
        raise UserError(f"net {self.name} has no class {name!r} (see `mmdream models {self.name}`)")


@dataclass
class NetSpec:
    name: str
    kind: str
    loader: Callable[[str], Net]
    layers: Callable[[], list[str]]
    offline: Callable[[], bool]
    description: str
    classes: Callable[[], list[str]] | None = None
    status: Callable[[], str] | None = None  # where its weights stand, in words (see `mmdream models`)


_REGISTRY: dict[str, NetSpec] = {}


def register(spec: NetSpec) -> None:
    _REGISTRY[spec.name] = spec


def specs() -> list[NetSpec]:
    _ensure_registered()
    return list(_REGISTRY.values())


@contextlib.contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Build layers under a precision policy: 'bf16' means mixed bfloat16 (float32 variables)."""
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bf16" else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


def use_threads(n: int) -> None:
    """TensorFlow's intra-op threads (and as many inter-op): a net's sums are split across them, so its numbers,
    and a film's frames, are the same only at the same count. Takes effect before TensorFlow's first op. OpenCV
    (the optical flow) gets as many: its results do not depend on them, and at 1 thread the flow of a 540 px frame
    costs 7.4 ms of CPU instead of 12.1 (measured here), CPU the network can use."""
    import cv2

    cv2.setNumThreads(n)
    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(n)
        return
    import tensorflow as tf

    if tf.config.threading.get_intra_op_parallelism_threads() == n:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:
        raise UserError(f"cannot use {n} thread(s): TensorFlow already runs with "
                        f"{tf.config.threading.get_intra_op_parallelism_threads() or 'its default'}") from None


def load_net(name: str, weights: str = "imagenet", precision: str = "fp32", sr: int | None = None) -> Net:
    """Load a registered net by name, or a trained model by path (`models/NAME.keras`).

    Audio nets are built for the input's sample rate `sr` (their mel front end is part of the graph).
    """
    _ensure_registered()
    if Path(name).suffix == ".keras" or name not in _REGISTRY:
        from mmdream.nets.trained import find_trained, load_trained

        if (path := find_trained(name)) is not None:
            return load_trained(path, precision, sr)
    if name not in _REGISTRY:
        raise UserError(f"unknown net {name!r}; choose one of {', '.join(_REGISTRY)} (see `mmdream models`)")
    if weights == "random":  # the same random net in every process: a cluster's workers dream one net
        keras.utils.set_random_seed(0)
    if _REGISTRY[name].kind == "audio":
        from mmdream.nets.musicnn import dream_net

        return dream_net(name, sr or 16000, "random" if weights == "random" else "pretrained", precision)
    with dtype_policy(precision):
        return _REGISTRY[name].loader(weights)


def _ensure_registered() -> None:
    if _REGISTRY:
        return
    from mmdream.nets import image_nets

    image_nets.register_all()
    with contextlib.suppress(ImportError):
        from mmdream.nets import musicnn

        musicnn.register_all()
