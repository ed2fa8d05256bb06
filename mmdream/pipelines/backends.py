"""`--backend auto` on a CPU with a net named: the backend whose dream step of that net is fastest here, timed
once per CPU, net and backend versions and cached (as `--precision auto` is). On a CPU the answer depends on the
net: XLA's depthwise convolutions are far slower than oneDNN's, its dense ones closer. Keras takes its backend
once per process, so each backend is timed in a process of its own; nothing here imports Keras.

Run as `python -m mmdream.pipelines.backends NET` (KERAS_BACKEND set): prints the seconds of one dream step."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

from mmdream.core.choose import BACKENDS, installed
from mmdream.nets.cache import cpu_model, remembered

_DISTRIBUTIONS = {"tensorflow": ("tensorflow", "tensorflow-cpu"), "jax": ("jax",), "torch": ("torch",)}


def _version(name: str) -> str:
    for dist in _DISTRIBUTIONS[name]:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "?"


def candidates() -> list[str]:
    return [name for name in BACKENDS if installed(name)]


def backend_key(net: str) -> str:
    """What a timing holds for: this CPU, the installed backends' versions, the net."""
    versions = ", ".join(f"{name} {_version(name)}" for name in candidates())
    return f"{cpu_model()} | {versions} | {net}"


def step_seconds(net: str, name: str) -> float | None:
    """One dream step of `net` on backend `name`, timed in a fresh process; None where it could not run."""
    env = {k: v for k, v in os.environ.items() if k != "MMDREAM_BACKEND"}
    env["KERAS_BACKEND"] = name
    done = subprocess.run([sys.executable, "-m", "mmdream.pipelines.backends", net], capture_output=True,
                          text=True, env=env, timeout=900)
    try:
        return float(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
    except (IndexError, ValueError):
        return None


def fastest_backend(net: str) -> str | None:
    """The installed backend with the fastest dream step of `net` here (measured once, then cached); None where
    fewer than two are installed or none could be timed."""
    names = candidates()
    if len(names) < 2:
        return None

    def measure() -> dict:
        print(f"mmdream: --backend auto: timing a dream step of {net} on {', '.join(names)} (once on this machine)",
              file=sys.stderr, flush=True)
        seconds = {name: step_seconds(net, name) for name in names}
        timed = {name: s for name, s in seconds.items() if s is not None}
        return {"step_s": {name: None if s is None else round(s, 5) for name, s in seconds.items()},
                "choice": min(timed, key=timed.get) if timed else None}

    return remembered("backend.json", backend_key(net), measure)["choice"]


if __name__ == "__main__":
    from mmdream.pipelines.precision import dream_step_seconds

    print(dream_step_seconds(sys.argv[1], "fp32", steps=1))
