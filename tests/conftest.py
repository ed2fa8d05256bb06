"""Shared fixtures: the real media folder (one place), and nets loaded once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
