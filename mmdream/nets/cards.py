"""The model cards of the nets the user trained (`mmdream train`): a `.keras` file with a JSON card beside it,
found by name in the models folder. Reading and listing them imports no Keras, so `mmdream models` answers at
once; mmdream.nets.trained loads one."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mmdream.errors import UserError


def models_dir() -> Path:
    return Path(os.environ.get("MMDREAM_MODELS", "models"))


def card_path(model_path: str | Path) -> Path:
    return Path(model_path).with_suffix(".json")


def read_card(model_path: str | Path) -> dict:
    cp = card_path(model_path)
    if not cp.exists():
        raise UserError(f"{model_path} has no model card {cp.name} beside it (was it made by `mmdream train`?)")
    return json.loads(cp.read_text())


def find_trained(name: str) -> Path | None:
    """A `.keras` path as given (an error if it is missing), or NAME in the models folder, or None."""
    path = Path(name)
    if path.suffix == ".keras":
        if not path.exists():
            raise UserError(f"{path}: no such model file (trained models are listed by `mmdream models`)")
        return path
    candidate = models_dir() / f"{name}.keras"
    return candidate if candidate.exists() else None


def list_trained() -> list[dict]:
    """Cards of every trained model in the models folder."""
    out = []
    folder = models_dir()
    if not folder.is_dir():
        return out
    for cp in sorted(folder.glob("*.json")):
        try:
            card = json.loads(cp.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if "base" in card and cp.with_suffix(".keras").exists():
            out.append({**card, "path": str(cp.with_suffix(".keras"))})
    return out
