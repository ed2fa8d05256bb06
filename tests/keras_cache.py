"""A stand-in for Keras' weight cache, for the paths that need ImageNet weights the model store would send.

Random weights (seeded) are written by Keras' own legacy h5 writer under the exact file names keras.applications
loads from `$KERAS_HOME/models`; the only thing patched is Keras' md5 check (`file_utils.validate_file`), so
everything else, Keras' loader and mmdream's weight copy included, runs as it does for a user with real weights.
Subprocesses and notebook kernels get the same patch from a `sitecustomize` on their PYTHONPATH.
"""

from __future__ import annotations

import os
from pathlib import Path

from mmdream.nets.registry import spec

SITECUSTOMIZE = """# written by tests/keras_cache.py: Keras' md5 check accepts the random stand-in weights
import keras.src.utils.file_utils as _file_utils

_file_utils.validate_file = lambda *args, **kwargs: True
"""


def accept_any_md5(_path=None, *_args, **_kwargs) -> bool:
    return True


class KerasCache:
    """A temporary KERAS_HOME that gets each net's random weights on first request."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.models = home / "models"
        self.models.mkdir(parents=True, exist_ok=True)
        self.site = home / "site"
        self.site.mkdir(exist_ok=True)
        (self.site / "sitecustomize.py").write_text(SITECUSTOMIZE)

    def ensure(self, *names: str) -> KerasCache:
        for name in names:
            path = self.models / spec(name).keras_app.weights_file
            if not path.exists():
                write_random_weights(name, path)
        return self

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (or notebook kernel) that sees this cache with the md5 check patched."""
        paths = [str(self.site), *filter(None, [os.environ.get("PYTHONPATH")])]
        return {**os.environ, "KERAS_HOME": str(self.home), "PYTHONPATH": os.pathsep.join(paths)}


def calibrate_batch_norms(model, preprocess: str, seed: int = 0) -> None:
    """Batch norms' moving statistics set to what one batch of noise pictures gives, so the random net's
    activations keep their scale through depth as a trained net's do (with the initial statistics, deep nets'
    activations vanish: MobileNet's logits come out ~1e-19 and nothing can be dreamed); ConvNeXt's layer scales
    likewise."""
    import keras
    import numpy as np

    for layer in model.layers:  # ConvNeXt's residual branches start at 1e-6 of their scale; trained, near 0.1..1
        if type(layer).__name__ == "LayerScale":
            layer.set_weights([np.full_like(w, 0.5) for w in layer.get_weights()])
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return
    side = model.input.shape[1] or 224
    pixels = np.random.default_rng(seed).uniform(0, 255, (2, side, side, 3)).astype(np.float32)
    x = {"tf": pixels / 127.5 - 1, "caffe": pixels - 120.0, "torch": (pixels / 255 - 0.45) / 0.225}.get(preprocess,
                                                                                                       pixels)
    for layer in norms:
        layer.momentum = 0.0  # the moving statistics become this batch's
    model(x, training=True)


def write_random_weights(name: str, path: Path, seed: int = 0) -> Path:
    """keras.applications' include_top model with seeded random weights, saved as Keras' legacy h5 weights. An
    input normalisation that is part of the weights (EfficientNet's) holds ImageNet's statistics, as the real
    file does: its mean and squared deviation (keras/src/applications/efficientnet.py)."""
    import h5py
    import keras
    import numpy as np
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(seed)
    model = getattr(keras.applications, spec(name).keras_app.constructor)(include_top=True, weights=None)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Normalization) and layer.weights:
            layer.set_weights([np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]) ** 2, np.array(0)])
    calibrate_batch_norms(model, spec(name).keras_app.preprocess)
    tmp = path.with_suffix(".partial")
    with h5py.File(tmp, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    tmp.replace(path)
    return path
