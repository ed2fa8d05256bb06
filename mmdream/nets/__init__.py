"""The network registry: every dreamable net, image or audio, behind one `load_net` call.

A `Net` takes input in its *dream space* (images: RGB in [-1, 1]; audio: natural-log STFT magnitudes, see
mmdream.nets.musicnn) and outputs logits; `layers` lists its dreamable layer names from shallow to deep, so a depth in [0, 1] can name a layer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import keras
from keras import ops

from mmdream.errors import UserError


@keras.saving.register_keras_serializable(package="mmdream")
class ResizeTo(keras.layers.Layer):
    """Resize a feature map to a fixed (height, width), so a dense head works at any input size: VGG's top on
    any photo, musicnn's VGG head on any duration. `width=None` keeps the input's width (the mel axis)."""

    def __init__(self, height: int, width: int | None = None, **kw):
        super().__init__(**kw)
        self.height, self.width = height, width

    def call(self, x):
        return ops.image.resize(x, (self.height, self.width or x.shape[2]), interpolation="bilinear")

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


@dataclass
class Net:
    name: str
    model: keras.Model
    layers: list[str]
    classes: list[str]
    kind: str  # "image" or "audio"
    default_layers: dict[str, float]
    value_range: tuple[float, float] | None = (-1.0, 1.0)
    extras: dict = field(default_factory=dict)
    min_size: int = 1  # the smallest side (pixels, frames) the net takes end to end

    def layer_at_depth(self, depth: float) -> str:
        """The dreamable layer at relative depth `depth` in [0, 1] (0 = shallowest)."""
        depth = min(max(depth, 0.0), 1.0)
        return self.layers[round(depth * (len(self.layers) - 1))]

    def class_index(self, name: str) -> int:
        """Index of a class by exact name, by a comma-separated alias, or by number."""
        if name.isdigit() and int(name) < len(self.classes):
            return int(name)
        wanted = name.strip().lower().replace("_", " ")
        for i, c in enumerate(self.classes):
            aliases = [a.strip().lower().replace("_", " ") for a in c.split(",")]
            if wanted in aliases:
                return i
        raise UserError(f"net {self.name} has no class {name!r} (see `mmdream models {self.name}`)")


@dataclass
class NetSpec:
    name: str
    kind: str
    loader: Callable[[str], Net]
    layers: Callable[[], list[str]]
    offline: Callable[[], bool]
    description: str
    classes: Callable[[], list[str]] | None = None
    status: Callable[[], str] | None = None  # where its weights stand, in words (see `mmdream models`)


_REGISTRY: dict[str, NetSpec] = {}


def register(spec: NetSpec) -> None:
    _REGISTRY[spec.name] = spec


def specs() -> list[NetSpec]:
    _ensure_registered()
    return list(_REGISTRY.values())


@contextlib.contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Build layers under a precision policy: 'bf16' means mixed bfloat16 (float32 variables)."""
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bf16" else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


def matmul_timer(precision: str, n: int = 1024) -> Callable[[], float]:
    """A function that runs one n x n matmul in fp32 or bf16 (traced and warmed up here) and returns its
    achieved GFLOP/s."""
    import time

    import tensorflow as tf

    dtype = tf.bfloat16 if precision == "bf16" else tf.float32
    a = tf.cast(tf.random.stateless_uniform((n, n), (1, 2)), dtype)
    mm = tf.function(lambda u: tf.matmul(u, u))
    mm(a).numpy()

    def run() -> float:
        t0 = time.perf_counter()
        mm(a).numpy()
        return 2 * n**3 / (time.perf_counter() - t0) / 1e9

    return run


def matmul_gflops(precision: str, n: int = 1024, repeats: int = 8) -> float:
    """Achieved GFLOP/s of an n x n matmul in fp32 or bf16 (the best of `repeats`, after a warm-up)."""
    run = matmul_timer(precision, n)
    return max(run() for _ in range(repeats))


def gpu_bf16_capable() -> bool | None:
    """None without a GPU; else whether every visible GPU computes bf16 natively (compute capability >= 8.0,
    Ampere on). GPU memory is taken as needed, so two processes can share a card."""
    if keras.backend.backend() == "torch":
        import torch

        if not torch.cuda.is_available():
            return None
        return all(torch.cuda.get_device_capability(i) >= (8, 0) for i in range(torch.cuda.device_count()))
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    for gpu in gpus:
        with contextlib.suppress(RuntimeError):  # already initialised: the setting is fixed for this process
            tf.config.experimental.set_memory_growth(gpu, True)
    return all(_compute_capability(gpu) >= (8, 0) for gpu in gpus)


def _compute_capability(gpu) -> tuple[int, int]:
    import tensorflow as tf

    return tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0))


