"""Which files the studio lets a visitor fetch, and what type they really are.

Gradio serves anything under its `allowed_paths` inline with the type its name suggests. The studio narrows that
to media (mmdream.studio.gate holds every route to it): a file is served only if its name *and* its first bytes
say picture, sound or film, no part of its path inside the served folder starts with a dot (work folders, `.ssh`,
`.env`), it resolves inside that folder (no symlink leaves it), and it goes out as an attachment of the type its
bytes say, which the browser may not sniff, so nothing uploaded or found there runs as a page.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from mmdream.checks import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES

MEDIA_SUFFIXES = frozenset(IMAGE_SUFFIXES | AUDIO_SUFFIXES | VIDEO_SUFFIXES | {".webm"})

# What the first bytes of each kind of media file are (offset, bytes, type); a file whose bytes match none is not
# media. Where one signature serves several types (an MP4 box holds a film or a sound), the name picks among them.
SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"), (0, b"\xff\xd8\xff", "image/jpeg"), (0, b"GIF8", "image/gif"),
    (8, b"WEBP", "image/webp"), (0, b"BM", "image/bmp"), (0, b"II*\0", "image/tiff"), (0, b"MM\0*", "image/tiff"),
    (8, b"WAVE", "audio/wav"), (0, b"fLaC", "audio/flac"), (0, b"OggS", "audio/ogg"), (0, b"ID3", "audio/mpeg"),
    (0, b"\xff\xfb", "audio/mpeg"), (0, b"\xff\xf3", "audio/mpeg"), (0, b"\xff\xf2", "audio/mpeg"),
    (0, b"\xff\xf1", "audio/aac"), (0, b"\xff\xf9", "audio/aac"), (4, b"ftyp", "video/mp4"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"), (0, b"FORM", "audio/aiff"),
)
# The name's word where the bytes leave it open.
BY_SUFFIX = {("video/mp4", ".m4a"): "audio/mp4", ("video/mp4", ".mov"): "video/quicktime",
             ("video/webm", ".mkv"): "video/x-matroska", ("audio/ogg", ".ogv"): "video/ogg"}


def media_type(path: Path) -> str | None:
    """The media type a file's first bytes say (its name deciding between the types they allow), if it has a media
    suffix too; None: not media (a page renamed `.png` is not a picture)."""
    if path.suffix.lower() not in MEDIA_SUFFIXES:
        return None
    try:
        if not path.is_file():  # a folder, a pipe (whose read would wait forever), nothing
            return None
        with open(path, "rb") as f:
            head = f.read(16)
    except (OSError, ValueError):  # a name the system refuses (too long, a NUL)
        return None
    found = next((kind for at, sig, kind in SIGNATURES if head[at:at + len(sig)] == sig), None)
    return None if found is None else BY_SUFFIX.get((found, path.suffix.lower()), found)


def looks_like_media(path: Path) -> bool:
    """A media suffix and media bytes."""
    return media_type(path) is not None


def inside(path: Path, folder: Path) -> Path | None:
    """`path` relative to `folder` if it lies in it without a hidden part and resolves inside it, else None."""
    try:
        relative = path.relative_to(folder)
    except ValueError:
        return None
    if any(part.startswith(".") for part in relative.parts):
        return None
    try:
        resolved = path.resolve()
    except (OSError, ValueError):  # a name the system refuses (too long, a NUL): nothing of the folder's
        return None
    if resolved != folder and folder not in resolved.parents:
        return None
    return relative


def media_in(folder: Path, suffixes: Iterable[str], skip: Path | None = None) -> list[str]:
    """Media files of some kinds under `folder` by their names relative to it, hidden ones and those behind a link
    that leaves the folder left out; `skip` (the studio's own dreams) too."""
    wanted = {s.lower() for s in suffixes}
    found = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and here / d != skip)
        for name in sorted(files):
            path = here / name
            if path.suffix.lower() in wanted and inside(path, folder) is not None and looks_like_media(path):
                found.append(path.relative_to(folder).as_posix())
    return found
