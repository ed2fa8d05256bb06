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
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

import mmdream
from mmdream.modality import MODALITIES
from mmdream.studio import views
from mmdream.studio.inputs import (
    AS_THE_MODEL_SAYS,
    CLIP,
    DEPTH,
    EXPLAIN,
    FILM,
    LAYERS,
    LIVE,
    MODEL_RANGE,
    PICTURE,
    SCHEDULE_TEXT,
    SOUND,
    STYLE_PICTURE,
    STYLE_SOUND,
    WARM_STEPS,
    page_spec,
)
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


# An absolute path on the server, as an error of a library may name one (a temporary file, a cache): shown by its
# last part alone.
_SERVER_PATH = re.compile(r"(?<![\w.~-])/(?:[^\s'\"/]+/)+([^\s'\"/]*)")


def without_server_paths(line: str, inputs: tuple[str | None, ...] = ()) -> str:
    """A line as a visitor may see it: an input named by its file name, any other path on the server by its last
    part, so no error tells a visitor where the server keeps things."""
    for path in filter(None, inputs):
        line = line.replace(str(path), Path(path).name)
    return _SERVER_PATH.sub(lambda m: m[1], line)


@contextlib.contextmanager
def one_line_errors(output: str | Path | None = None, inputs: tuple[str | None, ...] = (),
                    collect: bool = True) -> Iterator[None]:
    """Turn whatever a request raises into one line: the CLI's for a user's problem, a short one for a bug
    (whose traceback goes to the server's log), neither naming a place on the server. A request that fails leaves
    no empty folder of dreams behind. Afterwards a full collection comes (`collect`, paced by COLLECTIONS): a
    dream's net and traced steps sit in reference cycles, and left to the collector's own pace they pile up, so a
    long session's memory would creep upward. A request that builds no dreamer (a schedule checked as it is typed,
    a live frame: its stream keeps its dreamers and is collected when it ends) asks for none."""
    try:
        yield
    except (PageError, Cancelled):
        _tidy(output)
        raise
    except Exception as e:  # noqa: BLE001 - the server must survive every request
        _tidy(output)
        line = mmdream.error_line(e, output)
        if line is None:
            log.error("request failed:\n%s", traceback.format_exc())
            line = f"mmdream: internal error: {e.__class__.__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        raise PageError(page_words(without_server_paths(line.splitlines()[0], inputs))) from None
    finally:
        if collect:
            COLLECTIONS.after_request()


class PacedCollections:
    """Full collections after requests, at most `share` of the server's time: one costs a tenth of a second and
    more in a studio whose nets and traces are loaded, and requests of a busy studio come faster than that. One
    asked for within the pause after the last runs when the pause ends, so what a request let go is freed within
    a few seconds, busy or idle, and memory stays as flat as with a collection after every request."""

    def __init__(self, share: float) -> None:
        self.share = share
        self.allowed_at = 0.0  # time.monotonic() from which a collection may run again
        self.waiting: threading.Timer | None = None
        self.lock = threading.Lock()

    def after_request(self) -> None:
        with self.lock:
            wait = self.allowed_at - time.monotonic()
            if wait <= 0:
                self._collect()
            elif self.waiting is None:
                self.waiting = threading.Timer(wait, self._when_allowed)
                self.waiting.daemon = True
                self.waiting.start()

    def _when_allowed(self) -> None:
        with self.lock:
            self.waiting = None
            self._collect()

    def _collect(self) -> None:
        start = time.monotonic()
        gc.collect()
        end = time.monotonic()
        self.allowed_at = end + (end - start) / self.share


COLLECTIONS = PacedCollections(share=0.05)


def _tidy(output: str | Path | None) -> None:
    """The folder a failed request was to write in, if it holds nothing (a visitor's first request that failed)."""
    if output is not None:
        with contextlib.suppress(OSError):  # it holds earlier dreams, or is gone
            Path(output).parent.rmdir()


# ---- choices the page offers -----------------------------------------------------------------------------------
def net_choices(kind: str) -> list[tuple[str, str]]:
    """(label, name) per net of one kind: the ready ones first, the rest marked as needing weights."""
    return [(n.name if n.ready else f"{n.name} (needs weights)", n.name) for n in mmdream.list_nets(kind)]


