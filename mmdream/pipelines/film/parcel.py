"""What a cluster's tasks need from the head's disk, carried through Ray's object store: the machines of a cluster
share nothing but Ray.

The head packs every file a film's recipe names (its schedule, style picture and sound, table of links, a model
file and a trained model's card: the options declared `reads`, and the nets' own files) and the files its nets'
pretrained weights are read from, each as a reference to its bytes with its sha256. A task unpacks them on its
node: the recipe's files into a folder of the node's cache named by their checksums (the recipe then names those
copies), a net's weight files where the node's own cache keeps them, where that copy is missing or differs. The
bytes cross the network only to a node that lacks them: a task fetches a reference only when it needs it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from mmdream.errors import UserError
from mmdream.nets import model_files
from mmdream.nets.cache import cache_dir, sha256_file
from mmdream.nets.registry import RANGE_MARK, known, spec
from mmdream.options import READ_FILES
from mmdream.pipelines.film.recipe import FilmRecipe

NETS = ("net", "audio_net")  # the recipe's net references


@dataclass(frozen=True)
class Carried:
    name: str  # the file's name (a trained model's card is found beside it by name)
    sha256: str
    data: Any  # a Ray object reference to the bytes


@dataclass
class Parcel:
    recipe: FilmRecipe  # as the head has it: its paths are the head's
    files: dict[str, list[Carried]]  # a recipe key ("style", "dream.schedule", "net") -> its files, the named first
    weights: dict[str, list[Carried]]  # a registered net -> its weight files, in NetSpec.weight_files order

    def key(self) -> str:
        return self.recipe.key()


def named_files(recipe: FilmRecipe) -> dict[str, list[Path]]:
    """Every file the recipe names, by its key: the named file first, then what is read beside it."""
    found: dict[str, list[Path]] = {}
    own = {f.name for f in fields(recipe)}
    for key in READ_FILES:
        if key in own and (value := getattr(recipe, key)) is not None:
            found[key] = [Path(value)]
        if (value := recipe.dream.get(key)) is not None:
            found[f"dream.{key}"] = [Path(value)]
    for key in NETS:
        if files := model_files(getattr(recipe, key)):
            found[key] = files
    return found


def pack(recipe: FilmRecipe) -> Parcel:
    """On the head: the recipe with its files and its nets' weight files put in the object store."""
    files = {key: [_carry(p) for p in paths] for key, paths in named_files(recipe).items()}
    weights = {}
    if recipe.dream.get("weights", "imagenet") != "random":
        for name in {getattr(recipe, key) for key in NETS if known(getattr(recipe, key))}:
            paths = spec(name).weight_files()
            if all(p.is_file() for p in paths):  # else not loaded here (a film without sound): the node's own
                weights[name] = [_carry(p) for p in paths]
    return Parcel(recipe, files, weights)


def _carry(path: Path) -> Carried:
    import ray

    data = path.read_bytes()
    return Carried(path.name, hashlib.sha256(data).hexdigest(), ray.put(data))


_CHECKED: set[tuple[str, str]] = set()  # per process: (path, sha256) found in place already


def unpack(parcel: Parcel) -> FilmRecipe:
    """On a node: the carried files landed in its cache, and the recipe naming the landed copies."""
    for name, carried in parcel.weights.items():
        for path, item in zip(spec(name).weight_files(), carried):
            _land(item, path)
    recipe = parcel.recipe
    for key, carried in parcel.files.items():
        folder = cache_dir() / "carried" / hashlib.sha256("".join(c.sha256 for c in carried).encode()).hexdigest()[:20]
        for item in carried:
            _land(item, folder / item.name)
        recipe = _named(recipe, key, str(folder / carried[0].name))
    return recipe


def _named(recipe: FilmRecipe, key: str, path: str) -> FilmRecipe:
    if key.startswith("dream."):
        return replace(recipe, dream={**recipe.dream, key.removeprefix("dream."): path})
    old = getattr(recipe, key)
    suffix = old[len(old.split(RANGE_MARK)[0]):] if key in NETS else ""  # a model file's value range
    return replace(recipe, **{key: path + suffix})


def _land(item: Carried, path: Path) -> None:
    """`item` at `path`, unless a file with its checksum is there already; written whole, then renamed (the
    node's other workers may land it at the same time)."""
    if (str(path), item.sha256) in _CHECKED:
        return
    if not (path.is_file() and sha256_file(path) == item.sha256):
        import ray

        data = ray.get(item.data)
        if hashlib.sha256(data).hexdigest() != item.sha256:
            raise UserError(f"{item.name} arrived from the head damaged (its sha256 differs)")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    _CHECKED.add((str(path), item.sha256))
