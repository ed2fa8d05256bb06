"""A model the user trained (`mmdream train`) loaded as a dreamable Net, from its `.keras` file and card."""

from __future__ import annotations

from pathlib import Path

import keras

from mmdream.modality import MODALITIES
from mmdream.nets.cards import read_card
from mmdream.nets.keras_base import dtype_policy
from mmdream.nets.net import Net
from mmdream.nets.registry import min_size


def load_trained(path: str | Path, precision: str = "fp32", sr: int | None = None) -> Net:
    """A trained model as a dreamable Net. An audio model is rebuilt for the input's rate `sr`: only its
    in-graph mel front end depends on the rate, and it has no weights."""
    path = Path(path)
    card = read_card(path)
    # Importing the builders registers their custom layers for deserialisation.
    from mmdream.nets import keras_apps, musicnn  # noqa: F401

    with dtype_policy(precision):
        saved = keras.saving.load_model(path, compile=False)
        model = keras.Model.from_config(_config_for(saved, card, sr))
    model.set_weights(saved.get_weights())
    rate = card.get("input", {}).get("sr")
    modality = MODALITIES[card["kind"]]
    extras = {"card": card, "base": card["base"]}
    if modality.rated:
        extras["sr"] = sr or rate
    return Net(
        name=card.get("name", path.stem), model=model, layers=card["layers"], classes=card["classes"],
        kind=card["kind"], default_layers=card["default_layers"],
        value_range=modality.value_range, extras=extras,
        min_size=min_size(card["base"]), input_side=card.get("input", {}).get("size"),
    )


def _config_for(model: keras.Model, card: dict, sr: int | None) -> dict:
    """The saved graph under the precision in force: a saved model keeps the float32 policy of its training, so
    every layer but the logits takes the current policy instead. An audio model's mel front end is set to the
    input's rate `sr` (it has no weights)."""
    config = model.get_config()
    entries = config["output_layers"]  # [name, node, tensor], or a list of those for several outputs
    outputs = {entries[0]} if isinstance(entries[0], str) else {entry[0] for entry in entries}
    for layer in config["layers"]:
        if layer["class_name"] != "InputLayer" and layer["name"] not in outputs:
            layer["config"].pop("dtype", None)
        if layer["class_name"] == "LogMagToLogMel" and sr:
            layer["config"]["sr"] = int(sr)
    return config
