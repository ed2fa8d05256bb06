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

import gc
import importlib.abc
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

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


# Libraries that Keras (scikit-learn for keras.wrappers, pandas for DataFrames in `fit`, matplotlib's pyplot for
# keras.visualization's galleries) and, on TensorFlow, tf.lite (JAX) import whenever they are installed, only to
# support them. mmdream uses none of them through Keras, and they cost a second and more of every process's start
# (librosa installs scikit-learn, Gradio pandas and matplotlib); mmdream's own plots import matplotlib when drawn.
SPARED = ("sklearn", "pandas", "matplotlib")


class _LeanKeras(importlib.abc.MetaPathFinder):
    """Keras' first import in this process, with SPARED (and JAX on TensorFlow) hidden from it: Keras and TensorFlow
    take each for not installed (their own `except ImportError`); afterwards each imports as usual for whoever asks.
    So keras.wrappers' scikit-learn classes need Keras imported before mmdream."""

    def find_spec(self, name: str, path=None, target=None):
        if name != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _Hiding(spec.loader)
        return spec


class _Hiding:
    """A loader that runs another with not-yet-imported SPARED modules absent, and without the cyclic collector:
    Keras and its backend are the most objects a process ever makes at once (~0.5 M), modules that all stay, and
    the collections their growth sets off (a fifth of the import's CPU) find nothing to free. Where the process is
    mmdream's own (`own_process`), they are frozen afterwards: later collections look only at what came after."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        spared = (*SPARED, "jax") if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow" else SPARED
        hidden = [name for name in spared if name not in sys.modules]
        sys.modules.update(dict.fromkeys(hidden))  # None: "import x" raises ImportError
        collecting = gc.isenabled()
        gc.disable()
        try:
            self.loader.exec_module(module)
            if _OWN_PROCESS:
                gc.freeze()
        finally:
            for name in hidden:
                if name in sys.modules and sys.modules[name] is None:
                    del sys.modules[name]
            if collecting:
                gc.enable()

    def __getattr__(self, name: str):
        return getattr(self.loader, name)


_OWN_PROCESS = False


def own_process() -> None:
    """This process is mmdream's command (not a library caller's): what it has loaded once Keras is, Keras and
    its backend above all, is frozen out of the cyclic collector's reach (gc.freeze), now if Keras is loaded
    already. A frozen object is still freed when its last reference goes; only a cycle among them would stay,
    and a command's start-up makes none it drops."""
    global _OWN_PROCESS
    _OWN_PROCESS = True
    if sys.modules.get("keras") is not None:
        gc.freeze()


def lean_keras() -> None:
    """Keras' first import, wherever it happens after this, spares SPARED (see _LeanKeras); nothing if Keras is
    imported already."""
    if "keras" not in sys.modules and not any(isinstance(f, _LeanKeras) for f in sys.meta_path):
        sys.meta_path.insert(0, _LeanKeras())
