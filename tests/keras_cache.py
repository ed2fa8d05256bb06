"""A stand-in for Keras' weight cache, for the paths that need ImageNet weights the model store would send.

Random weights (seeded) are written by Keras' own legacy h5 writer under the exact file names keras.applications
loads from `$KERAS_HOME/models`; the only thing patched is Keras' md5 check (`file_utils.validate_file`), so
everything else, Keras' loader and mmdream's weight copy included, runs as it does for a user with real weights.
Subprocesses and notebook kernels get the same patch from a `sitecustomize` on their PYTHONPATH.
"""

from __future__ import annotations

import os
from pathlib import Path

FILES = {
    "inception_v3": ("InceptionV3", "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"),
    "vgg16": ("VGG16", "vgg16_weights_tf_dim_ordering_tf_kernels.h5"),
    "vgg19": ("VGG19", "vgg19_weights_tf_dim_ordering_tf_kernels.h5"),
}
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
            path = self.models / FILES[name][1]
            if not path.exists():
                write_random_weights(name, path)
        return self

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (or notebook kernel) that sees this cache with the md5 check patched."""
        paths = [str(self.site), *filter(None, [os.environ.get("PYTHONPATH")])]
        return {**os.environ, "KERAS_HOME": str(self.home), "PYTHONPATH": os.pathsep.join(paths)}


def write_random_weights(name: str, path: Path, seed: int = 0) -> Path:
    """keras.applications' include_top model with seeded random weights, saved as Keras' legacy h5 weights."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(seed)
    model = getattr(keras.applications, FILES[name][0])(include_top=True, weights=None)
    tmp = path.with_suffix(".partial")
    with h5py.File(tmp, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    tmp.replace(path)
    return path
