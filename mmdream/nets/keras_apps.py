"""keras.applications nets (InceptionV3, VGG16, VGG19, …) built for any input size, with ImageNet weights through
Keras' own cache: each net's facts (constructor, weight file and hash, preprocessing, head) are its registry record."""

from __future__ import annotations

import os
from pathlib import Path

import keras
from keras import ops

from mmdream.errors import UserError
from mmdream.nets.graph import stable_names
from mmdream.nets.keras_base import ResizeTo, dtype_policy, seed_random_weights
from mmdream.nets.net import Net
from mmdream.nets.registry import DEFAULT_NET, KerasApp, NetSpec, keras_app_names, spec


def keras_cache_dir() -> Path:
    """Where keras.applications keeps ImageNet weights: $KERAS_HOME/models, else ~/.keras/models."""
    return Path(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras"))) / "models"


def keras_weights_path(name: str) -> Path:
    return keras_cache_dir() / spec(name).keras_app.weights_file


VERIFIED, CORRUPT, ABSENT = "cached and verified", "present but fails its md5 check", "absent"
UNPINNED = "cached (keras.applications pins no checksum for it)"


def _hash_name(file_hash: str) -> str:
    return "sha256" if len(file_hash) == 64 else "md5"


def weights_status(name: str) -> str:
    """VERIFIED, CORRUPT, UNPINNED or ABSENT for a keras.applications net's weight file in Keras' cache."""
    path = keras_weights_path(name)
    file_hash = spec(name).keras_app.file_hash
    if not path.exists():
        return ABSENT
    if file_hash is None:
        return UNPINNED
    if hash_matches(path, file_hash):
        return VERIFIED
    return CORRUPT.replace("md5", _hash_name(file_hash))


def hash_matches(path: Path, file_hash: str | None) -> bool:
    """Keras' own check of the hash it pins (none pinned: any file), remembered per (path, size, mtime) so
    listing nets does not re-read 500 MB files."""
    from keras.src.utils.file_utils import validate_file

    from mmdream.nets.cache import remembered

    if file_hash is None:
        return True
    st = path.stat()
    return remembered("verified.json", f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{file_hash}",
                      lambda: bool(validate_file(str(path), file_hash, _hash_name(file_hash))),
                      keep=lambda key: Path(key.split("|")[0]).exists())


def install_weights(name: str, source: str | Path) -> Path:
    """Copy a user's weights file into Keras' cache after checking the hash keras.applications pins. The user's
    file stays where it is; the copy appears under its final name only when complete."""
    import shutil

    from mmdream.io_utils import atomic_output, check_input_file

    if name not in keras_app_names():
        raise UserError(f"{name} takes no weights file; `mmdream models install` is for "
                        f"{', '.join(keras_app_names())}")
    source = check_input_file(source)
    app = spec(name).keras_app
    if not hash_matches(source, app.file_hash):
        raise UserError(f"{source} is not the {app.weights_file} keras.applications pins for {name} (its "
                        f"{_hash_name(app.file_hash)} differs)")
    target = keras_weights_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and target.samefile(source):
        return target
    with atomic_output(target) as tmp:
        shutil.copyfile(source, tmp)
    return target


@keras.saving.register_keras_serializable(package="mmdream")
class CaffePreprocess(keras.layers.Layer):
    """[-1, 1] RGB -> the 0..255 mean-subtracted BGR input VGG was trained on."""

    def call(self, x):
        x = (x + 1.0) * 127.5
        x = ops.flip(x, axis=-1)
        return x - ops.convert_to_tensor([103.939, 116.779, 123.68], dtype=x.dtype)


_MEAN, _STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]  # ImageNet's RGB statistics on 0..1


@keras.saving.register_keras_serializable(package="mmdream")
class FromDreamSpace(keras.layers.Layer):
    """[-1, 1] RGB -> the input a keras.applications net takes (its `preprocess_input` undone in the graph):
    "torch": 0..1 normalised by ImageNet's mean and deviation (DenseNet); "pixels": 0..255, for the nets that
    normalise inside themselves (EfficientNetV2, ConvNeXt, MobileNetV3); "efficientnet": 0..255 such that after
    EfficientNet's own normalisation the values are those keras.applications feeds its ImageNet weights (it
    divides once more by the square root of the deviation, tensorflow/tensorflow#49930)."""

    def __init__(self, mode: str, **kw):
        super().__init__(**kw)
        self.mode = mode

    def call(self, x):
        x = (x + 1.0) * 0.5
        mean, std = (ops.convert_to_tensor(v, dtype=x.dtype) for v in (_MEAN, _STD))
        if self.mode == "torch":
            return (x - mean) / std
        if self.mode == "efficientnet":
            x = mean + (x - mean) / ops.sqrt(std)
        return x * 255.0

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def _preprocess(app: KerasApp, inp):
    if app.preprocess == "caffe":
        return CaffePreprocess(name="caffe_preprocess")(inp)
    if app.preprocess == "tf":
        return inp
    return FromDreamSpace(app.preprocess, name="from_dream_space")(inp)


