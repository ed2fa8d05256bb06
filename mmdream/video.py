"""The dream film: every frame through the image dreamer and the soundtrack through the audio dreamer, both under
one schedule: the picture is encoded (moviepy's ffmpeg writer) as the frames are dreamed, then muxed with the
soundtrack in sync.

Frames stream from ffmpeg (decoded from the start, never seeked) and each finished frame is written to a work
folder, so memory does not grow with the film's length and an interrupted render resumes where it stopped. A
frame that continues the previous one starts from the previous dream's detail carried along dense optical flow
(occluded pixels start afresh) and needs only a few steps at full size; the first frame and scene cuts get the
whole octave pyramid.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from mmdream.checks import VIDEO_SUFFIXES, film_lock
from mmdream.engine import DreamSettings
from mmdream.errors import UserError
from mmdream.flow import FlowEstimator, Motion, flicker, warp
from mmdream.image import from_dream_space, to_dream_space
from mmdream.io_utils import atomic_output, describe_os_error, disk_full, exclusive, write_failure
from mmdream.media import MediaInfo, even_size, ffmpeg_exe, probe, read_audio_blocks, read_video_frames

# A cold frame (the first, and after a cut) gets the classic recipe: 4 octaves x1.4, 10 steps.
FILM_DEFAULTS = DreamSettings(octaves=4, octave_scale=1.4, steps=10)


@dataclass
class FilmOptions:
    max_size: int = 640  # processing (and output) size of the long side
    start: float = 0.0
    end: float | None = None
    # Continuing frames carry the previous dream along the flow (bicubic, see flow.warp) and add one full-size
    # step: measured with scripts/bench.py, the dream settles about as deep as the classic per-frame recipe's
    # (4 octaves x 10 steps) at a tenth of its cost or less. A coarser warm octave adds little depth for its cost.
    blend: float = 0.99  # share of the previous frame's warped dream detail carried into the next frame
    warm_steps: int | None = None  # steps per octave on a continuing frame (default 1 for dreams)
    cut: float = 40.0  # grey-level change (0..255) the flow cannot explain that restarts the pyramid
    flow: bool = True  # False: every frame is dreamed from scratch (the classic per-frame recipe)
    react: float = 0.0  # how much the soundtrack's onset envelope modulates the visual strength
    fps: float | None = None  # dream and write at this frame rate (None: the input's)
    measure_every: int = 8  # the objective gain is measured on cold frames and every n-th frame
    warm_strength: float = 1.5  # step size of a continuing frame's steps, relative to the schedule's
    warm_octaves: int = 1  # octaves of a continuing frame (1: full size only)
    audio: str = "dream"  # dream | keep | none
    griffin_lim: int = 0
    preview: str | None = None
    keep_work: bool = False


@dataclass
class Dreaming:
    """One dreamer with its schedule (see mmdream.plan.build_plan)."""

    dreamer: object
    plan: object


def film_options(*, max_size: int = 640, start: float = 0.0, end: float | None = None, fps: float | None = None,
                 blend: float | None = None, warm_steps: int | None = None, warm_strength: float | None = None,
                 warm_octaves: int | None = None, cut: float = 40.0, flow: bool = True, react: float = 0.0,
                 audio: str = "dream", griffin_lim: int = 0, preview: str | None = None,
                 keep_work: bool = False) -> FilmOptions:
    """FilmOptions from the film's options as the CLI and the API name them (None: the default)."""
    if audio not in ("dream", "keep", "none"):
        raise UserError(f"audio must be dream, keep or none, not {audio!r}")
    given = {k: v for k, v in {"blend": blend, "warm_strength": warm_strength, "warm_octaves": warm_octaves}.items()
             if v is not None}
    return FilmOptions(max_size=max_size, start=start, end=end, warm_steps=warm_steps, cut=cut, flow=flow,
                       react=react, audio=audio, griffin_lim=griffin_lim, preview=preview, keep_work=keep_work,
                       fps=fps, **given)


