"""What each of the studio's buttons does: plain functions on mmdream's public API, which are also the studio's
HTTP API (`/dream_image`, `/dream_audio`, `/dream_video`, ...). They know nothing of the page's layout.

Every failure a user can fix reaches the page as the one line the CLI prints (`mmdream.error_line`); anything
else is logged with its traceback and shown as one line too, so no request takes the server down.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import re
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

import mmdream
from mmdream.options import BY_NAME
from mmdream.studio import views
from mmdream.studio.inputs import FILM, PICTURE, SOUND, STYLE_PICTURE, STYLE_SOUND, checked
from mmdream.studio.visitors import LOCAL, PageError, Studio

log = logging.getLogger("mmdream.studio")


class Cancelled(Exception):
    """Raised inside the render's frame callback when the visitor's Cancel was pressed."""


def page_words(line: str) -> str:
    """The CLI's line in the page's words: advice about a command-line flag (a clause after "; ") is dropped, as a
    visitor cannot give one, and a flag left in the line reads as words."""
    head, *clauses = line.split("; ")
    line = "; ".join([head, *(c for c in clauses if "--" not in c)])
    return re.sub(r"--([a-z][a-z0-9-]*)", lambda m: m[1].replace("-", " "), line)


@contextlib.contextmanager
def one_line_errors(output: str | Path | None = None, inputs: tuple[str | None, ...] = ()) -> Iterator[None]:
    """Turn whatever a request raises into one line: the CLI's for a user's problem, a short one for a bug
    (whose traceback goes to the server's log). An uploaded input is named by its file name, not by the
    server's upload folder. Afterwards the collector runs: a dream's net and traced steps sit in reference
    cycles, and left to the collector's own pace they pile up, so a long session's memory would creep upward."""
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
        if output is not None:
            line = line.replace(str(Path(output).parent), "the studio's folder")
        raise PageError(page_words(line)) from None
    finally:
        gc.collect()


# ---- choices the page offers -----------------------------------------------------------------------------------
def net_choices(kind: str) -> list[tuple[str, str]]:
    """(label, name) per net of one kind: the ready ones first, the rest marked as needing weights."""
    return [(n.name if n.ready else f"{n.name} (needs weights)", n.name) for n in mmdream.list_nets(kind)]


def net_info(name: str | None) -> mmdream.NetInfo | None:
    """The listed net of that name, or None."""
    return next((n for n in mmdream.list_nets() if n.name == name), None)


def listed_net(kind: str, name: str | None) -> str:
    """A net the page lists (registered, or trained here) by name; a visitor never names a file on the server,
    and the refusal says nothing about what is there."""
    names = [n.name for n in mmdream.list_nets(kind)]
    if name not in names:
        raise PageError(f"mmdream: error: unknown net {str(name)[:200]!r} for {kind}; choose one of {', '.join(names)}")
    return name


def layers_spec(names: list[str] | None, depth: float | None) -> str | None:
    """The `layers=` option from the page: chosen names, else a depth in [0, 1], else the net's defaults."""
    if names:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise PageError("mmdream: error: layers must be a list of layer names")
        return ",".join(names)
    return None if depth is None else f"{depth:g}"


def check_schedule(text: str) -> str:
    """The schedule editor's verdict on every change: its keyframe times, or the parser's one-line error."""
    try:
        schedule = mmdream.Schedule.parse(text if isinstance(text, str) else "", "schedule")
    except mmdream.UserError as e:
        return mmdream.error_line(e)
    return f"✓ {len(schedule.times)} keyframe(s) at {', '.join(f'{t:g} s' for t in schedule.times)}"


def _schedule_file(studio: Studio, text: str | None) -> str | None:
    """The editor's schedule as a file the API reads, checked first (so an error names the editor)."""
    if not text or not text.strip():
        return None
    mmdream.Schedule.parse(text, "schedule")
    return studio.schedule_file(text)


def _bar(progress: Callable | None) -> Callable | None:
    """The API's `progress(done, total, desc)` onto the page's progress (Gradio's gr.Progress)."""
    if progress is None:
        return None
    return lambda done, total, desc: progress((done, total) if total else None, desc=desc)


# ---- picture ---------------------------------------------------------------------------------------------------
def dream_picture(studio: Studio, photo: str | None, net: str, layer_names: list[str] | None, depth: float,
                  by_depth: bool, octaves: int, steps: int, strength: float, seed: int, target: str | None,
                  guide: str | None, max_size: int, progress: Callable | None = None,
                  session: str = LOCAL) -> tuple[str, str]:
    """The dream of a photo: (its path, the objective before and after in words)."""
    n = checked(PICTURE, depth=depth, octaves=octaves, steps=steps, strength=strength, seed=seed, max_size=max_size)
    net = listed_net("image", net)
    if not photo:
        raise PageError("mmdream: error: upload or pick a photo first")
    out = studio.output_path(session, photo, ".png")
    with one_line_errors(out, (photo, guide)):
        layers = layers_spec(layer_names, n["depth"] if by_depth else None)
        result = mmdream.dream_image(
            photo, out, net=net, layers=layers, target=target or None, guide=guide or None,
            octaves=n["octaves"], steps=n["steps"], strength=n["strength"], seed=n["seed"],
            max_size=n["max_size"], progress=_bar(progress))
    return str(out), views.objective_summary(result.figures)


# ---- sound -----------------------------------------------------------------------------------------------------
def dream_sound(studio: Studio, sound: str | None, net: str, layer_names: list[str] | None, depth: float,
                by_depth: bool, target: str | None, steps: int, strength: float, duration: float | None,
                progress: Callable | None = None,
                session: str = LOCAL) -> tuple[str, np.ndarray, np.ndarray, str]:
    """The dream of a sound: (its path, the input's and the dream's spectrograms, objective and loudness)."""
    n = checked(SOUND, depth=depth, steps=steps, strength=strength, duration=duration)
    net = listed_net("audio", net)
    if not sound:
        raise PageError("mmdream: error: upload or record a sound first")
    out = studio.output_path(session, sound, ".wav")
    seconds = n["duration"] or None
    with one_line_errors(out, (sound,)):
        layers = layers_spec(layer_names, n["depth"] if by_depth else None)
        result = mmdream.dream_audio(
            sound, out, net=net, layers=layers, target=target or None, steps=n["steps"],
            strength=n["strength"], duration=seconds, progress=_bar(progress))
        before = views.spectrogram(sound, seconds)
        after = views.spectrogram(str(out))
    return str(out), before, after, views.sound_summary(result.figures)


# ---- film ------------------------------------------------------------------------------------------------------
def dream_film(studio: Studio, upload: str | None, server_path: str | None, net: str, audio_net: str, max_size: int,
               start: float, end: float | None, schedule_text: str | None, react: float, style: str | None,
               steps: int, progress: Callable | None = None, every: float = 0.1,
               session: str = LOCAL, follow: str = "none",
               on_cluster: bool = False) -> Iterator[tuple[str, np.ndarray | None, str | None]]:
    """Render a film, yielding (status, contact sheet of the latest dreamed frames, finished film) as it goes.
    The render runs in a worker thread; the visitor's Cancel stops it after the frame in hand, keeping the work
    folder so the same render, started again, resumes. `on_cluster`: as tasks on the studio's Ray cluster (its
    latest frames are a frame of each running segment now and then; Cancel keeps the finished segments)."""
    n = checked(FILM, max_size=max_size, start=start, end=end, steps=steps, react=react)
    net, audio_net = listed_net("image", net), listed_net("audio", audio_net)
    if not server_path and not upload:
        raise PageError("mmdream: error: upload a clip or pick one in the shared folder first")
    if on_cluster and studio.ray is None:
        raise PageError("mmdream: error: this studio renders on no cluster; start it with `mmdream serve --ray ADDRESS`")
    if follow not in ("none", *(choices := BY_NAME["follow"].choices)):
        raise PageError(f"mmdream: error: follow must be none, {', '.join(choices)}")
    with one_line_errors(None, (upload,)):
        source, digest = studio.clip(upload, server_path)
        out = studio.film_path(session, source, digest)
    with one_line_errors(out):
        options = {"max_size": n["max_size"], "start": n["start"], "end": n["end"] or None, "react": n["react"],
                   "schedule": _schedule_file(studio, schedule_text), "steps": n["steps"],
                   "follow": None if follow == "none" else follow}
        if on_cluster:
            options.update(ray=studio.ray, task_resources=studio.task_resources)
    with studio.render(session) as cancel:
        yield from _render(out, source, net, audio_net, style, options, cancel, progress, every)


def _render(out: Path, source: str, net: str, audio_net: str, style: str | None, options: dict,
            cancel: threading.Event, progress: Callable | None,
            every: float) -> Iterator[tuple[str, np.ndarray | None, str | None]]:
    latest: deque[np.ndarray] = deque(maxlen=6)
    state: dict = {"done": 0, "total": None, "desc": "starting", "result": None, "error": None}

    def on_frame(_index: int, rgb: np.ndarray) -> None:
        latest.append(views.thumbnail(rgb))
        if cancel.is_set():
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
    try:
        while worker.is_alive():
            worker.join(every)
            rate.add(state["done"])
            if progress is not None and state["total"]:
                progress((state["done"], state["total"]), desc="frames", unit="frames")
            if state["done"] != shown and latest:
                shown = state["done"]
                yield views.film_progress(state["done"], state["total"], rate), views.sheet(list(latest)), None
    finally:
        if worker.is_alive():  # the visitor left (the page closed the stream): stop their render, keep its work
            cancel.set()
            worker.join()
    if isinstance(state["error"], Cancelled):
        yield (f"cancelled after {state['done']} frames; the work is kept: Render again resumes it",
               views.sheet(list(latest)) if latest else None, None)
        return
    if state["error"] is not None:
        raise state["error"]
    yield views.film_summary(state["result"].figures), views.sheet(list(latest)) if latest else None, str(out)


def cancel_film(studio: Studio, session: str = LOCAL) -> str:
    """Cancel the caller's own film, and only theirs."""
    if studio.cancel(session):
        return "cancelling after the frame in hand…"
    return "no film of yours is rendering"


# ---- style -----------------------------------------------------------------------------------------------------
def style_picture(studio: Studio, content: str | None, style: str | None, net: str, steps: int, max_size: int,
                  progress: Callable | None = None, session: str = LOCAL) -> tuple[str, str]:
    n = checked(STYLE_PICTURE, steps=steps, max_size=max_size)
    net = listed_net("image", net)
    if not content or not style:
        raise PageError("mmdream: error: give a content picture and a style picture")
    out = studio.output_path(session, content, ".png")
    with one_line_errors(out, (content, style)):
        result = mmdream.style_image(
            content, style, out, net=net, max_size=n["max_size"], style_steps=n["steps"],
            progress=_bar(progress))
    return str(out), views.style_summary(result.figures)


def style_sound(studio: Studio, content: str | None, style: str | None, steps: int, duration: float | None,
                progress: Callable | None = None, session: str = LOCAL) -> tuple[str, str]:
    n = checked(STYLE_SOUND, steps=steps, duration=duration)
    if not content or not style:
        raise PageError("mmdream: error: give a content sound and a style sound")
    out = studio.output_path(session, content, ".wav")
    with one_line_errors(out, (content, style)):
        result = mmdream.style_audio(
            content, style, out, audio_style_steps=n["steps"], duration=n["duration"] or None,
            progress=_bar(progress))
    return str(out), views.style_summary(result.figures)
