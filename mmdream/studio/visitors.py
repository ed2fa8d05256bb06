"""The studio's state, kept apart per visitor: each has a folder of dreams under a name no one else can guess
(derived from their Gradio session and a secret of this server), their own Cancel, and films named so that
nothing is ever overwritten. Uploads, kept clips, schedules and each visitor's own models live in a private folder
that is never served."""

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
from mmdream.studio.files import inside, looks_like_media, media_in, media_type

LOCAL = "local"  # the session of a call made without a page (a script calling the request functions)
# How long the studio keeps a file after its last use, whatever it is (a kept clip, a schedule, an upload, a
# visitor's folder of dreams in a temporary folder): a cancelled film resumes without a new upload for that long,
# and a server open to many visitors does not fill its disk (the same upload again restores a clip).
KEEP_S = 24 * 3600
PRIVATE_KINDS = ("clips", "schedules", "uploads", "models")  # the private folder's parts, each pruned by that rule
MODEL_SUFFIXES = (".keras", ".h5")


def _live_streams(max_live: int = 1, minutes: float = 10.0):
    """The studio's live streams (mmdream.studio.live, which needs this module first)."""
    from mmdream.studio.live import LiveStreams

    return LiveStreams(max_live, minutes)


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
    live: object = field(default_factory=_live_streams)  # the visitors' live streams
    examples: Path | None = None  # `--examples-folder`: media each tab offers as one-click examples

    @classmethod
    def create(cls, shared: str | Path | None = None, ray: str | None = None, task_resources: str | None = None,
               max_live: int = 1, live_minutes: float = 10.0, examples: str | Path | None = None) -> Studio:
        private = Path(tempfile.mkdtemp(prefix="mmdream-studio-private-")).resolve()  # mode 0700
        folders = {}
        for flag, folder in (("--share-folder", shared), ("--examples-folder", examples)):
            if folder is not None:
                folders[flag] = Path(folder).expanduser().resolve()
                if not folders[flag].is_dir():
                    raise UserError(f"{flag} {folders[flag]} is not a folder")
        shared = folders.get("--share-folder")
        if shared is not None:
            outputs = shared / "dreams"
        else:
            outputs = Path(tempfile.mkdtemp(prefix="mmdream-studio-")).resolve()
        outputs.mkdir(parents=True, exist_ok=True)
        return cls(outputs, private, shared, ray=ray, task_resources=task_resources,
                   live=_live_streams(max_live, live_minutes), examples=folders.get("--examples-folder"))

    @property
    def uploads(self) -> Path:
        """Gradio's upload and cache folder (GRADIO_TEMP_DIR): inside the private one."""
        return self.private / "uploads"

    # ---- each visitor's own -------------------------------------------------------------------------------
    def _key(self, session: str) -> str:
        """The visitor's name for their folders: derived from their session and this server's secret."""
        return hmac.new(self.secret, session.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:20]

    def folder(self, session: str, make: bool = True) -> Path:
        """The visitor's folder of dreams (see _key)."""
        path = self.outputs / self._key(session)
        if make:
            path.mkdir(exist_ok=True)
            os.utime(path)  # its last use: what pruning goes by
        return path

    def tidy(self, session: str) -> None:
        """After a request that wrote nothing: the visitor's folder goes if it is empty."""
        with contextlib.suppress(OSError):  # not empty, or gone already
            self.folder(session, make=False).rmdir()

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

    # ---- a visitor's own models ----------------------------------------------------------------------------
    def models(self, session: str) -> Path:
        """The visitor's models: in the private folder (never served), under their key; pruned as uploads are."""
        return self.private / "models" / self._key(session)

    def add_model(self, session: str, upload: str, value_range: str | None) -> tuple[str, Path]:
        """An uploaded model file kept for its visitor under its file name (a later one of the same name replaces
        it), with the value range given for it; (its name on the page, its path)."""
        name = Path(upload).name
        if Path(name).suffix.lower() not in MODEL_SUFFIXES:
            raise PageError(f"mmdream: error: a model is a Keras file ({' or '.join(MODEL_SUFFIXES)}), not {name[:80]}")
        folder = self.models(session)
        folder.mkdir(parents=True, exist_ok=True)
        self.prune()
        path = folder / name
        with atomic_output(path) as tmp:
            shutil.copyfile(upload, tmp)
        path.with_name(name + ".range").write_text(value_range or "")
        os.utime(folder)
        return name, path

    def model(self, session: str, name: str | None) -> tuple[Path, str | None] | None:
        """The visitor's own model of that name and its value range, or None (another visitor's never)."""
        if not name or "/" in name or name.startswith("."):
            return None
        path = self.models(session) / name
        if Path(name).suffix.lower() not in MODEL_SUFFIXES or not path.is_file():
            return None
        os.utime(path.parent)
        return path, path.with_name(name + ".range").read_text() or None

    def model_names(self, session: str) -> list[str]:
        folder = self.models(session)
        return sorted(p.name for p in folder.iterdir() if p.suffix.lower() in MODEL_SUFFIXES) if folder.is_dir() else []

    # ---- files --------------------------------------------------------------------------------------------
    def kept(self, upload: str) -> tuple[str, str]:
        """An uploaded clip under a name fixed by its contents, in the private folder (linked, or copied across
        disks), and its digest: a render's work is keyed to its input, and an upload sent again must resume. Only a
        film is kept: ffmpeg must find a picture in it."""
        from mmdream.pipelines.film.options import film_info

        film_info(upload)
        digest = sha256_file(upload)
        kept = self.private / "clips" / digest[:16] / Path(upload).name
        with contextlib.suppress(FileNotFoundError):
            os.utime(kept.parent)  # in hand: its day starts afresh before anything is pruned
        self.prune()
        if not kept.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(kept) as tmp:
                try:
                    os.link(upload, tmp)
                except OSError:
                    shutil.copyfile(upload, tmp)
        os.utime(kept.parent)
        return str(kept), digest

    def prune(self, max_age: float = KEEP_S) -> list[Path]:
        """What the studio keeps, removed a day (`max_age` seconds) after its last use, by one rule: each kept clip,
        schedule and upload of the private folder, and each visitor's folder of dreams (in a shared folder only an
        empty one: dreams there are the user's). What was removed."""
        now, gone = time.time(), []
        places = [(self.private / kind, True) for kind in PRIVATE_KINDS] + [(self.outputs, self.shared is None)]
        for folder, with_contents in places:
            for entry in sorted(folder.glob("*")) if folder.is_dir() else []:
                with contextlib.suppress(FileNotFoundError):  # another visitor's request removed it first
                    if now - entry.stat().st_mtime <= max_age:
                        continue
                    if entry.is_dir() and (with_contents or not any(entry.iterdir())):
                        shutil.rmtree(entry)
                    elif entry.is_file() and with_contents:
                        entry.unlink()
                    else:
                        continue
                    gone.append(entry)
        return gone

    def remove_temporary(self) -> None:
        """At a clean stop: the private folder, and the folder of dreams where it was a temporary one."""
        shutil.rmtree(self.private, ignore_errors=True)
        if self.shared is None:
            shutil.rmtree(self.outputs, ignore_errors=True)

    def clip(self, upload: str | None, name: str | None) -> tuple[str, str]:
        """The film's clip and its digest: a file of the shared folder by `name`, else the upload, kept."""
        if name:
            path = self.shared_path(name)
            return path, sha256_file(path)
        return self.kept(upload)

    def schedule_path(self, text: str) -> Path:
        """Where a schedule's text is kept: a file named by its contents (the same schedule resumes the same
        render)."""
        return self.private / "schedules" / f"{hashlib.sha256(text.encode()).hexdigest()[:12]}.toml"

    def schedule_file(self, text: str) -> str:
        """A schedule's text as its file (see schedule_path), written if it is not there."""
        path = self.schedule_path(text)
        with contextlib.suppress(FileNotFoundError):
            os.utime(path)
        self.prune()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(path) as tmp:
                tmp.write_text(text)
        os.utime(path)
        return str(path)

    def example_files(self, suffixes: frozenset[str] | set[str]) -> list[str]:
        """One-click examples of one kind of media: the procedural picture and sound (made once, in the private
        folder), then the `--examples-folder`'s media, judged as the shared folder's are."""
        from mmdream.media.procedural import procedural_picture, procedural_sound

        made = self.private / "examples"
        made.mkdir(parents=True, exist_ok=True)
        found = []
        for name, make in (("procedural.png", procedural_picture), ("procedural.wav", procedural_sound)):
            if Path(name).suffix in suffixes:
                found.append(str(make(made / name) if not (made / name).exists() else made / name))
        if self.examples is not None:
            found += [str(self.examples / name) for name in media_in(self.examples, suffixes)]
        return found

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
        if not looks_like_media(path):
            raise PageError(f"mmdream: error: the shared folder has no media file {name}")
        return str(path)

    def served_type(self, path: Path) -> str | None:
        """The media type a visitor may fetch this file as, if they may: media the studio wrote, received or lists
        (see files); None for anything else."""
        path = Path(os.path.normpath(path))
        folders = (self.uploads, self.outputs, *([self.shared] if self.shared else []))
        if not any(inside(path, folder) is not None for folder in folders):
            return None
        return media_type(path)