def film_fingerprint(src: str, options: dict, opts: FilmOptions) -> dict:
    """What makes two renders the same job (a rerun resumes only if nothing here changed): the input files, the
    options given, and the film options and dream defaults they resolve to, so a changed default cannot mix old
    and new frames."""
    from mmdream.audio import AUDIO_DEFAULTS

    path = Path(src).resolve()
    files = {}
    for key in ("schedule", "style", "audio_style"):
        given = options.get(key)
        if given and Path(given).is_file():
            files[key] = (str(Path(given).resolve()), Path(given).stat().st_mtime, Path(given).stat().st_size)
    unused = ("report", "preview", "keep_work", "progress")
    return {"input": str(path), "size": path.stat().st_size, "mtime": path.stat().st_mtime, **files,
            **{k: v for k, v in options.items() if k not in unused},
            "film": {k: v for k, v in asdict(opts).items() if k not in unused},
            "defaults": {"image": FILM_DEFAULTS.as_dict(), "audio": AUDIO_DEFAULTS.as_dict()}}


# ---- the work folder: finished frames and their figures, so a render can resume ----------------------------
class WorkFolder:
    def __init__(self, output: Path, fingerprint: dict) -> None:
        self.root = output.with_name(f".{output.stem}.mmdream-work")
        self.frames = self.root / "frames"
        self.stats_path = self.root / "frames.jsonl"
        self.audio = self.root / "soundtrack.wav"
        self.video = self.root / "video.mp4"  # the picture alone, encoded while the frames are dreamed
        self._encoder = None
        key = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()
        job = self.root / "job.json"
        if self.root.exists() and (not job.exists() or json.loads(job.read_text()).get("key") != key):
            shutil.rmtree(self.root)  # a different command's leftovers: start over
        self.frames.mkdir(parents=True, exist_ok=True)
        job.write_text(json.dumps({"key": key, "job": fingerprint}, indent=1, default=str))

    def frame_path(self, i: int) -> Path:
        return self.frames / f"{i:06d}.png"

    def finished(self) -> list[dict]:
        """Figures of the frames finished so far, in order (a frame counts once its PNG and its line exist)."""
        if not self.stats_path.exists():
            return []
        rows = []
        for line in self.stats_path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                row = json.loads(line)
                if row["frame"] == len(rows) and self.frame_path(row["frame"]).exists():
                    rows.append(row)
        return rows

    @contextlib.contextmanager
    def encoding(self, size: tuple[int, int], fps: float) -> Iterator[None]:
        """H.264 (yuv420p, moviepy's ffmpeg writer) of every frame as it is saved or replayed, so encoding
        overlaps the network instead of following it. Each run encodes afresh: a resumed render replays the
        frames it finished before."""
        from moviepy.video.io.ffmpeg_writer import FFMPEG_VideoWriter

        self._encoder = FFMPEG_VideoWriter(str(self.video), size, fps, codec="libx264", preset="medium",
                                           ffmpeg_params=["-pix_fmt", "yuv420p"])
        try:
            yield
        except BaseException:
            with contextlib.suppress(OSError):  # a Ctrl-C also stops ffmpeg: its pipe may be gone
                self._encoder.close()
            raise
        else:
            self._encoder.close()
        finally:
            self._encoder = None

    def save(self, i: int, rgb: np.ndarray, row: dict) -> None:
        with atomic_output(self.frame_path(i)) as tmp:
            if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
                raise write_failure(tmp)
        with self.stats_path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        self._encode(rgb)

    def replay(self, i: int) -> np.ndarray:
        """A frame finished in an earlier run, passed to the encoder again."""
        rgb = self.load(i)
        self._encode(rgb)
        return rgb

    def _encode(self, rgb: np.ndarray) -> None:
        if self._encoder is not None:
            self._encoder.write_frame(np.ascontiguousarray(rgb))

    def load(self, i: int) -> np.ndarray:
        return cv2.cvtColor(cv2.imread(str(self.frame_path(i))), cv2.COLOR_BGR2RGB)