def net_info(name: str | None) -> mmdream.NetInfo | None:
    """The listed net of that name, or None."""
    return next((n for n in mmdream.list_nets() if n.name == name), None)


def listed_net(kind: str | None, name: str | None) -> str:
    """A net the page lists (registered, or trained here) by name, of one kind (None: either); a visitor never
    names a file on the server, and the refusal says nothing about what is there."""
    names = [n.name for n in mmdream.list_nets(kind)]
    if name not in names:
        of_kind = f" for {kind}" if kind else ""
        raise PageError(f"mmdream: error: unknown net {str(name)[:200]!r}{of_kind}; choose one of {', '.join(names)}")
    return name


def visitor_net(studio: Studio, session: str, kind: str | None, name) -> str:
    """The net a request dreams with: the visitor's own model of that name (an image classifier they uploaded, as
    a reference holding the value range given for it), else a listed net. No other visitor's model is found."""
    from mmdream.nets import with_range

    own = studio.model(session, name) if kind in ("image", None) and isinstance(name, str) else None
    if own is not None:
        return with_range(str(own[0]), own[1])
    return listed_net(kind, name)


def net_spec(studio: Studio, session: str, kind: str | None, command: str, taken: dict, **values):
    """The command's spec from the page's values (each checked as sent, the net's name too), its net the
    visitor's own model of that name or a listed net."""
    spec = page_spec(command, taken, **values)
    net = visitor_net(studio, session, kind, spec.net)
    return spec if net == spec.net else page_spec(command, taken, **{**values, "net": net})


def _shown(net: str) -> str:
    """A net reference as a visitor named it (their own model by its file name, not its place on the server)."""
    from mmdream.nets import is_model_file
    from mmdream.nets.registry import RANGE_MARK

    return Path(net.split(RANGE_MARK)[0]).name if is_model_file(net) else net


def shown_summary(result, net: str | None = None) -> str:
    """A result's summary as a visitor may read it: their own model by its file name, no place on the server."""
    text = result.summary()
    if net is not None and net != _shown(net):
        from mmdream.nets.registry import RANGE_MARK

        text = text.replace(net, _shown(net)).replace(net.split(RANGE_MARK)[0], _shown(net))
    return without_server_paths(text)


def add_model(studio: Studio, upload: str | None, value_range: str | None, session: str = LOCAL) -> str:
    """A visitor's own Keras image classifier, checked by the code that checks `--net mine.keras` (its
    `--value-range` too) and kept for them alone; a summary of what it takes and how it can be dreamed."""
    from mmdream.nets import load_net, with_range

    if not upload:
        raise PageError("mmdream: error: upload a .keras or .h5 model first")
    value_range = None if value_range in (None, "", AS_THE_MODEL_SAYS) else MODEL_RANGE.check(value_range)
    name, path = studio.add_model(session, upload, value_range)
    try:
        with one_line_errors(None, (upload, str(path))):
            net = load_net(with_range(str(path), value_range))
            if net.kind != "image":
                raise PageError(f"mmdream: error: {name} is not an image classifier")
    except PageError as e:
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".range").unlink(missing_ok=True)
        if "cannot tell the values" in str(e):
            raise PageError(f"{e}; choose the values it takes as its value range") from None
        raise
    return (f"**{name}** is yours for this visit: {len(net.classes)} classes, {len(net.layers)} dreamable layers; "
            f"type its name as the net of the Picture, Film, Live or Inside the net tab")


def layers_spec(names: list[str] | None, depth: float | None) -> str | None:
    """The `layers=` option from the page: chosen names, else a depth in [0, 1], else the net's defaults."""
    if chosen := LAYERS.names(names):
        return ",".join(chosen)
    return None if depth is None else f"{depth:g}"


def check_schedule(text: str) -> str:
    """The schedule editor's verdict on every change: its keyframe times, or the parser's one-line error (never an
    exception: the editor asks on every key)."""
    try:
        with one_line_errors(collect=False):
            schedule = mmdream.Schedule.parse(SCHEDULE_TEXT.check(text) or "", "schedule")
    except PageError as e:
        return str(e)
    return f"✓ {len(schedule.times)} keyframe(s) at {', '.join(f'{t:g} s' for t in schedule.times)}"


