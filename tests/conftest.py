"""Shared fixtures: the real media folder (one place), and nets loaded once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/keras_cache.py, for the fixtures below
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent


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
    import subprocess

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