# ---- the frames ---------------------------------------------------------------------------------------------
FrameFn = Callable[[int, np.ndarray, "np.ndarray | None", "np.ndarray | None", "Motion | None", float],
                   tuple[np.ndarray, dict]]


def dream_frames(src: str, info: MediaInfo, frame_fn: FrameFn, opts: FilmOptions, work: WorkFolder,
                 strength_factor: np.ndarray, on_frame: Callable[[dict], None] | None = None,
                 thumbs: dict | None = None) -> list[dict]:
    """Run `frame_fn` on every frame into the work folder, resuming after the frames already there. Returns
    per-frame figures (objective gain or losses, flicker against the flow-warped previous output, cold start).

    Four stages overlap: a background thread decodes frames and computes the optical flow of the next pair,
    the main thread runs the network, a writer thread measures flicker and saves finished frames, and an ffmpeg
    process encodes them."""
    size = even_size(*info.video_size, opts.max_size)
    fps = film_fps(info, opts)
    rows = work.finished()
    done = len(rows)
    prev_out = None
    frames = _decoded_with_motion(read_video_frames(src, size, fps, opts.start, opts.end), first=done)

    def finish(i: int, frame: np.ndarray, out: np.ndarray, row: dict, prev: np.ndarray | None, motion) -> None:
        row["flicker"] = None if motion is None else flicker(prev, out, motion)
        row["scene_change"] = None if motion is None else motion.change
        work.save(i, out, row)
        if thumbs is not None and i in thumbs:
            thumbs[i] = (frame, out)
        if on_frame:
            on_frame(row)

    with (work.encoding(size, fps), ThreadPoolExecutor(1, thread_name_prefix="mmdream-writer") as writer,
          contextlib.closing(frames)):
        pending = None
        for i, frame, prev_in, motion in frames:
            if i < done:  # finished in an earlier run: encoded again, and the last one is carried on
                prev_out = work.replay(i)
                if thumbs is not None and i in thumbs:
                    thumbs[i] = (frame, prev_out)
                continue
            t0 = time.perf_counter()
            out, row = frame_fn(i, frame, prev_in, prev_out, motion,
                                float(strength_factor[min(i, len(strength_factor) - 1)]))
            row["seconds"] = round(time.perf_counter() - t0, 4)
            if pending is not None:
                pending.result()  # one frame in flight at most: errors surface, memory stays bounded
            pending = writer.submit(finish, i, frame, out, row, prev_out, motion)
            rows.append(row)
            prev_out = out
        if pending is not None:
            pending.result()
    return rows


def _decoded_with_motion(frames: Iterator[np.ndarray], first: int, depth: int = 4):
    """(index, frame, previous frame, motion) from a background thread that decodes and computes the flow
    while the network works; motion only from frame `first` on (earlier frames were finished before)."""

    def produce() -> Iterator[tuple]:
        flow, prev = FlowEstimator(), None
        for i, frame in enumerate(frames):
            motion = flow.motion(prev, frame) if prev is not None and i >= first else None
            yield i, frame, prev, motion
            prev = frame

    return background(produce(), depth)


class background:  # noqa: N801 - used like a generator function
    """Iterate `items` in a thread, `depth` ahead of the consumer; errors are raised in the consumer. Closing
    it (or leaving a `with` block) stops the thread."""

    _END = object()

    def __init__(self, items: Iterator, depth: int) -> None:
        self.queue: queue.Queue = queue.Queue(depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(items,), daemon=True, name="mmdream-decode")
        self.thread.start()

    def _run(self, items: Iterator) -> None:
        try:
            for item in items:
                if not self._put(item):
                    return
            self._put(self._END)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            self._put(e)
        finally:
            close = getattr(items, "close", None)
            if close:
                close()

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            with contextlib.suppress(queue.Full):
                self.queue.put(item, timeout=0.1)
                return True
        return False

    def __iter__(self):
        while (item := self.queue.get()) is not self._END:
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


