"""The shared label space: which image classes each sound class or tag means (links.toml, reviewed; a user's own
table adds to it), resolved into a 0/1 matrix between a sound net's classes and an image net's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmdream.checks import parse_toml
from mmdream.errors import UserError
from mmdream.nets.classes import SOUND_VOCABULARIES, imagenet_classes

TABLE = Path(__file__).with_name("links.toml")
MAX_TABLE_CHARS = 1_000_000

Links = dict[str, list[str]]  # a sound class (normalised name) -> the image class names it means


def normalised(name: str) -> str:
    return name.strip().lower().replace("_", " ")


def aliases(classes: list[str]) -> dict[str, int]:
    """Every comma-separated name of every class (normalised) -> its index: a class's own first name before any
    other's alias ("harp" is the harp, not the harmonica that is also a "mouth harp"; "gong" the gong, not the
    chime), then the first class to claim a name (ImageNet names two classes "crane" and two "maillot")."""
    out: dict[str, int] = {}
    for i, c in enumerate(classes):
        out.setdefault(normalised(c.split(",")[0]), i)
    for i, c in enumerate(classes):
        for a in c.split(","):
            out.setdefault(normalised(a), i)
    return out


def read_links(user: str | None = None, sound_nets: dict[str, list[str] | None] | None = None,
               image_classes: list[str] | None = None) -> Links:
    """The shipped table plus a user's (`--links`). A section names a sound vocabulary (mmdream.nets.classes) or a
    sound net in use (`sound_nets`: name -> classes; None: not loaded yet, any name passes); an item names an
    ImageNet class or one of the image net's own (`image_classes`); anything else is a one-line error naming it."""
    links: Links = {}
    for path in (TABLE, *([Path(user)] if user else [])):
        for key, items in _table(path, sound_nets or {}, image_classes or []).items():
            links.setdefault(key, []).extend(i for i in items if i not in links.get(key, []))
    return links


def _table(path: Path, sound_nets: dict[str, list[str] | None], image_classes: list[str]) -> Links:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"{path}: no such links file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not a readable links file ({e.__class__.__name__})") from None
    data = parse_toml(text, path, "a links table", MAX_TABLE_CHARS)
    vocabularies = {**SOUND_VOCABULARIES, **sound_nets}
    known_images = aliases(imagenet_classes()) | aliases(image_classes)
    out: Links = {}
    for section, rows in data.items():
        if section not in vocabularies or not isinstance(rows, dict):
            raise UserError(f"{path}: [{section}] is not a sound vocabulary or sound net in use; use one of "
                            f"{', '.join(vocabularies)}")
        sounds = None if vocabularies[section] is None else {normalised(c) for c in vocabularies[section]}
        for sound, items in rows.items():
            if sounds is not None and normalised(sound) not in sounds:
                raise UserError(f"{path}: [{section}] has no sound class {sound!r}")
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise UserError(f"{path}: [{section}] {sound} must be a list of image class names")
            out.setdefault(normalised(sound), []).extend(_expanded(i, known_images, path) for i in items)
    return {k: [name for group in v for name in group] for k, v in out.items()}


def _expanded(item: str, known: dict[str, int], path: Path) -> list[str]:
    """An item as the image class names it covers: one name, or a "first..last" range of ImageNet's classes."""
    ends = item.split("..")
    for end in ends:
        if normalised(end) not in known:
            raise UserError(f"{path}: no image class {end!r} (see `mmdream models efficientnet_lite0`)")
    if len(ends) == 1:
        return [normalised(item)]
    names = aliases(imagenet_classes())
    if len(ends) != 2 or normalised(ends[0]) not in names or normalised(ends[1]) not in names:
        raise UserError(f"{path}: a range {item!r} must be first..last, two ImageNet classes")
    first, last = names[normalised(ends[0])], names[normalised(ends[1])]
    if last < first:
        raise UserError(f"{path}: the range {item!r} runs backwards")
    return [normalised(c.split(",")[0]) for c in imagenet_classes()[first:last + 1]]


def link_matrix(links: Links, sound_classes: list[str], image_classes: list[str]) -> np.ndarray:
    """(sound classes, image classes) of 0/1: the table's links, and a sound class named as an image class is (a
    pair of nets retrained on matching data: dogs and dog sounds)."""
    images = aliases(image_classes)
    m = np.zeros((len(sound_classes), len(image_classes)), np.float32)
    for s, name in enumerate(sound_classes):
        key = normalised(name)
        for image in [*links.get(key, []), key]:
            if image in images:
                m[s, images[image]] = 1.0
    return m


def coverage(links: Links | None = None) -> tuple[list[tuple[str, int, int]], tuple[int, int]]:
    """How much the table links: per sound vocabulary (its name, its classes that have an image class, its classes),
    and on ImageNet's side (its classes some sound class links to, its classes)."""
    links = read_links() if links is None else links
    images = imagenet_classes()
    per_vocabulary = []
    for name, classes in SOUND_VOCABULARIES.items():
        linked = int(link_matrix(links, classes, images).any(axis=1).sum())
        per_vocabulary.append((name, linked, len(classes)))
    every_sound = sorted({c for classes in SOUND_VOCABULARIES.values() for c in classes})
    pictured = int(link_matrix(links, every_sound, images).any(axis=0).sum())
    return per_vocabulary, (pictured, len(images))
