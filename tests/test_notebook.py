"""The layer explorer notebook runs headless at a small size and every layer's dream raises its objective."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "layer_explorer.ipynb"


def test_layer_explorer_runs_headless(tmp_path, media):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {"MMDREAM_NOTEBOOK_SIZE": "128", "MMDREAM_NOTEBOOK_STEPS": "8", "MMDREAM_MEDIA": str(media),
           "MMDREAM_NOTEBOOK_OUT": str(tmp_path / "grid.png")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert (tmp_path / "grid.png").stat().st_size > 10_000
    result = nb.cells[-1].outputs[-1]["data"]["text/plain"]
    gains = eval(result)  # a dict literal of floats printed by the notebook's last cell
    assert len(gains) == 6 and min(gains.values()) > 1.2, gains