class StopSignal(threading.Event):
    """Handed to a worker as its progress object: the worker's next step raises `Stopped` once it is set."""

    class Stopped(Exception):
        pass

    def update(self, _n: int = 1) -> None:
        if self.is_set():
            raise self.Stopped


def film_fps(info: MediaInfo, opts: FilmOptions) -> float:
    """The rate frames are dreamed and written at: --fps, else the input's (25 if it has none), to the 1/100 that
    the encoder takes (ffmpeg reports rates so too): decoded and encoded at one rate, picture and sound cannot drift."""
    return round(opts.fps or info.fps or 25.0, 2)


def continues(motion: Motion | None, opts: FilmOptions) -> bool:
    """Whether a frame can start from the previous result (not the first frame, not a scene cut)."""
    return motion is not None and opts.flow and motion.change <= opts.cut


@dataclass
class StylePass:
    """A style pass inside the dream film: the styliser, the style image (dream space) and when it applies."""

    styler: object  # mmdream.style.ImageStyle
    style: np.ndarray
    when: str = "after"


class FrameDreamer:
    """The dream film's frame function: a cold start (whole pyramid) or a warm continuation of the previous
    dream along the flow; optionally a style pass before or after, as the schedule says."""

    def __init__(self, image: Dreaming, opts: FilmOptions, fps: float, style: StylePass | None = None) -> None:
        self.dreamer, self.plan, self.opts, self.fps, self.style = image.dreamer, image.plan, opts, fps, style

    def __call__(self, i, frame, prev_in, prev_out, motion, strength_factor):
        opts, dreamer = self.opts, self.dreamer
        moment = self.plan.at(opts.start + i / self.fps)
        dreamer.set_layer_weights(moment.layers)
        x = to_dream_space(frame)
        when = (moment.style or self.style.when) if self.style is not None else "none"
        cold = not continues(motion, opts)
        settings = replace(moment.settings, seed=(moment.settings.seed or 0) + i)
        init = self._styled(x, prev_out, motion, cold) if when == "before" else x
        if not cold:
            detail = warp(to_dream_space(prev_out) - to_dream_space(prev_in), motion.backward)
            if when == "before":  # the style is redone each frame: carry only the dream on top of it
                init = np.clip(init + opts.blend * motion.consistent[..., None] * (detail - (init - x)), -1, 1)
            else:
                init = np.clip(x + opts.blend * motion.consistent[..., None] * detail, -1.0, 1.0)
            warm = opts.warm_steps if opts.warm_steps is not None else 1
            settings = replace(settings, octaves=opts.warm_octaves, steps=warm)
        boost = 1.0 if cold else opts.warm_strength
        out = dreamer.dream(init, settings, strength=moment.strength * strength_factor * boost)
        if when == "after":
            out = self._styled(out, prev_out, motion, cold)
        out = from_dream_space(out)
        row = {"frame": i, "time": round(opts.start + i / self.fps, 4), "cold": bool(cold),
               "steps": settings.steps, "octaves": settings.octaves, "style": when,
               "strength": moment.strength * strength_factor}
        if cold or i % opts.measure_every == 0:  # measuring costs two forward passes: a sample of frames
            row["objective_gain"] = dreamer.score(to_dream_space(out)) / max(dreamer.score(x), 1e-12)
        return out, row

    def _styled(self, x, prev_out, motion, cold):
        return stylise_frame(self.style.styler, x, self.style.style, prev_out, motion, cold, self.opts)


