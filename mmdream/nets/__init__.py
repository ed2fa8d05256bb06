"""The nets: one record per net (mmdream.nets.registry) and `load_net`, which builds one by name.

Importing this package costs no Keras: a net's builder module (named in its record) is imported when the net is
first built or its weights are looked at.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from mmdream.errors import UserError
from mmdream.nets.net import Net
from mmdream.nets.registry import MODEL_FILE_SUFFIXES, RANGE_MARK, NetSpec, known, spec, specs

__all__ = ["Net", "NetSpec", "load_net", "model_files", "spec", "specs"]


def is_model_file(name: str) -> bool:
    """Whether a net reference names a model file (`mine.keras`, `mine.h5#range=0,1`) rather than a net."""
    return Path(name.split(RANGE_MARK)[0]).suffix in MODEL_FILE_SUFFIXES


def with_range(path: str, value_range: str | None) -> str:
    """The net reference for a model file and the `--value-range` given for it (LO,HI)."""
    if not value_range:
        return path
    parse_range(value_range)
    return f"{path}{RANGE_MARK}{value_range}"


def parse_range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"bad --value-range {text!r}; give LO,HI, e.g. 0,1 or -1,1 or 0,255") from None
    if not lo < hi:
        raise UserError(f"bad --value-range {text!r}: LO must be below HI")
    return lo, hi


def model_files(name: str) -> list[Path]:
    """The files a net reference names, which a cluster carries to its nodes: a model file, and a trained model's
    card beside it ([] for a registered net, whose weights are looked up by name)."""
    if known(name):
        return []
    from mmdream.nets.cards import card_path, find_trained

    path = Path(name.split(RANGE_MARK)[0]) if is_model_file(name) else find_trained(name)
    if path is None:
        return []
    return [path, card_path(path)] if card_path(path).exists() else [path]


BUILT_KEPT = 4  # nets a process keeps built (a studio moving between many nets lets the oldest go)
_built: OrderedDict[tuple, Net] = OrderedDict()
builds = 0  # nets built in this process (a film that follows builds each of its nets once)


def load_net(name: str, weights: str = "imagenet", precision: str = "fp32", sr: int | None = None,
             fresh: bool = False) -> Net:
    """A registered net by name, a trained model (`models/NAME.keras` and its card), or any Keras image
    classifier file (`mine.keras`, `mine.h5`; `mine.keras#range=0,1` where it cannot say what values it takes),
    built at `precision`.

    Audio nets are built for the input's sample rate `sr` (their mel front end is part of the graph).
    `weights="random"` gives the same random net in every process (a cluster's workers dream one net).
    A process builds a net once for a given name, weights, precision, rate and Keras backend (a film that follows
    the sound hears and dreams with the same nets) and keeps the last BUILT_KEPT; `fresh` builds one of its own
    (training changes its weights)."""
    key = _key(name, weights, precision, sr)
    if not fresh and key in _built:
        _built.move_to_end(key)
        return _built[key]
    net = _build(name, weights, precision, sr)
    if not fresh:
        _built[key] = net
        while len(_built) > BUILT_KEPT:
            _built.popitem(last=False)
    return net


def _key(name: str, weights: str, precision: str, sr: int | None) -> tuple:
    """What makes two built nets the same: the request, the Keras backend, and a file's identity (a model retrained
    under the same name is another net)."""
    import os

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    path = Path(name.split(RANGE_MARK)[0])
    identity = None
    if not known(name):
        from mmdream.nets.cards import find_trained

        found = path if is_model_file(name) else find_trained(name)
        if found is not None and Path(found).exists():
            st = Path(found).stat()
            identity = (str(Path(found).resolve()), st.st_size, st.st_mtime_ns)
    return name, weights, precision, sr, backend, identity


def _build(name: str, weights: str, precision: str, sr: int | None) -> Net:
    global builds
    builds += 1
    if not known(name):
        from mmdream.nets.cards import card_path, find_trained

        if is_model_file(name) and not (Path(name).suffix == ".keras" and card_path(name).exists()):
            from mmdream.nets.user import load_user_model

            return load_user_model(name, precision)
        if (path := find_trained(name)) is not None:
            from mmdream.nets.trained import load_trained

            return load_trained(path, precision, sr)
    record = spec(name)
    return record.module().load(record, weights, precision, sr)
