"""Models the user trained (`mmdream train`): a `.keras` file plus a JSON model card beside it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras

from mmdream.errors import UserError
from mmdream.nets import Net, dtype_policy


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


def load_trained(path: str | Path, precision: str = "fp32", sr: int | None = None) -> Net:
    """A trained model as a dreamable Net. An audio model is rebuilt for the input's rate `sr`: only its
    in-graph mel front end depends on the rate, and it has no weights."""
    path = Path(path)
    card = read_card(path)
    # Importing the net modules registers their custom layers for deserialisation.
    from mmdream.nets import image_nets, musicnn  # noqa: F401

    with dtype_policy(precision):
        model = keras.saving.load_model(path, compile=False)
        rate = card.get("input", {}).get("sr")
        if card["kind"] == "audio" and sr and rate and sr != rate:
            config = model.get_config()
            for layer in config["layers"]:
                if layer["class_name"] == "LogMagToLogMel":
                    layer["config"]["sr"] = int(sr)
            rebuilt = keras.Model.from_config(config)
            rebuilt.set_weights(model.get_weights())
            model = rebuilt
    extras = {"card": card, "base": card["base"]}
    if card["kind"] == "audio":
        extras["sr"] = sr or rate
    return Net(
        name=card.get("name", path.stem), model=model, layers=card["layers"], classes=card["classes"],
        kind=card["kind"], default_layers=card["default_layers"],
        value_range=(-1.0, 1.0) if card["kind"] == "image" else None, extras=extras,
    )


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
