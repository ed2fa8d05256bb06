"""What each of the studio's buttons does: plain functions on mmdream's public API, which are also the studio's
HTTP API (`/dream_image`, `/dream_audio`, `/dream_video`, ...). They know nothing of the page's layout.

Every failure a user can fix reaches the page as the one line the CLI prints (`mmdream.error_line`); anything
else is logged with its traceback and shown as one line too, so no request takes the server down.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import mmdream
from mmdream.io_utils import atomic_output
from mmdream.studio import views

log = logging.getLogger("mmdream.studio")


class PageError(Exception):
    """A request's one-line error, for the page layer to show (Gradio's gr.Error)."""


class Cancelled(Exception):
    """Raised inside the render's frame callback when the page's Cancel was pressed."""


@contextlib.contextmanager
def one_line_errors(output: str | Path | None = None, inputs: tuple[str | None, ...] = ()) -> Iterator[None]:
    """Turn whatever a request raises into one line: the CLI's for a user's problem, a short one for a bug
    (whose traceback goes to the server's log). An uploaded input is named by its file name, not by the
    server's upload folder."""
    try:
        yield
    except (PageError, Cancelled):
        raise
    except Exception as e:  # noqa: BLE001 - the server must survive every request
        line = mmdream.error_line(e, output)
        if line is None:
            log.error("request failed:\n%s", traceback.format_exc())
            line = f"mmdream: internal error: {e.__class__.__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        for path in filter(None, inputs):
            line = line.replace(str(path), Path(path).name)
        raise PageError(line) from None


@dataclass
class Studio:
    """The server's state: where dreams are written, the shared folder, the render in progress."""

    outputs: Path
    shared: Path | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def create(cls, shared: str | Path | None = None) -> Studio:
        if shared is not None:
            shared = Path(shared).expanduser().resolve()
            if not shared.is_dir():
                raise mmdream.UserError(f"--share-folder {shared} is not a folder")
            outputs = shared / "dreams"
        else:
            outputs = Path(tempfile.mkdtemp(prefix="mmdream-studio-"))
        outputs.mkdir(parents=True, exist_ok=True)
        return cls(outputs, shared)

    def output_path(self, source: str | None, suffix: str) -> Path:
        """A fresh name for a dream of `source` (never the input's own name)."""
        stem = Path(source).stem[:40] if source else "dream"
        return self.outputs / f"{stem}-dream-{uuid.uuid4().hex[:8]}{suffix}"

    def kept(self, upload: str) -> str:
        """An uploaded clip under a name fixed by its contents (linked, or copied across disks): a render's work
        folder is keyed to its input's path and time, and an upload sent again must resume, not restart."""
        digest = hashlib.sha256()
        with open(upload, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        kept = self.outputs / "clips" / digest.hexdigest()[:16] / Path(upload).name
        if not kept.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(kept) as tmp:
                try:
                    os.link(upload, tmp)
                except OSError:
                    shutil.copyfile(upload, tmp)
        return str(kept)

    def shared_files(self, suffixes: frozenset[str] | set[str]) -> list[str]:
        """Files of one kind in the shared folder (not the dreams written there), for the page's pickers."""
        if self.shared is None:
            return []
        return sorted(str(p) for p in self.shared.rglob("*") if p.suffix.lower() in suffixes and p.is_file()
                      and self.outputs not in p.parents)

    def shared_path(self, path: str) -> str:
        """A server-side path typed into the page, allowed only inside the shared folder."""
        if self.shared is None:
            raise PageError("mmdream: error: start the studio with --share-folder DIR to use files on the server")
        resolved = Path(path).expanduser().resolve()
        if self.shared not in resolved.parents:
            raise PageError(f"mmdream: error: {path} is outside the shared folder {self.shared}")
        return str(resolved)


# ---- choices the page offers -----------------------------------------------------------------------------------
def net_choices(kind: str) -> list[tuple[str, str]]:
    """(label, name) per net of one kind: the ready ones first, the rest marked as needing weights."""
    return [(n.name if n.ready else f"{n.name} (needs weights)", n.name) for n in mmdream.list_nets(kind)]


def net_info(name: str | None) -> mmdream.NetInfo | None:
    """The listed net of that name, or None (a typed name or path: the dream itself will judge it)."""
    return next((n for n in mmdream.list_nets() if n.name == name), None)


def layers_spec(names: list[str] | None, depth: float | None) -> str | None:
    """The `layers=` option from the page: chosen names, else a depth in [0, 1], else the net's defaults."""
    if names:
        return ",".join(names)
    return None if depth is None else f"{depth:g}"


def check_schedule(text: str) -> str:
    """The schedule editor's verdict on every change: its keyframe times, or the parser's one-line error."""
    try:
        schedule = mmdream.Schedule.parse(text or "", "schedule")
    except mmdream.UserError as e:
        return mmdream.error_line(e)
    return f"✓ {len(schedule.times)} keyframe(s) at {', '.join(f'{t:g} s' for t in schedule.times)}"


def _schedule_file(studio: Studio, text: str | None) -> str | None:
    """The editor's schedule as a file the API reads, checked first (so an error names the editor) and named by
    its contents (so the same schedule resumes the same render)."""
    if not text or not text.strip():
        return None
    mmdream.Schedule.parse(text, "schedule")
    path = studio.outputs / "schedules" / f"{hashlib.sha256(text.encode()).hexdigest()[:12]}.toml"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        with atomic_output(path) as tmp:
            tmp.write_text(text)
    return str(path)


def _bar(progress: Callable | None) -> Callable | None:
    """The API's `progress(done, total, desc)` onto the page's progress (Gradio's gr.Progress)."""
    if progress is None:
        return None
    return lambda done, total, desc: progress((done, total) if total else None, desc=desc)


# ---- picture ---------------------------------------------------------------------------------------------------
def dream_picture(studio: Studio, photo: str | None, net: str, layer_names: list[str] | None, depth: float | None,
                  octaves: int, steps: int, strength: float, seed: int, target: str | None, guide: str | None,
                  max_size: int, progress: Callable | None = None) -> tuple[str, str]:
    """The dream of a photo: (its path, the objective before and after in words)."""
    if not photo:
        raise PageError("mmdream: error: upload or pick a photo first")
    out = studio.output_path(photo, ".png")
    with one_line_errors(out, (photo, guide)):
        result = mmdream.dream_image(photo, out, net=net, layers=layers_spec(layer_names, depth), target=target or None,
                                     guide=guide or None, octaves=int(octaves), steps=int(steps), strength=strength,
                                     seed=int(seed), max_size=int(max_size), progress=_bar(progress))
    return str(out), views.objective_summary(result.figures)


# ---- sound -----------------------------------------------------------------------------------------------------
def dream_sound(studio: Studio, sound: str | None, net: str, layer_names: list[str] | None, depth: float | None,
                target: str | None, steps: int, strength: float, duration: float | None,
                progress: Callable | None = None) -> tuple[str, np.ndarray, np.ndarray, str]:
    """The dream of a sound: (its path, the input's and the dream's spectrograms, objective and loudness)."""
    if not sound:
        raise PageError("mmdream: error: upload or record a sound first")
    out = studio.output_path(sound, ".wav")
    with one_line_errors(out, (sound,)):
        result = mmdream.dream_audio(sound, out, net=net, layers=layers_spec(layer_names, depth),
                                     target=target or None, steps=int(steps), strength=strength,
                                     duration=duration or None, progress=_bar(progress))
        before = views.spectrogram(sound, duration or None)
        after = views.spectrogram(str(out))
    return str(out), before, after, views.sound_summary(result.figures)


# ---- film ------------------------------------------------------------------------------------------------------
def dream_film(studio: Studio, upload: str | None, server_path: str | None, net: str, audio_net: str, max_size: int,
               start: float, end: float | None, schedule_text: str | None, react: float, style: str | None,
               steps: int, progress: Callable | None = None,
               every: float = 0.1) -> Iterator[tuple[str, np.ndarray | None, str | None]]:
    """Render a film, yielding (status, contact sheet of the latest dreamed frames, finished film) as it goes.
    The render runs in a worker thread; Cancel stops it after the frame in hand, keeping the work folder so the
    same render, started again, resumes."""
    if not server_path and not upload:
        raise PageError("mmdream: error: upload a clip or give a path in the shared folder first")
    with one_line_errors(studio.outputs / "clips", (upload,)):
        source = studio.shared_path(server_path) if server_path else studio.kept(upload)
    out = studio.outputs / f"{Path(source).stem[:40]}-dream.mp4"  # one name per clip: a rerun resumes
    with one_line_errors(out):
        options = {"max_size": int(max_size), "start": float(start or 0), "end": end or None, "react": react or 0.0,
                   "schedule": _schedule_file(studio, schedule_text), "steps": int(steps) if steps else None}
    latest: deque[np.ndarray] = deque(maxlen=6)
    state: dict = {"done": 0, "total": None, "desc": "starting", "result": None, "error": None}
    studio.cancel.clear()

    def on_frame(_index: int, rgb: np.ndarray) -> None:
        latest.append(views.thumbnail(rgb))
        if studio.cancel.is_set():
            raise Cancelled

    def on_progress(done: int, total: int | None, desc: str) -> None:
        if desc == "frames":
            state.update(done=done, total=total, desc=desc)

    def render() -> None:
        try:
            with one_line_errors(out, (source, style)):
                state["result"] = mmdream.dream_video(source, out, net=net, audio_net=audio_net,
                                                      style=style or None, progress=on_progress, on_frame=on_frame,
                                                      **{k: v for k, v in options.items() if v is not None})
        except PageError as e:
            state["error"] = e
        except Cancelled:
            state["error"] = Cancelled()

    worker = threading.Thread(target=render, name="mmdream-studio-film", daemon=True)
    worker.start()
    shown, rate = -1, views.FrameRate()
    while worker.is_alive():
        worker.join(every)
        rate.add(state["done"])
        if progress is not None and state["total"]:
            progress((state["done"], state["total"]), desc="frames", unit="frames")
        if state["done"] != shown and latest:
            shown = state["done"]
            yield views.film_progress(state["done"], state["total"], rate), views.sheet(list(latest)), None
    if isinstance(state["error"], Cancelled):
        yield (f"cancelled after {state['done']} frames; the work is kept: Render again resumes it",
               views.sheet(list(latest)) if latest else None, None)
        return
    if state["error"] is not None:
        raise state["error"]
    yield views.film_summary(state["result"].figures), views.sheet(list(latest)) if latest else None, str(out)


def cancel_film(studio: Studio) -> str:
    studio.cancel.set()
    return "cancelling after the frame in hand…"


# ---- style -----------------------------------------------------------------------------------------------------
def style_picture(studio: Studio, content: str | None, style: str | None, net: str, steps: int, max_size: int,
                  progress: Callable | None = None) -> tuple[str, str]:
    if not content or not style:
        raise PageError("mmdream: error: give a content picture and a style picture")
    out = studio.output_path(content, ".png")
    with one_line_errors(out, (content, style)):
        result = mmdream.style_image(content, style, out, net=net, max_size=int(max_size), style_steps=int(steps),
                                     progress=_bar(progress))
    return str(out), views.style_summary(result.figures)


def style_sound(studio: Studio, content: str | None, style: str | None, steps: int, duration: float | None,
                progress: Callable | None = None) -> tuple[str, str]:
    if not content or not style:
        raise PageError("mmdream: error: give a content sound and a style sound")
    out = studio.output_path(content, ".wav")
    with one_line_errors(out, (content, style)):
        result = mmdream.style_audio(content, style, out, audio_style_steps=int(steps), duration=duration or None,
                                     progress=_bar(progress))
    return str(out), views.style_summary(result.figures)

