"""The Keras backend the engine runs on, and the few things that differ between backends.

The engine and the objectives are written in `keras.ops`, so the dream runs wherever Keras 3 does. TensorFlow is
the default and what `make install` sets up: functions are traced once with shape-polymorphic signatures and
gradients come from a tape. JAX (`--backend jax`) compiles each function with XLA once per input shape, the
Keras variables it reads passed in as arguments (a schedule's layer weights change without a recompile), and
takes gradients with `jax.value_and_grad`: a whole dream step is one call. PyTorch (`--backend torch`) runs
eagerly, which a GPU's asynchronous kernels tolerate. Only compiling a function, the gradient with respect to the
input, a step's roll offsets, mirrored padding, inference without a tape, threads and GPUs are backend-specific;
all of it is here.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Callable, Iterator, Sequence

import keras
from keras import ops

from mmdream.errors import UserError

NAME = keras.backend.backend()
TRACED = NAME == "tensorflow"  # one trace serves every shape its signature allows
COMPILED = NAME in ("tensorflow", "jax")  # a step's numbers are tensors, so new values do not recompile


def keep_compiled() -> None:
    """JAX keeps what XLA compiled in mmdream's cache (`xla/` beside the converted weights), unless
    JAX_COMPILATION_CACHE_DIR names another place: on a GPU one shape of a net's step compiles for many seconds
    (cuDNN's convolution algorithms are timed), and a later process of the same net and shape reads it instead.
    Every program, unless JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS says otherwise: JAX keeps by default only those
    that compiled for over a second, and a film's small ones (a frame's carry and picture, the octaves' resizes, each
    eager operation's shape) were compiled again by every process; kept, a later short film on this CPU took 40 %
    less time."""
    import jax

    from mmdream.nets.cache import cache_dir

    if not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", str(cache_dir() / "xla"))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


if NAME == "jax":
    keep_compiled()


def spec(shape: list[int | None], dtype: str = "float32"):
    """The signature of one argument of a compiled function (TensorFlow's TensorSpec; None elsewhere)."""
    if not TRACED:
        return None
    import tensorflow as tf

    return tf.TensorSpec(shape, dtype)


def compiled(fn: Callable, signature: list | None, state: Sequence = (), relax: bool = True) -> Callable:
    """`fn` traced once for every shape its `signature` allows (TensorFlow; None: traced again only where shapes
    keep changing, or for every shape where not `relax`), compiled once per shape with the Keras variables in
    `state` as arguments (JAX), or `fn` itself (PyTorch)."""
    if NAME == "jax":
        return Jitted(fn, state)
    if not TRACED:
        return fn
    import tensorflow as tf

    return tf.function(fn, input_signature=signature, reduce_retracing=signature is None and relax, autograph=False)


class Jitted:
    """`fn` under `jax.jit`. A variable read inside a jitted function would be baked in as the value it had when
    compiled; so the variables of `state` (a net's weights, a dream's layer weights) are passed in at every call
    and read through a stateless scope, and an assignment between calls is seen."""

    def __init__(self, fn: Callable, state: Sequence) -> None:
        import jax

        self.state, self.count = list(state), 0

        def pure(values, *args):
            self.count += 1  # only while tracing: once per shape
            with keras.StatelessScope(state_mapping=list(zip(self.state, values))):
                return fn(*args)

        self.jitted = jax.jit(pure)

    def __call__(self, *args):
        return self.jitted([v.value for v in self.state], *args)


def traces(*fns: Callable) -> int:
    """How many times `fns` were traced (JAX: compiled, once per shape; 0 where nothing is)."""
    if NAME == "jax":
        return sum(f.count for f in fns)
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
    if NAME == "jax":
        import jax

        return jax.value_and_grad(loss)(x)
    raise RuntimeError(f"the dream engine runs on the tensorflow, jax and torch backends, not {NAME}")


def times_fixed(x, kernel):
    """`x @ kernel` (x: (..., J), kernel: (J, F)) for a fixed kernel whose own gradient is never wanted. On
    TensorFlow the input's gradient is computed as (kernel @ dy^T)^T: its own gradient of the product multiplies
    by the kernel transposed, which ran three times slower on a CPU for a large kernel (audio style's random conv,
    11,275 x 4,096) than the same sums in this order. Elsewhere it is the plain product (JAX lays it out well)."""
    if NAME != "tensorflow":
        return ops.matmul(x, kernel)
    import tensorflow as tf

    @tf.custom_gradient
    def product(x, k):
        def grad(dy):
            rows = tf.cast(tf.reshape(dy, (-1, tf.shape(dy)[-1])), k.dtype)
            dx = tf.transpose(tf.matmul(k, rows, transpose_b=True))
            return tf.cast(tf.reshape(dx, tf.shape(x)), x.dtype), None

        return ops.matmul(x, k), grad

    return product(x, tf.convert_to_tensor(kernel))


def offsets(shift: tuple[int, int]):
    """A roll's offsets as a compiled step takes them: a tensor (so new offsets do not retrace) or ints."""
    return constant(tuple(int(s) for s in shift), "int32") if COMPILED else tuple(int(s) for s in shift)


def negated(shift):
    """The offsets that undo a roll by `shift` (as `offsets` made them)."""
    return -shift if COMPILED else tuple(-s for s in shift)


def mirror_padded(g, pad):
    """`g` (batch, height, width, channels) with `pad` mirrored rows and columns on each side. Traced, `pad` is a
    tensor (any smoothing shares the trace) and the result always a new tensor; eager, `pad` 0 returns `g` itself,
    and the mirroring pads the last two axes, the only ones PyTorch mirrors. JAX mirrors any axis."""
    if COMPILED:
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


def use_threads(n: int) -> None:
    """The backend's threads for a net's sums: they are split across them, so a net's numbers, and a film's
    frames, are the same only at the same count. JAX's XLA takes it from XLA_FLAGS when it starts its CPU client,
    so it holds where nothing has run on JAX yet. OpenCV (the optical flow) gets as many: its results do not depend
    on them, and at 1 thread the flow of a 540 px frame costs 7.4 ms of CPU instead of 12.1 (measured here), CPU
    the network can use."""
    import cv2

    cv2.setNumThreads(n)
    if NAME == "torch":
        import torch

        torch.set_num_threads(n)
        return
    if NAME == "jax":
        flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if "intra_op_parallelism_threads" not in f
                 and "multi_thread_eigen" not in f]
        os.environ["XLA_FLAGS"] = " ".join([*flags, f"--xla_cpu_multi_thread_eigen={str(n > 1).lower()}",
                                            f"intra_op_parallelism_threads={n}"])
        return
    import tensorflow as tf

    if tf.config.threading.get_intra_op_parallelism_threads() == n:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:
        raise UserError(f"cannot use {n} thread(s): TensorFlow already runs with "
                        f"{tf.config.threading.get_intra_op_parallelism_threads() or 'its default'}") from None


def threads_in_use() -> int | None:
    """The threads the backend's sums run on now, as it reports them (None: JAX's CPU client does not say)."""
    if NAME == "torch":
        import torch

        return torch.get_num_threads()
    if NAME == "jax":
        found = re.search(r"intra_op_parallelism_threads=(\d+)", os.environ.get("XLA_FLAGS", ""))
        return int(found[1]) if found else None
    import tensorflow as tf

    return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()


def gpus_bf16() -> bool | None:
    """None without a GPU; else whether every visible GPU computes bf16 natively (compute capability >= 8.0,
    Ampere on). TensorFlow takes GPU memory as needed, so two processes can share a card."""
    if NAME == "torch":
        import torch

        if not torch.cuda.is_available():
            return None
        return all(torch.cuda.get_device_capability(i) >= (8, 0) for i in range(torch.cuda.device_count()))
    if NAME == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if not gpus:
            return None
        return all(tuple(int(v) for v in str(getattr(d, "compute_capability", "0.0")).split(".")[:2]) >= (8, 0)
                   for d in gpus)
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    for gpu in gpus:
        with contextlib.suppress(RuntimeError):  # already initialised: the setting is fixed for this process
            tf.config.experimental.set_memory_growth(gpu, True)
    return all(tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0)) >= (8, 0)
               for gpu in gpus)