def stylise_frame(styler, x: np.ndarray, style: np.ndarray, prev_out: np.ndarray | None, motion: Motion | None,
                  cold: bool, opts: FilmOptions) -> np.ndarray:
    """One frame of video style transfer (Ruder et al. 2016): start from the flow-warped previous result where it
    is visible, and pull toward it there (temporal loss); occluded pixels start from the frame itself."""
    if cold:
        return styler.transfer(x, style)
    warped = warp(to_dream_space(prev_out), motion.backward)
    mask = motion.consistent
    init = mask[..., None] * warped + (1 - mask[..., None]) * x
    warm = opts.warm_steps if opts.warm_steps is not None else max(2, styler.settings.steps // 3)
    return styler.transfer(x, style, init=init, prev=warped, mask=mask, steps=warm)


class FrameStyler:
    """`mmdream style video`'s frame function: video style transfer, or per-frame stylisation with --no-flow."""

    def __init__(self, styler, style: np.ndarray, opts: FilmOptions, fps: float) -> None:
        self.styler, self.style, self.opts, self.fps = styler, style, opts, fps

    def __call__(self, i, frame, prev_in, prev_out, motion, strength_factor):
        x = to_dream_space(frame)
        cold = not continues(motion, self.opts)
        out = from_dream_space(stylise_frame(self.styler, x, self.style, prev_out, motion, cold, self.opts))
        losses = self.styler.losses(to_dream_space(out), x, self.style)
        return out, {"frame": i, "time": round(self.opts.start + i / self.fps, 4), "cold": bool(cold),
                     "style_loss": losses["style"], "content_loss": losses["content"]}


# ---- the soundtrack -----------------------------------------------------------------------------------------
@dataclass
class SoundPlan:
    """How the soundtrack is made: dreamed (`audio`), style-transferred (`styler` + `style_path`, before or
    after the dream), both, or kept."""

    audio: Dreaming | None = None
    styler: object | None = None  # mmdream.style.AudioStyle
    style_path: str | None = None
    when: str = "after"


def make_soundtrack(src: str, info: MediaInfo, sound: SoundPlan, opts: FilmOptions, work: WorkFolder,
                    progress=None) -> dict:
    """Dream and/or stylise (or copy) the soundtrack segment into the work folder; reused if a previous run
    finished it."""
    from mmdream.audio import dream_audio_file
    from mmdream.style import style_audio_file

    duration = (opts.end or info.duration) - opts.start
    if work.audio.exists():
        return {"soundtrack": "reused from the work folder"}
    if opts.audio == "keep" or (sound.audio is None and sound.styler is None):
        with atomic_output(work.audio) as tmp, sf.SoundFile(tmp, "w", info.audio_rate, info.audio_channels,
                                                            subtype="FLOAT", format="WAV") as out:
            for block in read_audio_blocks(src, info, 1 << 16, end=duration, start=opts.start):
                out.write(block)
        return {"soundtrack": "original"}
    figures: dict = {}
    stages = [("dream", sound.audio), ("style", sound.styler)]
    if sound.when == "before":
        stages.reverse()
    stages = [(name, worker) for name, worker in stages if worker is not None]
    current, seg = src, {"duration": duration, "start": opts.start}
    for k, (name, worker) in enumerate(stages):
        dst = str(work.audio) if k == len(stages) - 1 else str(work.root / f"soundtrack-{name}.wav")
        if name == "dream":
            figures[name] = dream_audio_file(current, dst, worker.dreamer, worker.plan, griffin_lim=opts.griffin_lim,
                                             progress=progress, **seg)
        else:
            figures[name] = style_audio_file(current, sound.style_path, dst, worker, progress=progress, **seg)
        current, seg = dst, {"duration": None, "start": 0.0}
    return figures


def reactive_strength(src: str, info: MediaInfo, opts: FilmOptions, frames: int) -> np.ndarray:
    """Per-frame strength factor from the soundtrack's onset envelope: 1 + react * (envelope / mean - 1),
    with a fast attack and a 0.25 s release so the picture breathes with the sound."""
    if opts.react <= 0 or not info.has_audio or frames <= 0:
        return np.ones(max(frames, 1))
    import librosa

    fps = film_fps(info, opts)
    sr = info.audio_rate
    hop = 512
    env = []
    duration = (opts.end or info.duration) - opts.start
    for block in read_audio_blocks(src, info, 30 * sr, end=duration, start=opts.start):
        env.append(librosa.onset.onset_strength(y=block.mean(axis=1), sr=sr, hop_length=hop))
    env = np.concatenate(env) if env else np.zeros(1)
    t = np.arange(len(env)) * hop / sr
    per_frame = np.interp(np.arange(frames) / fps, t, env)
    release = np.exp(-1.0 / (0.25 * fps))
    for i in range(1, frames):
        per_frame[i] = max(per_frame[i], per_frame[i - 1] * release)
    norm = per_frame / max(per_frame.mean(), 1e-9)
    return np.clip(1.0 + opts.react * (norm - 1.0), 0.1, 3.0)


# ---- mux ----------------------------------------------------------------------------------------------------
def mux(work: WorkFolder, duration: float, audio_path: Path | None, dst: Path) -> None:
    """The encoded picture (copied, not encoded again) with the soundtrack as AAC, cut to the picture's length;
    both start at zero, so they stay in sync."""
    sound = ["-t", f"{duration:.6f}", "-i", str(audio_path)] if audio_path is not None else []
    with atomic_output(dst) as tmp:
        cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(work.video), *sound, "-map", "0:v:0",
               *(["-map", "1:a:0", "-c:a", "aac", "-b:a", "192k"] if sound else []), "-c:v", "copy", str(tmp)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"ffmpeg could not mux {dst}: {done.stderr.strip()[-500:]}")


