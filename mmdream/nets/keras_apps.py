"""keras.applications nets (InceptionV3, VGG16, VGG19, …) built for any input size, with ImageNet weights through
Keras' own cache: each net's facts (constructor, weight file, md5, preprocessing, head) are its registry record."""

from __future__ import annotations

import os
from pathlib import Path

import keras
from keras import ops

from mmdream.errors import UserError
from mmdream.nets.keras_base import ResizeTo, dtype_policy, seed_random_weights
from mmdream.nets.net import Net
from mmdream.nets.registry import DEFAULT_NET, NetSpec, keras_app_names, spec

_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/{folder}/{file}"


def keras_cache_dir() -> Path:
    """Where keras.applications keeps ImageNet weights: $KERAS_HOME/models, else ~/.keras/models."""
    return Path(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras"))) / "models"


def keras_weights_path(name: str) -> Path:
    return keras_cache_dir() / spec(name).keras_app.weights_file


VERIFIED, CORRUPT, ABSENT = "cached and verified", "present but fails its md5 check", "absent"


def weights_status(name: str) -> str:
    """VERIFIED, CORRUPT or ABSENT for a keras.applications net's weight file in Keras' cache."""
    path = keras_weights_path(name)
    if not path.exists():
        return ABSENT
    return VERIFIED if md5_matches(path, spec(name).keras_app.md5) else CORRUPT


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

    if name not in keras_app_names():
        raise UserError(f"{name} takes no weights file; `mmdream models install` is for "
                        f"{', '.join(keras_app_names())}")
    source = check_input_file(source)
    app = spec(name).keras_app
    filename, md5 = app.weights_file, app.md5
    if not md5_matches(source, md5):
        raise UserError(f"{source} is not the {filename} keras.applications pins for {name} (its md5 differs)")
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


def _build_app(record: NetSpec, weights: str) -> keras.Model:
    """Any-size model: [-1, 1] RGB in, 1000 logits out, with the app's layers flat in one graph."""
    app = record.keras_app
    inp = keras.Input((None, None, 3), name="image")
    x = CaffePreprocess(name="caffe_preprocess")(inp) if app.preprocess == "caffe" else inp
    body = getattr(keras.applications, app.constructor)(include_top=False, weights=None, input_tensor=x)
    h = body.output
    if app.head == "avg":
        h = keras.layers.GlobalAveragePooling2D(name="avg_pool")(h)
    else:
        h = ResizeTo(7, 7, name="resize_to_7")(h)
        h = keras.layers.Flatten(name="flatten")(h)
        h = keras.layers.Dense(4096, activation="relu", name="fc1")(h)
        h = keras.layers.Dense(4096, activation="relu", name="fc2")(h)
    logits = keras.layers.Dense(1000, name="predictions", dtype="float32")(h)
    model = keras.Model(inp, logits, name=record.name)
    if weights == "imagenet":
        # Keras' h5 loader fills weighted layers in graph order, checking count and shapes: the any-size graph comes
        # from the same constructor as the reference, while its auto-generated layer names differ.
        model.load_weights(imagenet_weights(record.name))
    return model


def imagenet_weights(name: str) -> Path:
    """The keras.applications ImageNet weight file (include_top) from Keras' cache, downloaded there by Keras if
    absent, md5-checked by Keras. A cached file that fails the check is the user's to replace, never deleted."""
    app = spec(name).keras_app
    filename, md5 = app.weights_file, app.md5
    if weights_status(name) == CORRUPT:  # Keras would download over it: leave the user's file alone
        raise UserError(f"{keras_weights_path(name)} fails the md5 keras.applications pins for {name}; mmdream "
                        f"leaves it in place: replace it with `mmdream models install {name} FILE`")
    try:
        return Path(keras.utils.get_file(filename, _ORIGIN.format(folder=spec(name).keras_app.folder, file=filename), cache_subdir="models",
                                         file_hash=md5, cache_dir=str(keras_cache_dir().parent)))
    except Exception as e:  # download failures surface as many exception types
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise UserError(
            f"ImageNet weights for {name} are not in Keras' cache ({keras_cache_dir()}) and could not be "
            f"downloaded ({reason}); use --net {DEFAULT_NET['image']} to dream offline, or `mmdream models install "
            f"{name} FILE`"
        ) from e


def load(record: NetSpec, weights: str, precision: str, sr: int | None = None) -> Net:
    seed_random_weights(weights)
    with dtype_policy(precision):
        model = _build_app(record, weights)
    return Net.built(record, model)


def status(record: NetSpec) -> str:
    return weights_status(record.name)


def offline(record: NetSpec) -> bool:
    """Whether the weights are in Keras' cache and pass the md5 keras.applications pins."""
    return weights_status(record.name) == VERIFIED
