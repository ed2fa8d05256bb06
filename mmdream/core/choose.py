"""Which Keras backend a process dreams on, chosen before Keras is first imported (Keras reads KERAS_BACKEND once).

`--backend` on the command line, else MMDREAM_BACKEND (read when `mmdream` is imported, for the Python API), else
KERAS_BACKEND, else TensorFlow where it is installed and `auto` where it is not (a JAX-only install dreams as is).

`auto` takes, where a GPU is seen, JAX (one compiled function per dream step), else PyTorch. On a CPU, where a net
is named (the CLI's `--net`), the backend whose dream step of that net is fastest here, timed once and cached
(mmdream.pipelines.backends, handed in as `fastest`); else TensorFlow (oneDNN's convolutions, depthwise ones above
all, are faster here than XLA's), else whichever is installed. Nothing here imports Keras or a backend: only
whether each is installed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

from mmdream.errors import UserError

BACKENDS = ("tensorflow", "jax", "torch")


def installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def gpu_seen() -> bool:
    """An NVIDIA card's device file, looked at without starting a GPU runtime."""
    return Path("/dev/nvidiactl").exists() or any(Path("/dev").glob("nvidia[0-9]*"))


def auto_backend() -> str:
    order = ("jax", "torch", "tensorflow") if gpu_seen() else ("tensorflow", "jax", "torch")
    return next((name for name in order if installed(name)), "tensorflow")


def choose_backend(asked: str | None, fastest: Callable[[], str | None] | None = None) -> str:
    """Set Keras' backend to `asked` (a name, `auto`, or None: Keras' own choice); the backend that will run.
    `fastest`: on a CPU, `auto`'s measured choice for the net at hand (None: the rule decides)."""
    if asked in (None, ""):
        if "KERAS_BACKEND" in os.environ or installed("tensorflow"):
            return os.environ.get("KERAS_BACKEND", "tensorflow")
        asked = "auto"
    if asked not in ("auto", *BACKENDS):
        raise UserError(f"backend must be auto, {', '.join(BACKENDS)}; not {asked!r}")
    name = asked
    if asked == "auto":
        name = (fastest() if fastest is not None and not gpu_seen() else None) or auto_backend()
    if not installed(name):
        raise UserError(f"backend {name} is not installed (pip install 'mmdream[{name}]')")
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != name:
        raise UserError(f"Keras already runs on {sys.modules['keras'].backend.backend()}: choose the backend "
                        "before the first dream (MMDREAM_BACKEND or KERAS_BACKEND)")
    os.environ["KERAS_BACKEND"] = name
    return name


def chosen() -> str:
    """What a dream in this process runs on, and what else could: `mmdream models`' last line."""
    name = os.environ.get("KERAS_BACKEND", "tensorflow")
    others = ", ".join(b for b in BACKENDS if installed(b))
    return (f"backend: {name} ({'a GPU is seen' if gpu_seen() else 'no GPU seen'}; installed: {others}; "
            "--backend or MMDREAM_BACKEND chooses)")