def checked_schedule(text: str | None) -> str | None:
    """The editor's schedule text if it holds one, parsed first (so an error names the editor); None if empty."""
    if not SCHEDULE_TEXT.check(text) or not text.strip():
        return None
    with one_line_errors(collect=False):
        mmdream.Schedule.parse(text, "schedule")
    return text


def _given(value):
    """An empty text box's "" is no value; anything else is checked as sent (a {} is not text, not "none")."""
    return None if value is None or value == "" else value


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
    depth = DEPTH.check(depth)
    layers = layers_spec(layer_names, depth if by_depth else None)
    spec = net_spec(studio, session, "image", "image", PICTURE, net=net, layers=layers, octaves=octaves, steps=steps,
                    strength=strength, seed=seed, target=_given(target), max_size=max_size, guide=_given(guide))
    net = spec.net
    if not photo:
        raise PageError("mmdream: error: upload or pick a photo first")
    out = studio.output_path(session, photo, ".png")
    with one_line_errors(out, (photo, guide, net)):
        result = mmdream.dream_image(photo, out, spec=spec, progress=_bar(progress))
    return str(out), shown_summary(result, net)


# ---- sound -----------------------------------------------------------------------------------------------------
def dream_sound(studio: Studio, sound: str | None, net: str, layer_names: list[str] | None, depth: float,
                by_depth: bool, target: str | None, steps: int, strength: float, duration: float | None,
                progress: Callable | None = None,
                session: str = LOCAL) -> tuple[str, np.ndarray, np.ndarray, str]:
    """The dream of a sound: (its path, the input's and the dream's spectrograms, objective and loudness)."""
    depth = DEPTH.check(depth)
    layers = layers_spec(layer_names, depth if by_depth else None)
    spec = page_spec("audio", SOUND, net=net, layers=layers, target=_given(target), steps=steps, strength=strength,
                     duration=duration)
    listed_net("audio", spec.net)
    if not sound:
        raise PageError("mmdream: error: upload or record a sound first")
    out = studio.output_path(session, sound, ".wav")
    with one_line_errors(out, (sound,)):
        result = mmdream.dream_audio(sound, out, spec=spec, progress=_bar(progress))
        before = views.spectrogram(sound, spec.duration)
        after = views.spectrogram(str(out))
    return str(out), before, after, result.summary()


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
    server_path = CLIP.check(server_path)
    schedule_text = checked_schedule(schedule_text)
    if on_cluster and studio.ray is None:
        raise PageError("mmdream: error: this studio renders on no cluster; start it with `mmdream serve --ray ADDRESS`")
    cluster = {"ray": studio.ray, "task_resources": studio.task_resources} if on_cluster else {}
    spec = net_spec(studio, session, "image", "video", FILM, net=net, audio_net=audio_net, max_size=max_size,
                    start=start, end=end, react=react, steps=steps, follow=None if follow == "none" else follow,
                    style=_given(style), schedule=schedule_text and str(studio.schedule_path(schedule_text)),
                    **cluster)
    listed_net("audio", spec.audio_net)
    if not server_path and not upload:
        raise PageError("mmdream: error: upload a clip or pick one in the shared folder first")
    with one_line_errors(None, (upload,), collect=False):
        source, digest = studio.clip(upload, server_path)
        out = studio.film_path(session, source, digest)
    with one_line_errors(out, collect=False):
        if schedule_text:
            studio.schedule_file(schedule_text)
    with studio.render(session) as cancel:
        yield from _render(out, source, spec, cancel, progress, every)


