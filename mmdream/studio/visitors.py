"""The studio's state, kept apart per visitor: each has a folder of dreams under a name no one else can guess
(derived from their Gradio session and a secret of this server), their own Cancel, and films named so that
nothing is ever overwritten. Uploads, kept clips and schedules live in a private folder that is never served."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mmdream.errors import UserError
from mmdream.io_utils import atomic_output
from mmdream.nets.cache import sha256_file
from mmdream.studio.files import inside, looks_like_media, media_in

LOCAL = "local"  # the session of a call made without a page (a script calling the request functions)
# How long an uploaded clip is kept after its last use: a cancelled film resumes without a new upload for that
# long, and a server open to many visitors does not fill its disk with clips (the same upload again restores one).
KEEP_CLIPS_S = 24 * 3600


class PageError(Exception):
    """A request's one-line error, for the page layer to show (Gradio's gr.Error)."""


@dataclass
class Studio:
    """Where dreams are written (`outputs`, one folder per visitor), the shared folder, the private folder, and
    the Cancel of each render in progress."""

    outputs: Path
    private: Path
    shared: Path | None = None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    cancels: dict[str, threading.Event] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ray: str | None = None  # the Ray cluster a film may render on (`mmdream serve --ray`)
    task_resources: str | None = None  # what its tasks ask for there

    @classmethod
    def create(cls, shared: str | Path | None = None, ray: str | None = None,
               task_resources: str | None = None) -> Studio:
        private = Path(tempfile.mkdtemp(prefix="mmdream-studio-private-")).resolve()  # mode 0700
        if shared is not None:
            shared = Path(shared).expanduser().resolve()
            if not shared.is_dir():
                raise UserError(f"--share-folder {shared} is not a folder")
            outputs = shared / "dreams"
        else:
            outputs = Path(tempfile.mkdtemp(prefix="mmdream-studio-")).resolve()
        outputs.mkdir(parents=True, exist_ok=True)
        return cls(outputs, private, shared, ray=ray, task_resources=task_resources)

    @property
    def uploads(self) -> Path:
        """Gradio's upload and cache folder (GRADIO_TEMP_DIR): inside the private one."""
        return self.private / "uploads"

    # ---- each visitor's own -------------------------------------------------------------------------------
    def folder(self, session: str) -> Path:
        """The visitor's folder of dreams: a name derived from their session and this server's secret."""
        name = hmac.new(self.secret, session.encode(), hashlib.sha256).hexdigest()[:20]
        path = self.outputs / name
        path.mkdir(exist_ok=True)
        return path

    def output_path(self, session: str, source: str | None, suffix: str) -> Path:
        """A fresh name for a dream of `source` (never the input's own name, never an earlier dream's)."""
        stem = Path(source).stem[:40] if source else "dream"
        return self.folder(session) / f"{stem}-dream-{uuid.uuid4().hex[:8]}{suffix}"

    def film_path(self, session: str, source: str, digest: str) -> Path:
        """The film of one clip for one visitor: the same clip rendered again resumes an unfinished render (its
        work folder is keyed to this name); a finished film is kept, and the next render of it gets a new name."""
        base = f"{Path(source).stem[:40]}-{digest[:8]}-dream"
        folder = self.folder(session)
        for n in range(1, 10_000):
            out = folder / (f"{base}.mp4" if n == 1 else f"{base}-{n}.mp4")
            if not out.exists():
                return out
        raise PageError("mmdream: error: too many films of this clip; download and delete some")

    @contextlib.contextmanager
    def render(self, session: str) -> Iterator[threading.Event]:
        """The visitor's Cancel while their render runs (one at a time per visitor)."""
        event = threading.Event()
        with self.lock:
            if session in self.cancels:
                raise PageError("mmdream: error: a film of yours is rendering already; cancel it or wait")
            self.cancels[session] = event
        try:
            yield event
        finally:
            with self.lock:
                self.cancels.pop(session, None)

    def cancel(self, session: str) -> bool:
        """Cancel the visitor's own render; False when they have none."""
        with self.lock:
            event = self.cancels.get(session)
        if event is None:
            return False
        event.set()
        return True

    # ---- files --------------------------------------------------------------------------------------------
    def kept(self, upload: str) -> tuple[str, str]:
        """An uploaded clip under a name fixed by its contents, in the private folder (linked, or copied across
        disks), and its digest: a render's work is keyed to its input, and an upload sent again must resume."""
        digest = sha256_file(upload)
        kept = self.private / "clips" / digest[:16] / Path(upload).name
        self.prune_clips(keep=kept.parent)
        if not kept.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(kept) as tmp:
                try:
                    os.link(upload, tmp)
                except OSError:
                    shutil.copyfile(upload, tmp)
        os.utime(kept.parent)  # its last use: what pruning goes by
        return str(kept), digest

    def prune_clips(self, keep: Path | None = None, max_age: float = KEEP_CLIPS_S) -> list[Path]:
        """Kept clips unused for `max_age` seconds removed (not `keep`, the one in hand); what was removed."""
        gone = []
        for folder in (self.private / "clips").glob("*"):
            with contextlib.suppress(FileNotFoundError):  # another visitor's request pruned it first
                if folder != keep and time.time() - folder.stat().st_mtime > max_age:
                    shutil.rmtree(folder)
                    gone.append(folder)
        return gone

    def clip(self, upload: str | None, name: str | None) -> tuple[str, str]:
        """The film's clip and its digest: a file of the shared folder by `name`, else the upload, kept."""
        if name:
            path = self.shared_path(name)
            return path, sha256_file(path)
        return self.kept(upload)

    def schedule_file(self, text: str) -> str:
        """A schedule's text as a file named by its contents (the same schedule resumes the same render)."""
        path = self.private / "schedules" / f"{hashlib.sha256(text.encode()).hexdigest()[:12]}.toml"
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            with atomic_output(path) as tmp:
                tmp.write_text(text)
        return str(path)

    def shared_files(self, suffixes: frozenset[str] | set[str]) -> list[str]:
        """Media of one kind in the shared folder by their names in it (not the dreams written there)."""
        return [] if self.shared is None else media_in(self.shared, suffixes, skip=self.outputs)

    def shared_path(self, name: str) -> str:
        """A file in the shared folder, named as the page lists it; nothing else on the server."""
        if self.shared is None:
            raise PageError("mmdream: error: start the studio with --share-folder DIR to use files on the server")
        path = Path(os.path.normpath(self.shared / name))
        if inside(path, self.shared) is None or inside(path, self.outputs) is not None:
            raise PageError(f"mmdream: error: {name} is outside the shared folder")
        if not path.is_file() or not looks_like_media(path):
            raise PageError(f"mmdream: error: the shared folder has no media file {name}")
        return str(path)

    def may_serve(self, path: Path) -> bool:
        """Whether a visitor may fetch this file: media the studio wrote, received or lists (see files)."""
        path = Path(os.path.normpath(path))
        folders = (self.uploads, self.outputs, *([self.shared] if self.shared else []))
        return any(inside(path, folder) is not None for folder in folders) and path.is_file() and \
            looks_like_media(path)

