"""A stand-in for YAMNet's published weights file (storage.googleapis.com/audioset/yamnet.h5), which the model
store here cannot send: random weights (seeded) written in that file's layout, so `mmdream models install yamnet`
and the net's loader run as they do on the real file.

The layout is TensorFlow 2's Keras `save_weights` in HDF5 (the legacy format): the root's attributes `layer_names`
(every layer of yamnet_frames_model in its graph's order, weightless ones too), `backend` and `keras_version`; a group
per layer named as yamnet.py names it (`layer1/conv`, `layer2/depthwise_conv/bn`, ..., the classifier `dense`: a
name with slashes is a path of nested groups) holding `weight_names` and a dataset per weight at that name
(`layer1/conv/kernel:0`, `.../bn/beta:0`, `moving_mean:0`, `moving_variance:0`, `dense/kernel:0`, `dense/bias:0`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BLOCKS = [(2, 32), (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512), (1, 512), (1, 512),
          (1, 512), (2, 1024), (1, 1024)]


def published_layers() -> list[tuple[str, list[tuple[str, tuple[int, ...]]]]]:
    """(layer name, [(weight name, shape)]) in yamnet_frames_model's order, as yamnet.py names them."""
    layers: list[tuple[str, list]] = [("input_1", []), ("tf.compat.v1.pad", []), ("tf.signal.stft", []),
                                      ("tf.math.abs", []), ("tf.linalg.matmul", []), ("tf.math.log", []),
                                      ("tf.signal.frame", []), ("reshape", [])]
    channels = 1

    def bn(name: str, width: int) -> tuple[str, list]:
        return name, [(f"{name}/{w}:0", (width,)) for w in ("beta", "moving_mean", "moving_variance")]

    for i, (_, width) in enumerate(BLOCKS, start=1):
        if i == 1:
            layers += [(f"layer{i}/conv", [(f"layer{i}/conv/kernel:0", (3, 3, channels, width))]),
                       bn(f"layer{i}/conv/bn", width), (f"layer{i}/relu", [])]
        else:
            layers += [(f"layer{i}/depthwise_conv", [(f"layer{i}/depthwise_conv/depthwise_kernel:0",
                                                      (3, 3, channels, 1))]),
                       bn(f"layer{i}/depthwise_conv/bn", channels), (f"layer{i}/depthwise_conv/relu", []),
                       (f"layer{i}/pointwise_conv", [(f"layer{i}/pointwise_conv/kernel:0", (1, 1, channels, width))]),
                       bn(f"layer{i}/pointwise_conv/bn", width), (f"layer{i}/pointwise_conv/relu", [])]
        channels = width
    return layers + [("global_average_pooling2d", []),
                     ("dense", [("dense/kernel:0", (1024, 521)), ("dense/bias:0", (521,))]), ("activation", [])]


def write_yamnet_weights(path: Path, seed: int = 0) -> Path:
    """Random weights in the published file's layout: He-scaled kernels, batch norms that keep activations near
    unit scale, small logits."""
    import h5py

    rng = np.random.default_rng(seed)
    layers = published_layers()
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([name.encode() for name, _ in layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.3.0-tf"
        for name, weights in layers:
            group = f.require_group(name)
            group.attrs["weight_names"] = np.array([w.encode() for w, _ in weights])
            for weight, shape in weights:
                if weight.endswith("moving_variance:0"):
                    value = rng.uniform(0.5, 2.0, shape)
                elif weight.endswith(("beta:0", "moving_mean:0", "bias:0")):
                    value = rng.normal(0.0, 0.1, shape)
                else:
                    fan_in = int(np.prod(shape[:-1])) if "depthwise" not in weight else int(np.prod(shape[:2]))
                    value = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
                group.create_dataset(weight, data=value.astype(np.float32))
    return path
