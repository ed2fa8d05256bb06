"""Which files the studio lets a visitor fetch, and the gate in front of Gradio's file route that holds it.

Gradio serves anything under its `allowed_paths` inline with the type its name suggests. The studio narrows that
to media: a file is served only if its name *and* its first bytes say picture, sound or film, no part of its path
inside the served folder starts with a dot (work folders, `.ssh`, `.env`), it resolves inside that folder (no
symlink leaves it), and it goes out as an attachment of its real type that the browser may not sniff, so
nothing uploaded or found there runs as a page.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from mmdream.checks import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES

MEDIA_SUFFIXES = frozenset(IMAGE_SUFFIXES | AUDIO_SUFFIXES | VIDEO_SUFFIXES | {".webm"})

# What the first bytes of each kind of media file are (offset, bytes); a file whose bytes match none is not media.
SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (0, b"\x89PNG\r\n\x1a\n"), (0, b"\xff\xd8\xff"), (0, b"GIF8"), (8, b"WEBP"), (0, b"BM"), (0, b"II*\0"),
    (0, b"MM\0*"), (8, b"WAVE"), (0, b"fLaC"), (0, b"OggS"), (0, b"ID3"), (0, b"\xff\xfb"), (0, b"\xff\xf3"),
    (0, b"\xff\xf2"), (0, b"\xff\xf1"), (0, b"\xff\xf9"), (4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (0, b"FORM"),
)


def looks_like_media(path: Path) -> bool:
    """A media suffix and media bytes (a page renamed `.png` is not a picture)."""
    if path.suffix.lower() not in MEDIA_SUFFIXES:
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return any(head[at:at + len(sig)] == sig for at, sig in SIGNATURES)


def inside(path: Path, folder: Path) -> Path | None:
    """`path` relative to `folder` if it lies in it without a hidden part and resolves inside it, else None."""
    try:
        relative = path.relative_to(folder)
    except ValueError:
        return None
    if any(part.startswith(".") for part in relative.parts):
        return None
    resolved = path.resolve()
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
            if (path.suffix.lower() in wanted and inside(path, folder) is not None and path.is_file()
                    and looks_like_media(path)):
                found.append(path.relative_to(folder).as_posix())
    return found


class FileGate:
    """ASGI middleware in front of Gradio's routes: `/file=` answers only for media `may_serve` accepts, as an
    attachment; an upload announcing more than `max_upload` bytes is refused before it is read."""

    def __init__(self, app, may_serve: Callable[[Path], bool], max_upload: int, upload_line: str) -> None:
        self.app, self.may_serve, self.max_upload, self.upload_line = app, may_serve, max_upload, upload_line

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if path.endswith("/upload") and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length", b"0")
            if length.isdigit() and int(length) > self.max_upload:
                return await _plain(send, 413, self.upload_line)
        if "/file=" not in path:
            return await self.app(scope, receive, send)
        target = Path(path.split("/file=", 1)[1])  # decoded once already, as Gradio's route reads it
        if not target.is_absolute() or not self.may_serve(target):
            return await _plain(send, 404, "not found")

        async def as_attachment(message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"content-disposition", b"x-content-type-options")]
                name = target.name.encode("ascii", "replace").replace(b'"', b"_")
                headers += [(b"content-disposition", b'attachment; filename="' + name + b'"'),
                            (b"x-content-type-options", b"nosniff")]
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, as_attachment)


async def _plain(send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