def auto_precision(net: str | None = None) -> str:
    """bf16 on a GPU that computes it natively. On a CPU with AVX-512 BF16 or AMX, bf16 only where `net`'s own
    dream step runs faster in bf16 than in fp32, measured once per net, CPU and TensorFlow version and cached:
    a matmul does not tell (on the bench host bf16 matmuls ran 3.6x as fast, EfficientNet-Lite0's dream 0.6x as
    fast, InceptionV3's faster). Without a net, a matmul decides."""
    import platform

    from mmdream.nets.cache import remembered

    gpu = gpu_bf16_capable()
    if gpu is not None:
        return "bf16" if gpu else "fp32"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "fp32"
    if "avx512_bf16" not in cpuinfo and "amx_bf16" not in cpuinfo:
        return "fp32"
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                 platform.processor())
    key = f"{model} | amx={'amx_bf16' in cpuinfo} | {_backend_version()}" + (f" | {net}" if net else "")

    def measure() -> dict:
        if net is None:
            fp32, bf16 = matmul_gflops("fp32"), matmul_gflops("bf16")
            return {"fp32_gflops": round(fp32, 1), "bf16_gflops": round(bf16, 1),
                    "choice": "bf16" if bf16 > 1.1 * fp32 else "fp32"}
        fp32, bf16 = dream_step_seconds(net, "fp32"), dream_step_seconds(net, "bf16")
        return {"fp32_step_s": round(fp32, 5), "bf16_step_s": round(bf16, 5),
                "choice": "bf16" if bf16 * 1.1 < fp32 else "fp32"}

    return remembered("precision.json", key, measure)["choice"]


def _backend_version() -> str:
    """'tf 2.x' (the key precision.json has always used), else the Keras backend's name and version."""
    import importlib

    name = keras.backend.backend()
    module = importlib.import_module(name)
    return f"tf {module.__version__}" if name == "tensorflow" else f"{name} {module.__version__}"


def dream_step_seconds(name: str, precision: str, steps: int = 2) -> float:
    """Seconds of one gradient step of `name`'s dream at its default layers, the best of two timed runs after a
    traced one: a 320x480 picture for an image net, 3 s of 44.1 kHz sound for an audio net (random weights: the
    time does not depend on them)."""
    import time
    from dataclasses import replace

    import numpy as np

    from mmdream.core.engine import Dreamer, DreamSettings, Objective

    sr = 44100
    net = load_net(name, weights="random", precision=precision, sr=sr)
    dreamer = Dreamer(net, Objective(dict(net.default_layers)))
    rng = np.random.default_rng(0)
    if net.kind == "audio":
        from mmdream.pipelines.audio import AUDIO_DEFAULTS, dream_block

        x = (0.1 * rng.standard_normal((3 * sr, 1))).astype(np.float32)

        def run(n: int) -> None:
            dream_block(x, sr, dreamer, replace(AUDIO_DEFAULTS, steps=n, octaves=1))
    else:
        x = rng.uniform(-1, 1, (1, 320, 480, 3)).astype(np.float32)

        def run(n: int) -> None:
            dreamer.dream(x, DreamSettings(octaves=1, steps=n, jitter=0))

    run(1)
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        run(steps)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


def use_threads(n: int) -> None:
    """TensorFlow's intra-op threads (and as many inter-op): a net's sums are split across them, so its numbers,
    and a film's frames, are the same only at the same count. Takes effect before TensorFlow's first op. OpenCV
    (the optical flow) gets as many: its results do not depend on them, and at 1 thread the flow of a 540 px frame
    costs 7.4 ms of CPU instead of 12.1 (measured here), CPU the network can use."""
    import cv2

    cv2.setNumThreads(n)
    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(n)
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


def load_net(name: str, weights: str = "imagenet", precision: str = "fp32", sr: int | None = None) -> Net:
    """Load a registered net by name, or a trained model by path (`models/NAME.keras`).

    Audio nets are built for the input's sample rate `sr` (their mel front end is part of the graph).
    """
    _ensure_registered()
    if Path(name).suffix == ".keras" or name not in _REGISTRY:
        from mmdream.nets.trained import find_trained, load_trained

        if (path := find_trained(name)) is not None:
            return load_trained(path, precision, sr)
    if name not in _REGISTRY:
        raise UserError(f"unknown net {name!r}; choose one of {', '.join(_REGISTRY)} (see `mmdream models`)")
    if weights == "random":  # the same random net in every process: a cluster's workers dream one net
        keras.utils.set_random_seed(0)
    if _REGISTRY[name].kind == "audio":
        from mmdream.nets.musicnn import dream_net

        return dream_net(name, sr or 16000, "random" if weights == "random" else "pretrained", precision)
    with dtype_policy(precision):
        return _REGISTRY[name].loader(weights)


def _ensure_registered() -> None:
    if _REGISTRY:
        return
    from mmdream.nets import image_nets

    image_nets.register_all()
    with contextlib.suppress(ImportError):
        from mmdream.nets import musicnn

        musicnn.register_all()