def write_contact_sheet(thumbs: dict, path: str, width: int = 240) -> None:
    """Input frames on the top row, dreamed frames below."""
    pairs = [thumbs[i] for i in sorted(thumbs) if thumbs[i] is not None]
    if not pairs:
        return
    h, w = pairs[0][0].shape[:2]
    size = (width, max(2, round(h * width / w)))
    rows = [np.hstack([cv2.resize(p[k], size, interpolation=cv2.INTER_AREA) for p in pairs]) for k in (0, 1)]
    with atomic_output(Path(path)) as tmp:
        cv2.imwrite(str(tmp) if tmp.suffix else str(tmp) + ".png", cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


# ---- the command ----------------------------------------------------------------------------------------------
def check_film_input(src: str, dst: str, opts: FilmOptions) -> MediaInfo:
    if Path(dst).suffix.lower() not in VIDEO_SUFFIXES:
        raise UserError(f"cannot write {Path(dst).suffix or 'an extensionless file'}; use .mp4, .mov or .mkv")
    info = probe(src)
    if not info.has_video:
        raise UserError(f"{src} has no video stream (for sound alone use `mmdream audio`)")
    if opts.start < 0 or (opts.end is not None and opts.end <= opts.start):
        raise UserError("--start must be >= 0 and --end after --start")
    if info.duration and opts.start >= info.duration:
        raise UserError(f"--start {opts.start:g} s is past the end of {src} ({info.duration:.2f} s)")
    return info


def dream_film(src: str, dst: str, frame_fn: FrameFn, sound: SoundPlan, opts: FilmOptions,
               fingerprint: dict, progress_bar: Callable | None = None) -> dict:
    """`mmdream video` and `mmdream style video`: every frame through `frame_fn`, the soundtrack made beside
    them, remuxed; returns the report's figures. One render at a time per output: the work folder is locked."""
    out = Path(dst)
    lock, busy = film_lock(out)
    with exclusive(lock, busy):
        try:
            return _dream_film(src, dst, frame_fn, sound, opts, fingerprint, progress_bar)
        except (OSError, RuntimeError) as e:
            work = out.with_name(f".{out.stem}.mmdream-work")
            if disk_full(work) and work.exists():  # it holds the disk: free it, and say so
                shutil.rmtree(work, ignore_errors=True)
                reason = describe_os_error(e, work) or f"no space left on the disk of {work}"
                raise UserError(f"{reason}; removed the work folder to free the disk") from None
            raise
        finally:
            lock.unlink(missing_ok=True)


def _dream_film(src: str, dst: str, frame_fn: FrameFn, sound: SoundPlan, opts: FilmOptions,
                fingerprint: dict, progress_bar: Callable | None = None) -> dict:
    info = check_film_input(src, dst, opts)
    if info.duration and (opts.end is None or opts.end > info.duration):
        opts = replace(opts, end=info.duration)
    fps = film_fps(info, opts)
    expected = max(1, int(round(((opts.end or 0) - opts.start) * fps)))
    work = WorkFolder(Path(dst), fingerprint)
    t0 = time.perf_counter()
    with_sound = info.has_audio and opts.audio != "none"
    sound_figures: dict = {}
    errors: list[BaseException] = []

    stop = StopSignal()

    def soundtrack() -> None:
        try:
            sound_figures.update(make_soundtrack(src, info, sound, opts, work, progress=stop))
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            errors.append(e)

    worker = threading.Thread(target=soundtrack, name="mmdream-soundtrack") if with_sound else None
    if worker:
        worker.start()  # the soundtrack dreams beside the frames
    try:
        factor = reactive_strength(src, info, opts, expected) if with_sound else np.ones(expected)
        thumbs = ({int(i): None for i in np.linspace(0, expected - 1, min(6, expected)).round()}
                  if opts.preview else None)
        resumed = len(work.finished())
        bar = progress_bar(expected, "frames") if progress_bar else contextlib.nullcontext()
        with bar as b:
            if b is not None:
                b.update(resumed)
            rows = dream_frames(src, info, frame_fn, opts, work, factor,
                                (lambda _row: b.update(1)) if b else None, thumbs)
    except BaseException:
        stop.set()  # a thread killed inside TensorFlow at exit aborts the process: stop it at its next step
        raise
    finally:
        if worker:
            worker.join()
    if errors:
        raise errors[0]
    if not rows:
        raise UserError(f"{src} decodes to no video frames between {opts.start:g} s and {opts.end:g} s")
    frames_s = time.perf_counter() - t0
    mux(work, len(rows) / fps, work.audio if with_sound else None, Path(dst))
    if thumbs is not None:
        write_contact_sheet({i: v for i, v in thumbs.items() if v is not None}, opts.preview)
    figures = film_figures(rows, fps, info, opts, frames_s, time.perf_counter() - t0)
    figures["soundtrack"] = sound_figures
    figures["resumed_frames"] = resumed  # finished by an earlier, interrupted run of the same job
    if not opts.keep_work:
        shutil.rmtree(work.root, ignore_errors=True)
    return figures


def film_figures(rows: list[dict], fps: float, info: MediaInfo, opts: FilmOptions, frames_s: float,
                 total_s: float) -> dict:
    flick = [r["flicker"] for r in rows if r["flicker"] is not None]
    measured = {k: [r[k] for r in rows if k in r] for k in ("objective_gain", "style_loss", "content_loss")}
    means = {f"{k}_mean": float(np.mean(v)) for k, v in measured.items() if v}
    if measured["objective_gain"]:
        means["objective_gain_min"] = float(np.min(measured["objective_gain"]))
        means["objective_measured_frames"] = len(measured["objective_gain"])
    return {"frames": len(rows), "fps": fps, "duration_s": len(rows) / fps, "input_duration_s": info.duration,
            "options": asdict(opts), "cold_frames": sum(r["cold"] for r in rows), **means,
            "flicker_mean": float(np.mean(flick)) if flick else None,
            "frames_seconds": frames_s, "seconds": total_s, "frames_per_second": len(rows) / max(frames_s, 1e-9),
            "per_frame": rows}