def onednn_isa_cap() -> str | None:
    """ONEDNN_MAX_CPU_ISA where the user set it (upper case): the widest instructions oneDNN's kernels may use, and
    so a net's last bits (a cluster of mixed hosts sets it alike everywhere for identical films)."""
    return os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper() or None


def bf16_refused() -> str | None:
    """Why bf16 cannot run here, or None. TensorFlow sends a bf16 op to oneDNN by the CPU's own features, and oneDNN
    capped below AVX-512 has no kernel for it: the process dies (SIGSEGV) at the first bf16 matmul."""
    cap = onednn_isa_cap()
    if NAME != "tensorflow" or cap is None or cap.startswith(("AVX512", "AVX10", "ALL", "DEFAULT")):
        return None
    return (f"ONEDNN_MAX_CPU_ISA={cap} leaves TensorFlow's oneDNN no bf16 kernels (they need AVX-512): "
            f"use --precision fp32, or unset it")


def on_gpu() -> bool:
    """Whether the dream runs on a GPU (the host's cores are then free for decoding, flow and encoding)."""
    return gpus_bf16() is not None


GPU_TILE = 2048  # a picture's gradient tile on a GPU: a 1920x1080 frame is one call


def picture_tile(default: int) -> int:
    """The tile a picture's gradient is computed in where none was asked for: on a GPU, one call for a whole 1080p
    frame (a GPU's time goes to launching each call's operations, not to its pixels: untiled 1080p ran 3.8x as
    many frames a second in the README's GPU rows), elsewhere `default`."""
    return max(default, GPU_TILE) if on_gpu() else default


def describe() -> dict:
    """Which backend ran and on what device: every report says it."""
    import importlib

    if NAME == "jax":
        import jax

        first = jax.devices()[0]
        device = first.platform if first.platform == "cpu" else f"{first.platform}: {first.device_kind}"
    elif NAME == "torch":
        import torch

        device = f"cuda: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"
    else:
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        device = f"gpu: {gpus[0].name}" if gpus else "cpu"
    return {"name": NAME, "version": importlib.import_module(NAME).__version__, "device": device}


def tensor(x, dtype: str = "float32"):
    return ops.convert_to_tensor(x, dtype)


@functools.lru_cache(maxsize=1024)
def constant(value: float | bool | tuple, dtype: str = "float32"):
    """A number (or a tuple of numbers) as a tensor, made once per value and kept (tensors are not changed in
    place): a dream passes the same few settings to every step, and each new tensor is a call to the device beside
    the frame's own."""
    return ops.convert_to_tensor(value, dtype)


def array(x):
    """A tensor as a numpy array (off the GPU where it is on one)."""
    return ops.convert_to_numpy(x)
