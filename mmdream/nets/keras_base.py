"""What every net builder shares on Keras' side: the any-size resize layer, the precision policy, the threads."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from unittest import mock

import keras
from keras import ops


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


@contextlib.contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Build layers under a precision policy: 'bf16' means mixed bfloat16 (float32 variables)."""
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bf16" else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


def seed_random_weights(weights: str) -> None:
    """Random weights are the same in every process (a cluster's workers dream one net): seed before building.
    Keras' seeding seeds TensorFlow too wherever it is installed, importing it: a JAX or PyTorch process that has
    not imported it is spared that (seconds, and its memory); its weights come from Keras' own seed all the same."""
    if weights != "random":
        return
    from keras.src.utils import rng_utils

    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules or not hasattr(rng_utils, "tf"):
        keras.utils.set_random_seed(0)  # (a Keras that seeds otherwise: its own way)
        return
    # Only this module's name for TensorFlow says "absent", for this call: hiding the package itself (as
    # choose._Hiding hides what Keras spares) would make Keras' shared lazy module remember it as not installed,
    # and its tf.data support would be off for the rest of the process.
    with mock.patch.object(rng_utils, "tf", SimpleNamespace(available=False)):
        keras.utils.set_random_seed(0)
