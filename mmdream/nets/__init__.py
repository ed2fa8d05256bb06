"""The nets: one record per net (mmdream.nets.registry) and `load_net`, which builds one by name.

Importing this package costs no Keras: a net's builder module (named in its record) is imported when the net is
first built or its weights are looked at.
"""

from __future__ import annotations

from pathlib import Path

from mmdream.nets.net import Net
from mmdream.nets.registry import NetSpec, known, spec, specs

__all__ = ["Net", "NetSpec", "load_net", "spec", "specs"]


def load_net(name: str, weights: str = "imagenet", precision: str = "fp32", sr: int | None = None) -> Net:
    """A registered net by name, or a trained model by path (`models/NAME.keras`), built at `precision`.

    Audio nets are built for the input's sample rate `sr` (their mel front end is part of the graph).
    `weights="random"` gives the same random net in every process (a cluster's workers dream one net).
    """
    if Path(name).suffix == ".keras" or not known(name):
        from mmdream.nets.cards import find_trained
        from mmdream.nets.trained import load_trained

        if (path := find_trained(name)) is not None:
            return load_trained(path, precision, sr)
    record = spec(name)
    return record.module().load(record, weights, precision, sr)
