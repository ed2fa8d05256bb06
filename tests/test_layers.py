"""The package's layers (pyproject.toml's [tool.importlinter]) hold: no upward import and no import cycle, checked by
import-linter on the tree as it is, and shown to catch both when they are planted in a copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

LINT = Path(sys.executable).with_name("lint-imports")


def _lint(package_parent: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], capture_output=True,
                          text=True, cwd=package_parent, env=env, timeout=120)


def test_the_tree_keeps_its_layers_and_has_no_cycles():
    done = _lint(ROOT)
    assert done.returncode == 0 and "Contracts: 2 kept, 0 broken." in done.stdout, done.stdout[-2000:]


def test_a_planted_upward_import_and_cycle_break_the_contracts(tmp_path):
    shutil.copytree(ROOT / "mmdream", tmp_path / "mmdream", ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "mmdream" / "errors.py", "a") as f:  # base importing a layer above it: upward, and a cycle
        f.write("\nfrom mmdream.io_utils import atomic_output  # planted\n")
    with open(tmp_path / "mmdream" / "pipelines" / "audio.py", "a") as f:  # a cycle inside one layer
        f.write("\nfrom mmdream.pipelines.film.options import FilmOptions  # planted\n")
    done = _lint(tmp_path)
    out = done.stdout
    assert done.returncode == 1 and "Contracts: 0 kept, 2 broken." in out, out[-2000:]
    assert "mmdream.errors is not allowed to import mmdream.io_utils" in out
    assert "No cycles are allowed in mmdream.pipelines." in out and ".audio -> .film" in out
