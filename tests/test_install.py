"""Installed as a user installs it: what the package imports is what it declares, the musicnn nets say how to add
them, many first runs at once share one converted-weight cache safely, and an install without TensorFlow (JAX
only) dreams."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

from mmdream.nets.registry import DEFAULT_NET


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules() -> set[str]:
    """Top-level modules the package imports anywhere (lazy imports inside functions included)."""
    found = set()
    for path in (ROOT / "mmdream").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"mmdream"}


def test_every_import_is_declared_and_every_dependency_is_used():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # dev and docs are tools the Makefile runs (pytest, mkdocs), never imported by mmdream
    extras = [d for name, deps in project["optional-dependencies"].items() if name not in ("dev", "docs")
              for d in deps]
    declared = {_normal(re.split(r"[<>=!;\[ ]", d)[0]) for d in project["dependencies"] + extras} - {"mmdream"}
    providers = importlib.metadata.packages_distributions()
    used = set()
    for module in _imported_modules() - {"musicnn"}:  # musicnn: added by `mmdream models setup` (see below)
        dists = {_normal(d) for d in providers.get(module, [module])}
        if module == "tensorflow":  # tensorflow-cpu on x86-64, tensorflow elsewhere: either provides it
            dists = {"tensorflow-cpu", "tensorflow"}
        assert dists & declared, f"mmdream imports {module} but pyproject declares none of {dists}"
        used |= dists & declared
    assert declared - used == set(), f"declared but never imported: {declared - used}"


def _requirements(dist: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """Every distribution `pip install 'dist[extras]'` would install, walked through the installed packages'
    metadata (markers evaluated here, each requirement's own extras followed)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(canonicalize_name(dist), extras)]
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue  # not for this platform, so not installed here
        for req in map(Requirement, requires):
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in wanted | {""}):
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return {name for name, _ in seen}


def test_the_jax_install_brings_no_tensorflow_and_the_tensorflow_one_does():
    """The manual's JAX-only command, `pip install 'mmdream[jax]'`, installs no TensorFlow; `make`'s extras do."""
    jax_only = _requirements("mmdream", frozenset({"jax"}))
    assert {"jax", "jaxlib", "keras", "librosa"} <= jax_only
    assert not {n for n in jax_only if n.startswith(("tensorflow", "tensorboard", "tf-keras"))}, jax_only
    assert "tensorflow-cpu" in _requirements("mmdream", frozenset({"dev"}))


# In a venv without TensorFlow, with nothing set: a picture, a sound and a 2 s film with its soundtrack, through the API.
WITHOUT_TF = """import json, sys
from pathlib import Path
import mmdream
out, media = Path(sys.argv[1]), Path(sys.argv[2])
picture = mmdream.dream_image(media / "images" / "chelsea.png", out / "p.png", max_size=96, octaves=2, steps=3,
                              precision="fp32")
sound = mmdream.dream_audio("noise", out / "s.wav", duration=2, steps=2, precision="fp32")
film = mmdream.dream_video(media / "video" / "cockatoo.mp4", out / "f.mp4", end=2, fps=6, max_size=96,
                           precision="fp32")
import keras
print(json.dumps({"backend": keras.backend.backend(), "tensorflow": "tensorflow" in sys.modules,
                  "picture": picture.objective_gain, "sound": sound.objective_gain, "film": film.figures}))
"""


