"""Shared fixtures (the real media folder in one place, nets loaded once per session) and the helpers tests import
from here: `run_mmdream` (the CLI in a fresh process), `interruptible` (a child that hears Ctrl-C) and `decoded_frames`
(every frame of a small film)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/keras_cache.py, for the fixtures below
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):  # processes share the cores: one TensorFlow thread pool apiece
    workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent


def run_mmdream(*argv, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    """`python -m mmdream ARGV` in a fresh process, text output captured; `kw` go to subprocess.run (cwd, env)."""
    return subprocess.run([sys.executable, "-m", "mmdream", *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout, **kw)


def interruptible() -> None:
    """A `preexec_fn`: Ctrl-C's default in the child. A shell without job control starts a background job with
    SIGINT ignored, and a process that inherits that never hears the interrupt (CI or `make test &` may run so)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def decoded_frames(path: Path) -> np.ndarray:
    """Every decoded frame of a film, stacked (small films only)."""
    from mmdream.media.ffmpeg import probe, read_video_frames

    info = probe(str(path))
    return np.stack(list(read_video_frames(str(path), info.video_size, info.fps)))


# Tests that share something costly run on one worker of a parallel run (pytest-xdist's --dist loadgroup), first:
# the stand-in Keras cache (random ImageNet weights written once), here; the Ray cluster and the studio's server,
# by their modules' own mark.
def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if {"keras_cache", "imagenet"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("keras cache"))
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)  # long groups start first


def media_root() -> Path:
    return Path(os.environ.get("MMDREAM_MEDIA", ROOT.parent / "shared" / "media"))


@pytest.fixture(scope="session")
def media() -> Path:
    """../shared/media (or $MMDREAM_MEDIA). CI has it; elsewhere the tests that need it skip, saying why."""
    root = media_root()
    if not root.is_dir():
        pytest.skip(f"real media folder {root} is absent (set MMDREAM_MEDIA)")
    return root


@pytest.fixture(scope="session")
def animals(media, tmp_path_factory) -> Path:
    """The ten animal recordings as class folders (one file each), as `mmdream train audio` takes them."""
    root = tmp_path_factory.mktemp("animals")
    for f in sorted((media / "audio" / "animals").iterdir()):
        (root / f.stem).mkdir()
        (root / f.stem / f.name).symlink_to(f)
    return root


def run_temp(tmp_path_factory) -> Path:
    """The temporary folder of the whole run: a parallel run's workers each have their own inside it."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def run_lock(path: Path):
    """One process of the run at a time (an exclusive lock on `path`, released if its holder dies)."""
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def animals_net(animals, tmp_path_factory) -> Path:
    """A sound net trained on the ten animal recordings, as a user would (`mmdream train audio`, one-second
    windows), with its training report beside it (train.json): trained once per run, by the first worker that
    needs it, while any other waits (training and cross-modal tests alike)."""
    from mmdream.cli import main

    models = run_temp(tmp_path_factory) / "animals-net"
    models.mkdir(exist_ok=True)
    with run_lock(models / ".lock"):
        if not (models / "train.json").exists():  # written last
            mp = pytest.MonkeyPatch()
            mp.setenv("MMDREAM_MODELS", str(models))
            try:
                assert main(["train", "audio", str(animals), "--name", "animals", "--epochs", "10", "--window",
                             "1", "--report", str(models / "train.json")]) == 0
            finally:
                mp.undo()
    return models / "animals.keras"


@pytest.fixture(scope="session")
def lite0():
    from mmdream.nets import load_net

    return load_net("efficientnet_lite0")


@pytest.fixture(autouse=True)
def _isolated_models_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MMDREAM_MODELS", str(tmp_path_factory.getbasetemp() / "models"))


@pytest.fixture(scope="session")
def keras_cache(tmp_path_factory):
    """One temporary Keras cache for the session; nets get their random stand-in weights when first asked."""
    from keras_cache import KerasCache

    return KerasCache(tmp_path_factory.mktemp("keras_home"))


@pytest.fixture
def imagenet(keras_cache, monkeypatch):
    """This process sees the stand-in cache with Keras' md5 check patched (and nothing else); `imagenet.env()`
    gives the same to subprocesses."""
    import keras.src.utils.file_utils as file_utils
    from keras_cache import accept_any_md5

    monkeypatch.setenv("KERAS_HOME", str(keras_cache.home))
    monkeypatch.setattr(file_utils, "validate_file", accept_any_md5)
    return keras_cache


@pytest.fixture
def tmpfs(tmp_path):
    """`tmpfs(name, "size=256k", "ro")`: a small tmpfs mounted under tmp_path (a full or read-only disk), unmounted
    afterwards. Mounting needs root, as CI has; elsewhere the test skips, saying why."""
    mounted = []

    def mount(name: str, *options: str) -> Path:
        path = tmp_path / name
        path.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(path)],
                              capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root, as CI has): {done.stderr.decode().strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", str(path)], check=False)
