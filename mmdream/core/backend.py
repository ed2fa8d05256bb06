"""The Keras backend the engine runs on, and the few things that differ between backends.

The engine and the objectives are written in `keras.ops`, so the dream runs wherever Keras 3 does. TensorFlow is
the default and what `make install` sets up: functions are traced once with shape-polymorphic signatures and
gradients come from a tape. PyTorch (`KERAS_BACKEND=torch`) runs eagerly, which a GPU's asynchronous kernels
tolerate: it is how the film runs on a GPU machine whose image holds PyTorch and no TensorFlow (the bench's GPU
figures in the README were taken so). Only compiling a function, the gradient with respect to the input, a
step's roll offsets, mirrored padding and inference without a tape are backend-specific; all of it is here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import keras
from keras import ops

NAME = keras.backend.backend()
TRACED = NAME == "tensorflow"


def spec(shape: list[int | None], dtype: str = "float32"):
    """The signature of one argument of a compiled function (TensorFlow's TensorSpec; None elsewhere)."""
    if not TRACED:
        return None
    import tensorflow as tf

    return tf.TensorSpec(shape, dtype)


def compiled(fn: Callable, signature: list) -> Callable:
    """`fn` traced once for every shape its `signature` allows (TensorFlow), or `fn` itself (eager backends)."""
    if not TRACED:
        return fn
    import tensorflow as tf

    return tf.function(fn, input_signature=signature, autograph=False)


def traces(*fns: Callable) -> int:
    """How many times `fns` were traced (0 where nothing is traced)."""
    return sum(f.experimental_get_tracing_count() for f in fns) if TRACED else 0


def value_and_grad(loss: Callable, x):
    """(loss(x), d loss / d x): the one gradient the dream takes, with respect to its input."""
    if NAME == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(x)
        return value, tape.gradient(value, x)
    if NAME == "torch":
        import torch

        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            value = loss(x)
            (grad,) = torch.autograd.grad(value, x)
        return value.detach(), grad
    raise RuntimeError(f"the dream engine runs on the tensorflow and torch backends, not {NAME}")


def offsets(shift: tuple[int, int]):
    """A roll's offsets as a compiled step takes them: a tensor (so new offsets do not retrace) or ints."""
    return ops.convert_to_tensor(shift, "int32") if TRACED else tuple(int(s) for s in shift)


def negated(shift):
    """The offsets that undo a roll by `shift` (as `offsets` made them)."""
    return -shift if TRACED else tuple(-s for s in shift)


def mirror_padded(g, pad):
    """`g` (batch, height, width, channels) with `pad` mirrored rows and columns on each side. Traced, `pad` is a
    tensor (any smoothing shares the trace) and the result always a new tensor; eager, `pad` 0 returns `g` itself,
    and the mirroring pads the last two axes, the only ones PyTorch mirrors."""
    if TRACED:
        return ops.pad(g, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="reflect")
    if pad == 0:
        return g
    first = ops.pad(ops.transpose(g, (0, 3, 1, 2)), [[0, 0], [0, 0], [pad, pad], [pad, pad]], mode="reflect")
    return ops.transpose(first, (0, 2, 3, 1))


@contextlib.contextmanager
def inference() -> Iterator[None]:
    """No tape where a forward pass only measures (PyTorch records one by default)."""
    if NAME == "torch":
        import torch

        with torch.no_grad():
            yield
    else:
        yield


def tensor(x, dtype: str = "float32"):
    return ops.convert_to_tensor(x, dtype)


def array(x):
    """A tensor as a numpy array (off the GPU where it is on one)."""
    return ops.convert_to_numpy(x)