def _venv_without_tensorflow(root: Path) -> Path:
    """A venv holding every package of this one but TensorFlow's (linked, nothing downloaded): what the JAX-only
    install gives. Its interpreter."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = next((root / "lib").glob("python3*/site-packages"))
    for entry in ours.iterdir():
        if not entry.name.lower().startswith(("tensorflow", "tensorboard", "tf_keras")):
            (theirs / entry.name).symlink_to(entry)
    return root / "bin" / "python"


def test_an_install_without_tensorflow_dreams_a_picture_a_sound_and_a_film(media, tmp_path):
    """Nothing set, no TensorFlow to import: mmdream takes JAX, converts the offline nets (the musicnn checkpoints
    read without TensorFlow) into an empty cache, and dreams."""
    python = _venv_without_tensorflow(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "MMDREAM_BACKEND", "PYTHONPATH")}
    env["MMDREAM_CACHE"] = str(tmp_path / "cache")
    probe = subprocess.run([python, "-c", "import tensorflow"], capture_output=True, text=True, env=env)
    assert probe.returncode == 1 and "No module named 'tensorflow'" in probe.stderr
    done = subprocess.run([python, "-c", WITHOUT_TF, tmp_path, media], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    assert r["backend"] == "jax" and not r["tensorflow"]
    assert r["picture"] > 1.2 and r["sound"] > 1.1, r
    film = r["film"]
    assert film["frames"] == 12 and film["objective_gain_mean"] > 1.1, film
    dreamed = film["soundtrack"]["dream"]
    assert dreamed["duration_s"] == pytest.approx(2.0, abs=0.05) and dreamed["true_peak_dbfs"] <= -0.9, dreamed
    cache = {p.name.split("-")[0] for p in (tmp_path / "cache").glob("*.npz")}
    assert {DEFAULT_NET["audio"], DEFAULT_NET["image"]} <= cache, cache  # converted there, without TensorFlow


def test_without_musicnn_the_audio_nets_name_the_setup_command(tmp_path):
    code = ("import sys; sys.modules['musicnn'] = None; from mmdream.cli import main; "
            f"sys.argv = ['mmdream', 'audio', 'noise', '--duration', '2', '-o', {str(tmp_path / 'n.wav')!r}]; "
            "sys.exit(main())")
    env = {**os.environ, "MMDREAM_CACHE": str(tmp_path / "cache")}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    errors = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2 and errors == [
        "mmdream: error: the musicnn nets need the checkpoints of the musicnn 0.1.0 package: run `mmdream models "
        "setup`"], p.stderr
    assert not (tmp_path / "n.wav").exists()


def test_four_first_runs_at_once_share_an_empty_cache(tmp_path):
    photo = tmp_path / "p.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(photo)
    env = {**os.environ, "MMDREAM_CACHE": str(tmp_path / "cache")}
    # fp32 as asked: what they share here is the converted net (where bf16 is native, `auto` would also have each
    # time the net's step in both precisions; remembering a value once across processes is test_nets' race)
    runs = [subprocess.Popen([sys.executable, "-m", "mmdream", "image", str(photo), "-o", str(tmp_path / f"{i}.png"),
                              "--octaves", "1", "--steps", "1", "--precision", "fp32"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for i in range(4)]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in runs]
    assert [rc for rc, _ in results] == [0, 0, 0, 0], [err[-500:] for _, err in results]
    cache = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert [n for n in cache if n.endswith(".npz")] == ["efficientnet_lite0-579344248a93-folded.npz"]
    assert not [n for n in cache if "partial" in n]  # every process's temporary name was renamed or removed
    for i in range(4):
        assert Image.open(tmp_path / f"{i}.png").size == (64, 48)


def test_keras_imported_through_mmdream_spares_what_it_imports_only_to_support_it():
    """scikit-learn (keras.wrappers), pandas (DataFrames in `fit`), matplotlib (keras.visualization) and, on
    TensorFlow, JAX (tf.lite) are not imported with Keras when mmdream imports it first (over a second of every
    process's start), and each still imports for whoever asks later (mmdream's own plots draw with pyplot); Keras
    imported before mmdream keeps its scikit-learn wrappers. In a library caller's process, Keras' import runs
    no cyclic collection (the young generation is looked at once as it returns) and freezes nothing."""
    code = ("import gc, sys, mmdream; runs = []; "
            "gc.callbacks.append(lambda phase, info: phase == 'start' and runs.append(info['generation'])); "
            "import keras; during = runs[:]; from mmdream.nets import load_net; import keras.src.wrappers.fixes as fixes; "
            "spared = [m for m in ('sklearn', 'pandas', 'matplotlib', 'jax') if m in sys.modules]; "
            "import sklearn, pandas, matplotlib.pyplot as plt; "
            "print(spared, fixes.sklearn is None, sklearn.__name__, pandas.__name__, plt.__name__, "
            "during == [0], gc.isenabled(), gc.get_freeze_count())")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.split() == ["[]", "True", "sklearn", "pandas",
                                                            "matplotlib.pyplot", "True", "True", "0"], done
    code = "import keras, mmdream; import keras.src.wrappers.fixes as fixes; print(fixes.sklearn is not None)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.split() == ["True"], done


def test_keras_loads_without_the_collector_and_a_commands_process_freezes_it():
    """Keras' first import through mmdream runs no cyclic collection (its objects all stay: a collection finds
    nothing) and leaves the collector on; in a command's process (`own_process`, the CLI's) Keras and its backend
    are frozen out of every later collection, and a cycle made after that is still collected. (A library
    caller's process: the test above.)"""
    code = """import gc, mmdream
from mmdream.core.choose import own_process
own_process()
runs = []
gc.callbacks.append(lambda phase, info: phase == "start" and runs.append(info["generation"]))
import keras
during = len(runs)
class Cycle:
    pass
a, b = Cycle(), Cycle()
a.other, b.other = b, a
del a, b
print(during, gc.isenabled(), gc.get_freeze_count(), gc.collect() >= 2)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    assert done.returncode == 0, done.stderr[-2000:]
    during, enabled, frozen, collected = done.stdout.split()
    assert (during, enabled, collected) == ("0", "True", "True") and int(frozen) > 100_000, done.stdout


def test_auto_precision_on_a_gpu_takes_bf16_only_from_compute_capability_8(monkeypatch):
    """No GPU is lent here: the decision is checked with TensorFlow's device queries answering as a GPU would."""
    import tensorflow as tf

    from mmdream.pipelines import precision

    grown = []
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["gpu0"] if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", lambda gpu, on: grown.append((gpu, on)))
    for capability, choice in [((7, 5), "fp32"), ((8, 0), "bf16"), ((9, 0), "bf16")]:
        monkeypatch.setattr(tf.config.experimental, "get_device_details",
                            lambda gpu, c=capability: {"compute_capability": c})
        assert precision.auto_precision() == choice, capability
    assert grown and all(on for _, on in grown)  # memory grows on demand: two processes can share the card


def test_models_setup_converts_every_offline_net(capsys):
    from mmdream.cli import main

    assert main(["models", "setup"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [ln.split(" weights: ")[0] for ln in lines]
    assert names == ["efficientnet_lite0", "MTT_vgg", "MSD_vgg", "MTT_musicnn", "MSD_musicnn"]
    assert all(Path(ln.split(" weights: ")[1]).stat().st_size > 100_000 for ln in lines)


def test_the_installer_gives_uv_pips_settings_and_falls_back_to_pip(tmp_path, monkeypatch):
    """scripts/install.py: pip's indexes, find-links, constraints, certificate and timeout (its files, then its
    environment over them) become uv's flags and environment, with pip's choice of the best version across
    indexes; pip's `--no-compile` becomes uv without its bytecode flag; where uv cannot be installed, pip is
    upgraded and installs, with the same arguments."""
    from conftest import script_module

    install = script_module("install")
    (tmp_path / "pip.conf").write_text("[global]\nextra-index-url = file:///a/simple file:///b/simple\n"
                                       "find-links = /from-the-file\n[install]\nconstraint = /c.txt\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "pip.conf"))
    monkeypatch.setenv("PIP_FIND_LINKS", "/from-the-environment")
    monkeypatch.setenv("PIP_CERT", "/certs.pem")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "77")
    command, env = install.uv_command(sys.executable, install.pip_settings(sys.executable))
    pairs = list(zip(command, command[1:]))
    assert command[1:3] == ["pip", "install"] and ("--index-strategy", "unsafe-best-match") in pairs
    assert ("--extra-index-url", "file:///a/simple") in pairs and ("--extra-index-url", "file:///b/simple") in pairs
    assert ("--find-links", "/from-the-environment") in pairs and "/from-the-file" not in command
    assert ("--constraint", "/c.txt") in pairs and ("--compile-bytecode" in command)
    assert env["SSL_CERT_FILE"] == "/certs.pem" and env["UV_HTTP_TIMEOUT"] == "77"
    assert "--compile-bytecode" not in install.uv_command(sys.executable, {}, compile_bytecode=False)[0]

    # A venv's interpreter whose pip cannot install uv (no index has it, say) and installs anything else: each call
    # it gets is written down. pip is upgraded, then given the arguments as they came (`--no-compile` is pip's own).
    python, calls = tmp_path / "venv" / "bin" / "python", tmp_path / "calls"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\ncase "$*" in *uv\\>=*) exit 1;; esac\nexit 0\n')
    python.chmod(0o755)
    assert install.main(["--no-compile", "-e", ".[dev]"], python=str(python)) == 0
    assert calls.read_text().splitlines() == [f"-m pip install --quiet {install.UV}",
                                              "-m pip install --quiet --upgrade pip",
                                              "-m pip install --quiet --no-compile -e .[dev]"]

    # Where the venv has uv: uv installs, `--no-compile` said by leaving out uv's own flag (uv has no such option).
    for name in ("python", "uv"):
        stand_in = tmp_path / "uv-venv" / "bin" / name
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        stand_in.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}.uv"\nexit 0\n')
        stand_in.chmod(0o755)
    python = tmp_path / "uv-venv" / "bin" / "python"
    assert install.main(["--no-compile", "-e", ".[dev]"], python=str(python)) == 0
    assert install.main(["-e", ".[tensorflow]"], python=str(python)) == 0
    installs = [ln.split() for ln in (tmp_path / "calls.uv").read_text().splitlines() if ln.startswith("uv ")]
    assert [(c[-2:], "--compile-bytecode" in c, "--no-compile" in c) for c in installs] == [
        (["-e", ".[dev]"], False, False), (["-e", ".[tensorflow]"], True, False)], installs
