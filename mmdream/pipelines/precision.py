"""The precision a net dreams at: fp32 or bf16 as asked, or `auto`, measured once per machine and net on the net's
own dream step (image or sound) and cached; the figures `mmdream models` and the bench print come from here."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
from keras import ops

from mmdream.core import backend
from mmdream.core.engine import Dreamer, DreamSettings, Objective
from mmdream.errors import UserError
from mmdream.modality import MODALITIES
from mmdream.nets import load_net
from mmdream.nets.cache import cpu_model, remembered


def resolve_precision(precision: str, net: str | None = None) -> str:
    """'fp32' or 'bf16' as given; 'auto' measured once per machine and net (see `auto_precision`)."""
    if precision not in ("auto", "fp32", "bf16"):
        raise UserError(f"precision must be auto, fp32 or bf16, not {precision!r}")
    if precision == "bf16" and (why := backend.bf16_refused()) and backend.gpus_bf16() is None:
        raise UserError(f"--precision bf16: {why}")
    if precision != "auto":
        return precision
    return auto_precision(net if isinstance(net, str) else None)


def matmul_timer(precision: str, n: int = 1024, queued: int = 1) -> Callable[[], float]:
    """A function that runs one n x n matmul in fp32 or bf16 on Keras' backend (warmed up here) and returns its
    achieved GFLOP/s. One op: dispatch is negligible beside 2n^3 multiply-adds, so nothing is traced. `queued` > 1:
    that many back to back and one number of the last fetched (on a GPU a call returns before its work is done, and
    a whole result's transfer would be timed too)."""
    a = ops.cast(keras.random.uniform((n, n), seed=1), "bfloat16" if precision == "bf16" else "float32")

    def multiply() -> None:
        if queued == 1:
            ops.convert_to_numpy(ops.matmul(a, a))
            return
        for _ in range(queued):
            out = ops.matmul(a, a)
        float(ops.convert_to_numpy(out[0, 0]))

    multiply()

    def run() -> float:
        t0 = time.perf_counter()
        multiply()
        return queued * 2 * n**3 / (time.perf_counter() - t0) / 1e9

    return run


def matmul_gflops(precision: str, n: int = 1024, repeats: int = 8, queued: int = 1) -> float:
    """Achieved GFLOP/s of an n x n matmul in fp32 or bf16 (the best of `repeats`, after a warm-up; `queued`: see
    matmul_timer)."""
    run = matmul_timer(precision, n, queued)
    return max(run() for _ in range(repeats))


def cpu_bf16() -> str | None:
    """How this CPU computes bf16 natively ("amx", "avx512"), from its flags; None where it only emulates it."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    return "amx" if "amx_bf16" in cpuinfo else "avx512" if "avx512_bf16" in cpuinfo else None


def auto_precision(net: str | None = None) -> str:
    """bf16 on a GPU that computes it natively. On a CPU with AVX-512 BF16 or AMX, bf16 only where `net`'s own
    dream step runs faster in bf16 than in fp32, measured once per net, CPU and TensorFlow version and cached:
    a matmul does not tell (on the bench host bf16 matmuls ran 3.6x as fast, EfficientNet-Lite0's dream 0.6x as
    fast, InceptionV3's faster). Without a net, a matmul decides. fp32 where oneDNN is capped below bf16's
    kernels (`backend.bf16_refused`)."""
    gpu = backend.gpus_bf16()
    if gpu is not None:
        return "bf16" if gpu else "fp32"
    hardware = cpu_bf16()
    if hardware is None or backend.bf16_refused():
        return "fp32"
    key = f"{cpu_model()} | amx={hardware == 'amx'} | {_backend_version()}" + (f" | {net}" if net else "")

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
    sr = 44100
    net = load_net(name, weights="random", precision=precision, sr=sr)
    dreamer = Dreamer(net, Objective(dict(net.default_layers)))
    rng = np.random.default_rng(0)
    if MODALITIES[net.kind].rated:  # 3 s of log-magnitude STFT, as the sound's dream takes it (time only tiled)
        from mmdream.nets.musicnn import stft_params

        n_fft, hop = stft_params(sr)
        x = rng.normal(-4.0, 2.0, (1, 3 * sr // hop, n_fft // 2 + 1, 1)).astype(np.float32)

        def run(n: int) -> None:
            dreamer.dream(x, DreamSettings(octaves=1, steps=n, jitter=0, axes=(1,), tile_size=1024, min_size=1))
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
