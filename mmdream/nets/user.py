"""A user's own Keras image classifier (`.keras` or `.h5`), dreamed without a model card: its input size, layers,
classes and value range are read from the model itself.

The model is rebuilt on an input of any size (a dream works on pyramids of sizes): a flatten, whose dense layers
need the size the model was made for, gets the feature map resized to that size first, as VGG's head does; nested
models (a keras.applications base under a new head) are laid flat so their blocks can be dreamed. The logits are
read before a final softmax or sigmoid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
from keras import ops

from mmdream.errors import UserError
from mmdream.nets import parse_range
from mmdream.nets.classes import imagenet_classes
from mmdream.nets.graph import block_outputs, stable_names
from mmdream.nets.keras_base import ResizeTo, dtype_policy
from mmdream.nets.net import Net, layers_by_depth
from mmdream.nets.registry import RANGE_MARK


@keras.saving.register_keras_serializable(package="mmdream")
class ToRange(keras.layers.Layer):
    """[-1, 1] (mmdream's dream space) -> the [lo, hi] a model takes."""

    def __init__(self, lo: float, hi: float, **kw):
        super().__init__(**kw)
        self.lo, self.hi = lo, hi

    def call(self, x):
        return self.lo + (x + 1.0) * (0.5 * (self.hi - self.lo))

    def get_config(self):
        return {**super().get_config(), "lo": self.lo, "hi": self.hi}


def _read(path: Path) -> keras.Model:
    if path.is_dir():
        raise UserError(f"{path} is a folder (a TensorFlow SavedModel keeps no Keras layers to dream): save the "
                        "model as .keras with model.save('model.keras')")
    if not path.is_file():
        raise UserError(f"{path}: no such model file")
    from mmdream.nets import keras_apps, musicnn  # noqa: F401  (their layers, for models built on them)

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:  # a file that is not a model fails in many ways, inside Keras or h5py or zipfile
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        raise UserError(f"{path} is not a Keras model file ({reason})") from None


def _check_image_classifier(path: Path, model: keras.Model) -> None:
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4 or model.inputs[0].shape[-1] != 3:
        shapes = ", ".join(str(tuple(t.shape[1:])) for t in model.inputs)
        raise UserError(f"{path} is not an image net: it takes {shapes}, where a picture is (height, width, 3)")
    if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
        shapes = ", ".join(str(tuple(t.shape[1:])) for t in model.outputs)
        raise UserError(f"{path} is not a classifier: it gives {shapes}, where class scores are (classes,)")


def inferred_range(model: keras.Model) -> tuple[float, float] | None:
    """The value range a model takes when it says so itself: a model that rescales its input first takes pixels,
    0..255 (Keras' Rescaling, Normalization, keras.applications' EfficientNet and ConvNeXt)."""
    def first_layer(m: keras.Model):
        return next((op for op in m.layers if not isinstance(op, keras.layers.InputLayer)), None)

    first = first_layer(model)
    while isinstance(first, keras.Model):  # a nested model: its own first layer
        first = first_layer(first)
    if isinstance(first, (keras.layers.Rescaling, keras.layers.Normalization)):
        return 0.0, 255.0
    return None


def _twin(layer: keras.layers.Layer, logits: bool) -> keras.layers.Layer:
    """A new layer like `layer` (weights copied once it is built), at the precision in force; the logits layer
    without its softmax or sigmoid."""
    config = layer.get_config()
    config.pop("dtype", None)
    if logits:
        config["activation"] = "linear"
    return layer.__class__.from_config(config)


def _flat_call(model: keras.Model, x: Any, logits_of: Any) -> Any:
    """`model`'s layers applied anew to `x` (twins, so the new graph is the only one they are in), nested models
    laid flat, a flatten given the feature map at the size it was made for."""

    def call(op, *args, **kwargs):
        if isinstance(op, keras.Sequential):
            y = args[0]
            for layer in op.layers:
                y = call(layer, y)
            return y
        if isinstance(op, keras.Model):
            return _flat_call(op, args[0], logits_of)
        if not isinstance(op, keras.layers.Layer):  # a stateless operation (`x + y`)
            return op(*args, **kwargs)
        if op is logits_of and isinstance(op, keras.layers.Activation):  # the scores before a final softmax
            return args[0]
        if isinstance(op, (keras.layers.Flatten, keras.layers.Reshape)) and len(args[0].shape) == 4:
            made = op.input.shape
            if len(made) == 4 and None not in made[1:3]:
                args = (ResizeTo(int(made[1]), int(made[2]), name=f"{op.name}_resize")(args[0]), *args[1:])
        twin = _twin(op, op is logits_of)
        y = twin(*args, **kwargs)
        twin.set_weights(op.get_weights())
        return y

    if isinstance(model, keras.Sequential):
        return call(model, x)
    return model._run_through_graph(x, operation_fn=lambda op: op, call_fn=call)


def _output_layer(model: keras.Model) -> tuple[Any, bool]:
    """The layer that gives the scores, if it squashes them (softmax/sigmoid), and whether they are tags."""
    last = model.outputs[0]._keras_history.operation
    while isinstance(last, keras.Model):
        last = last.outputs[0]._keras_history.operation if not isinstance(last, keras.Sequential) else last.layers[-1]
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", "")
    if name in ("softmax", "sigmoid"):
        return last, name == "sigmoid"
    return None, False


def load_user_model(reference: str, precision: str = "fp32", listing: bool = False) -> Net:
    """A user's image classifier as a dreamable Net (see the module's docstring), built at `precision`.
    `listing`: only its layers are wanted, so a value range it cannot tell is no error (its extras say None)."""
    path_text, _, range_text = reference.partition(RANGE_MARK)
    path = Path(path_text)
    saved = _read(path)
    _check_image_classifier(path, saved)
    value_range = parse_range(range_text) if range_text else inferred_range(saved)
    told = value_range
    if value_range is None and listing:
        value_range = (-1.0, 1.0)
    elif value_range is None:
        raise UserError(f"cannot tell the values {path.name} takes (it does not rescale its input itself); give "
                        "--value-range LO,HI: 0,1, -1,1 or 0,255")
    logits_of, multilabel = _output_layer(saved)
    with dtype_policy(precision):
        inp = keras.Input((None, None, 3), name="image")
        logits = _flat_call(saved, ToRange(*value_range, name="to_range")(inp), logits_of)
        model = stable_names(keras.Model(inp, ops.cast(logits, "float32"), name=path.stem))
    layers = block_outputs(model)
    if not layers:
        raise UserError(f"{path} has no feature maps to dream (no convolution on the picture)")
    side = saved.inputs[0].shape[1]
    classes = int(saved.outputs[0].shape[-1])
    return Net(name=path.stem, model=model, layers=layers,
               classes=imagenet_classes() if classes == 1000 else [str(i) for i in range(classes)], kind="image",
               default_layers=layers_by_depth(layers), extras={"path": str(path), "value_range": told},
               min_size=_min_size(model, layers), input_side=int(side) if side else None, multilabel=multilabel)


def _min_size(model: keras.Model, layers: list[str]) -> int:
    """The smallest side the model takes end to end: its deepest layer's stride, tried (doubled while it fails)."""
    import numpy as np

    from mmdream.nets.graph import layer_output

    probe = keras.Model(model.input, layer_output(model, layers[-1]))
    side = 64
    stride = max(1, side // max(1, int(probe(np.zeros((1, side, side, 3), np.float32)).shape[1])))
    for size in (stride, 2 * stride, 4 * stride):
        try:
            if np.isfinite(np.asarray(model(np.zeros((1, size, size, 3), np.float32)))).all():
                return size
        except Exception:  # too small for a valid convolution or pool
            continue
    return 4 * stride