def _head(app: KerasApp, body: keras.Model):
    """The include_top head of keras.applications, on an any-size feature map: its weighted layers in the order
    of the weight file, the logits in float32."""
    h = body.output
    logits = {"dtype": "float32", "name": "predictions"}
    if app.head == "avg":
        h = keras.layers.GlobalAveragePooling2D(name="avg_pool")(h)
    elif app.head == "convnext":  # the body without its top ends in a LayerNormalization the full net lacks
        h = keras.layers.GlobalAveragePooling2D(name="head_gap")(body.layers[-1].input)
        h = keras.layers.LayerNormalization(epsilon=1e-6, name="head_layernorm")(h)
    elif app.head == "vgg":
        h = ResizeTo(7, 7, name="resize_to_7")(h)
        h = keras.layers.Flatten(name="flatten")(h)
        h = keras.layers.Dense(4096, activation="relu", name="fc1")(h)
        h = keras.layers.Dense(4096, activation="relu", name="fc2")(h)
    else:  # MobileNet v1 and v3: 1x1 convolutions on the pooled map
        h = keras.layers.GlobalAveragePooling2D(keepdims=True, name="avg_pool")(h)
        if app.head_width:
            h = keras.layers.Conv2D(app.head_width, 1, name="conv_2")(h)
            h = keras.layers.Activation("hard_swish", name="conv_2_hard_swish")(h)
        h = keras.layers.Conv2D(1000, 1, **logits)(h)
        return keras.layers.Flatten(name="logits")(h)
    return keras.layers.Dense(1000, **logits)(h)


def build_app(record: NetSpec, weights: str) -> keras.Model:
    """Any-size model: [-1, 1] RGB in, 1000 logits out, with the app's layers flat in one graph, at the dtype
    policy in force."""
    app = record.keras_app
    inp = keras.Input((None, None, 3), name="image")
    x = _preprocess(app, inp)
    body = getattr(keras.applications, app.constructor)(include_top=False, weights=None, input_tensor=x)
    model = keras.Model(inp, _head(app, body), name=record.name)
    if weights == "imagenet":
        # Keras' h5 loader fills weighted layers in graph order, checking count and shapes: the any-size graph comes
        # from the same constructor as the reference, while its auto-generated layer names differ.
        load_weights_file(model, imagenet_weights(record.name))
    return stable_names(model)


def imagenet_weights(name: str) -> Path:
    """The keras.applications ImageNet weight file (include_top) from Keras' cache, downloaded there by Keras if
    absent, checked by Keras against the hash it pins. A cached file that fails the check is the user's to replace, never deleted."""
    app = spec(name).keras_app
    if weights_status(name).startswith("present but fails"):  # Keras would download over it: leave it alone
        raise UserError(f"{keras_weights_path(name)} fails the {_hash_name(app.file_hash)} keras.applications pins "
                        f"for {name}; mmdream leaves it in place: replace it with `mmdream models install {name} FILE`")
    try:
        return Path(keras.utils.get_file(app.weights_file, app.url, cache_subdir="models",
                                         file_hash=app.file_hash, cache_dir=str(keras_cache_dir().parent)))
    except Exception as e:  # download failures surface as many exception types
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise UserError(
            f"ImageNet weights for {name} are not in Keras' cache ({keras_cache_dir()}) and could not be "
            f"downloaded ({reason}); use --net {DEFAULT_NET['image']} to dream offline, or `mmdream models install "
            f"{name} FILE`"
        ) from e


def load_weights_file(model: keras.Model, path: Path) -> None:
    """Keras' h5 loader, its refusal of a file that is not this net's (truncated, another net's) in one line."""
    try:
        model.load_weights(path)
    except (OSError, ValueError) as e:
        raise UserError(f"{path} is not {model.name}'s ImageNet weight file ({str(e).splitlines()[0][:120]}); "
                        f"replace it with `mmdream models install {model.name} FILE`") from None


def load(record: NetSpec, weights: str, precision: str, sr: int | None = None) -> Net:
    seed_random_weights(weights)
    with dtype_policy(precision):
        model = build_app(record, weights)
    return Net.built(record, model)


def status(record: NetSpec) -> str:
    return weights_status(record.name)


def weight_files(record: NetSpec) -> list[Path]:
    return [keras_weights_path(record.name)]


def offline(record: NetSpec) -> bool:
    """Whether the weights are in Keras' cache and pass the check keras.applications pins."""
    return weights_status(record.name) in (VERIFIED, UNPINNED)