def _render(out: Path, source: str, spec, cancel: threading.Event, progress: Callable | None,
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
            with one_line_errors(out, (source, spec.style, spec.net)):
                state["result"] = mmdream.dream_video(source, out, spec=spec, progress=on_progress, on_frame=on_frame)
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
    yield shown_summary(state["result"], spec.net), views.sheet(list(latest)) if latest else None, str(out)


def cancel_film(studio: Studio, session: str = LOCAL) -> str:
    """Cancel the caller's own film, and only theirs."""
    if studio.cancel(session):
        return "cancelling after the frame in hand…"
    return "no film of yours is rendering"


# ---- live ------------------------------------------------------------------------------------------------------
def live_frame(studio: Studio, frame: np.ndarray | None, net: str, depth: float, strength: float, steps: float,
               max_size: int, session: str = LOCAL) -> tuple[np.ndarray, str]:
    """One frame of the visitor's camera dreamed in their live stream (mmdream.studio.live): the dream, and the
    stream's frames per second, latency and layer in words. Depth, strength and warm steps act on the running
    stream; the first frame starts it (or says that live is busy)."""
    depth, steps = DEPTH.check(depth), int(WARM_STEPS.check(steps))
    spec = net_spec(studio, session, "image", "live", LIVE, net=net, strength=strength, max_size=max_size)
    net = spec.net
    if frame is None:
        raise PageError("mmdream: error: allow the camera first")
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] not in (3, 4) or min(frame.shape[:2]) < 8:
        raise PageError("mmdream: error: a camera frame must be a colour picture")
    with one_line_errors(None, (net,), collect=False):
        return studio.live.frame(session, frame, spec.net, spec.max_size, depth, spec.strength, steps or None)


def end_live(studio: Studio, session: str = LOCAL, why: str = "its page closed") -> None:
    """The visitor's live stream ends (their page closed, or their client ended it) and its memory is let go."""
    studio.live.end(session, why)


# ---- style -----------------------------------------------------------------------------------------------------
def style_picture(studio: Studio, content: str | None, style: str | None, net: str, steps: int, max_size: int,
                  progress: Callable | None = None, session: str = LOCAL) -> tuple[str, str]:
    spec = page_spec("style image", STYLE_PICTURE, style=style or "", net=net, style_steps=steps, max_size=max_size)
    listed_net("image", spec.net)
    if not content or not style:
        raise PageError("mmdream: error: give a content picture and a style picture")
    out = studio.output_path(session, content, ".png")
    with one_line_errors(out, (content, style)):
        result = mmdream.style_image(content, style, out, spec=spec, progress=_bar(progress))
    return str(out), result.summary()


def style_sound(studio: Studio, content: str | None, style: str | None, steps: int, duration: float | None,
                progress: Callable | None = None, session: str = LOCAL) -> tuple[str, str]:
    spec = page_spec("style audio", STYLE_SOUND, style=style or "", audio_style_steps=steps, duration=duration)
    if not content or not style:
        raise PageError("mmdream: error: give a content sound and a style sound")
    out = studio.output_path(session, content, ".wav")
    with one_line_errors(out, (content, style)):
        result = mmdream.style_audio(content, style, out, spec=spec, progress=_bar(progress))
    return str(out), result.summary()


# ---- inside the nets -------------------------------------------------------------------------------------------
def explain_net(studio: Studio, net: str, classes: str | None, channel: str | None, steps: int, max_size: int,
                diversity: int, progress: Callable | None = None,
                session: str = LOCAL) -> tuple[str | None, str | None, str | None, str]:
    """What a listed net has learned: (an image net's grid, a sound net's sounds one after another and their
    sheet, the summary). A sound net's folder is kept as two files of the visitor's own, pruned as any dream is."""
    import shutil

    import soundfile as sf

    spec = net_spec(studio, session, None, "explain", EXPLAIN, net=net, classes=_given(classes),
                    channel=_given(channel), steps=steps, max_size=max_size, diversity=diversity)
    net = spec.net
    kind = "image" if net != _shown(net) else net_info(net).kind
    out = studio.output_path(session, _shown(net), ".png" if MODALITIES[kind].squashed else "")
    with one_line_errors(out, (net,)):
        result = mmdream.explain(spec.net, out, spec=spec, progress=_bar(progress))
    if MODALITIES[kind].squashed:
        return str(out), None, None, shown_summary(result, net)
    sound, sheet = out.with_name(out.name + ".wav"), out.with_name(out.name + ".png")
    pieces = [sf.read(row["file"], dtype="float32") for row in result.objectives]
    rate = pieces[0][1]
    gap = np.zeros((rate // 2,) + pieces[0][0].shape[1:], np.float32)
    sf.write(sound, np.concatenate([part for x, _ in pieces for part in (x, gap)][:-1]), rate)
    shutil.move(out / "sheet.png", sheet)
    shutil.rmtree(out)
    return None, str(sound), str(sheet), shown_summary(result, net)

