"""mmdream as a library: dream a picture or a sound from a path or a numpy array, get a typed result.

    import mmdream
    result = mmdream.dream_image("photo.jpg", "dream.jpg", layers="mixed3:1,mixed5:1.5", net="inception_v3")
    print(result.objective_gain, result.image.shape)

Options are named as the CLI's flags (`--step-size` is `step_size=`): each function takes its command's options as
the schema declares them (mmdream.options; `help(mmdream.dream_video)` lists them with their defaults). Each is
a check and one call: the options become the command's spec (mmdream.specs), where every value is checked once
(a bad one raises `mmdream.UserError`, a ValueError, naming the option), and the spec goes to the command's
pipeline. Progress comes through one convention: a callable `progress(done, total, desc)` called after each unit
of work (tqdm in the CLI, anything in a notebook). The CLI maps its flags onto these functions, so the same
settings and seed give the same file either way.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmdream.errors import UserError
from mmdream.progress import ProgressFn
from mmdream.results import (
    AudioResult,
    ExplainResult,
    FilmResult,
    ImageResult,
    LiveResult,
    StyleResult,
    TrainResult,
    ZoomResult,
)
from mmdream.specs import Spec, api_options, defaults_of, make_spec, type_of

PathLike = str | Path
FrameFn = Callable[[int, np.ndarray], None]


def _spec(command: str, spec: Spec | None, options: dict) -> Spec:
    """The command's spec: one a front end made already (checked there, not again), else made from `options`."""
    if spec is None:
        return make_spec(command, options)
    if options or spec.command != command:
        raise UserError(f"give {command}'s options or a spec made for it, not both")
    return spec


def takes_options(command: str):
    """The function's signature shows `command`'s options (keyword-only, with their defaults) in place of its
    `**options`, as `help()` and a notebook's completion read it."""
    def decorate(fn):
        own = [p for p in inspect.signature(fn).parameters.values() if p.kind != p.VAR_KEYWORD]
        taken = {p.name for p in own}
        options = [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=defaults_of(command)[o.name],
                                     annotation=type_of(o, command)) for o in api_options(command)
                   if o.name not in taken]
        fn.__signature__ = inspect.signature(fn).replace(parameters=own + options)
        fn.command = command
        return fn
    return decorate


@takes_options("image")
def dream_image(image: PathLike | np.ndarray, output: PathLike | None = None, *, progress: ProgressFn | None = None,
                spec: Spec | None = None, **options) -> ImageResult:
    """Dream a picture: a path or an RGB array. `output` writes it (atomically); the result holds the dream as
    written, the objective before and after (`measure=False`: not measured) and the report. `net` may be a net
    already loaded (`load_net`). `sound`: dream toward the image classes linked to what the ear hears in it
    (`ear`: mmdream.senses.ear; auto: YAMNet where installed, else `audio_net` where one is named, else
    MTT_musicnn), `follow_weight` times as hard as the layers, each heard class counted from `follow_threshold`."""
    from mmdream.pipelines.image import dream

    saved, figures = dream(image, output and str(output), _spec("image", spec, options), progress)
    return ImageResult(output and str(output), figures, saved)


@takes_options("audio")
def dream_audio(audio: PathLike | np.ndarray, output: PathLike | None = None, *, sr: int | None = None,
                progress: ProgressFn | None = None, spec: Spec | None = None, **options) -> AudioResult:
    """Dream a sound: a path ffmpeg decodes, `"noise"` / `"sine"`, or samples (n,) / (n, channels) with `sr=`.
    `output` writes it (atomically; .wav, .flac, .mp3, .ogg, .opus, .m4a); with `ouroboros=N` each pass is fed
    back and written beside it; `plot` draws the first 30 s of the input's and the first pass's spectrograms into
    a PNG. The result holds the samples as written, the objective and the report. `picture` (a path or RGB
    array): dream toward the sound classes linked to what `image_net` sees in it, `follow_weight` times as hard."""
    from mmdream.pipelines.audio.dream import dream

    figures, rate, samples = dream(audio, output and str(output), _spec("audio", spec, options), sr, progress)
    return AudioResult(output and str(output), figures, rate, samples)


@takes_options("video")
def dream_video(video: PathLike, output: PathLike, *, progress: ProgressFn | None = None,
                on_frame: FrameFn | None = None, spec: Spec | None = None, **options) -> FilmResult:
    """Dream a film: every frame through the image net, the soundtrack through the audio net, one schedule for
    both; resumable (run it again after an interrupt). `soundtrack`: "dream", "keep" or "none"; `flow=False`
    dreams every frame from scratch; `measure_every=8`: the objective gain is measured on every n-th frame and on
    cold frames (0: on cold frames alone). `on_frame(index, rgb)` is called with each finished frame (uint8, from
    a writer thread); an exception it raises stops the render cleanly, and the same call later resumes it.
    `threads`: TensorFlow's intra-op threads (a net's numbers depend on them: the same count gives the same film).

    On a Ray cluster: `ray` ("auto" or an address) joins one, `workers=N` starts one of N workers here; the film
    is split at its scene cuts (and every `max_segment` frames where it has none) into tasks that each ask for
    `threads` CPUs, `gpus_per_task` GPUs and `task_resources` ("NAME=AMOUNT,..."); every file they need travels
    through Ray's object store; `on_frame` hears of a frame of each running segment about every half second.
    See mmdream.pipelines.film.cluster.

    Cross-modal (see mmdream.senses): `follow="sound"` dreams each frame toward the image classes linked to what
    the soundtrack holds at its time (heard by `ear`: mmdream.senses.ear), `"picture"` the soundtrack toward the
    sound classes linked to what each shot shows, `"both"` both; `follow_weight` (also a schedule key) sets how
    hard, `follow_threshold` (also a schedule key) the confidence a heard or seen class needs, `links` adds a
    user's TOML table."""
    from mmdream.pipelines.film.dream import dream_video as render

    return FilmResult(str(output), render(video, output, _spec("video", spec, options), progress, on_frame))


@takes_options("zoom")
def zoom(image: PathLike | np.ndarray, output: PathLike, *, progress: ProgressFn | None = None,
         on_frame: FrameFn | None = None, spec: Spec | None = None, **options) -> ZoomResult:
    """The endless zoom: a film of `seconds` grown from one picture, each frame the last one moved (`zoom` per
    frame about the centre, `rotate` degrees, `pan` "DX,DY" pixels) and dreamed `warm_steps` steps; a schedule's
    `zoom` and `rotate` keys steer the camera over time. `audio`: a sound file dreamed under the same schedule, or
    "noise" / "sine" grown block by block like the picture (`audio_ouroboros=True` grows a file's opening too).
    `loop` cross-fades the last second into the first. Resumable like dream_video."""
    from mmdream.pipelines.zoom.dream import zoom as render

    return ZoomResult(str(output), render(image, output, _spec("zoom", spec, options), progress, on_frame))


@takes_options("live")
def live(source: str, output: str, *, controls=None, spec: Spec | None = None, **options) -> LiveResult:
    """Dream a live source into `output` in real time: a camera (/dev/videoN), a stream ffmpeg opens (udp://,
    rtsp://, http://), or a file (`realtime=True` plays it at its own pace). `output`: a file (.mp4, .mkv, .ts) or
    an MPEG-TS address (udp://127.0.0.1:1234) VLC or OBS can open. Every input frame is written, within
    `deadline` seconds of its arrival: its own dream, or the last one carried onto it along the optical flow.
    First frames and cuts get a short pyramid (`octaves` x `steps`), the rest the film's warm steps (adapted to
    the frame rate unless `warm_steps` is given). `controls` (a `LiveControls`) changes depth, strength and steps
    while it runs, from another thread; `keys`: from the terminal's keys. `audio=True`: the source's sound is
    dreamed too (`audio_net`, `audio_layers`; a depth-only `layers` applies to both), in 1 s chunks, into the
    output beside the pictures. The report has each frame's latency and each dream's settings."""
    from mmdream.pipelines.live.setup import live as run

    return LiveResult(str(output), run(str(source), str(output), _spec("live", spec, options), controls))


@takes_options("style image")
def style_image(image: PathLike, style: PathLike, output: PathLike, *, progress: ProgressFn | None = None,
                spec: Spec | None = None, **options) -> StyleResult:
    """Gatys style transfer of a picture file onto `output`, in the style of the picture `style`."""
    from mmdream.pipelines.style import style_picture

    spec = _spec("style image", spec, {**options, "style": style} if spec is None else options)
    return StyleResult(str(output), style_picture(image, str(output), spec, progress))


@takes_options("style audio")
def style_audio(audio: PathLike, style: PathLike, output: PathLike, *, progress: ProgressFn | None = None,
                spec: Spec | None = None, **options) -> StyleResult:
    """Ulyanov & Lebedev style transfer of a sound file onto `output`, in the style of the sound `style`."""
    from mmdream.pipelines.style import style_sound

    spec = _spec("style audio", spec, {**options, "style": style} if spec is None else options)
    return StyleResult(str(output), style_sound(audio, str(output), spec, progress))


@takes_options("style video")
def style_video(video: PathLike, style: PathLike, output: PathLike, *, progress: ProgressFn | None = None,
                on_frame: FrameFn | None = None, spec: Spec | None = None, **options) -> StyleResult:
    """Video style transfer (Ruder et al.): each frame from the flow-warped previous one, in the style of the
    picture `style`; with `audio_style` the soundtrack is styled too, else kept. `on_frame` as in dream_video."""
    from mmdream.pipelines.film.dream import style_video as render

    spec = _spec("style video", spec, {**options, "style": style} if spec is None else options)
    return StyleResult(str(output), render(video, output, spec, progress, on_frame))


@takes_options("train")
def train_image(data: PathLike, output: PathLike | None = None, *, progress: ProgressFn | None = None,
                spec: Spec | None = None, **options) -> TrainResult:
    """Retrain an image net on a folder of class sub-folders; saves NAME.keras (`name`, default the folder's) and
    its model card; the result holds the model's path and its card."""
    from mmdream.train.retrain import train_from

    return _trained(train_from("image", data, output, _spec("train", spec, options), _bars(progress)))


@takes_options("train")
def train_audio(data: PathLike, output: PathLike | None = None, *, progress: ProgressFn | None = None,
                spec: Spec | None = None, **options) -> TrainResult:
    """Retrain an audio net on a folder of class sub-folders of sounds (see train_image)."""
    from mmdream.train.retrain import train_from

    return _trained(train_from("audio", data, output, _spec("train", spec, options), _bars(progress)))


@takes_options("explain")
def explain(net: str, output: PathLike, *, progress: ProgressFn | None = None, spec: Spec | None = None,
            **options) -> ExplainResult:
    """What `net` has learned, as feature visualisation (Olah et al., Distill 2017): inputs optimised from noise
    (or `start_from`) until they drive each of `classes` ("tabby, goldfish"), each `channel` ("block4c:3,7"), or
    the first `count` channels of `layer`, under a Fourier parameterisation with decorrelated colour
    (`param="pixel"` to compare) and random transformations every step (`robust=False` to compare);
    `diversity=K` makes K different ones per objective. An image net writes a labelled PNG grid to `output`; a
    sound net a folder of WAVs at `loudness` and their spectrograms (`sheet.png`). `examples`: a folder whose
    pictures or sounds that drive each objective most are shown beside it."""
    from mmdream.pipelines.explain.run import explain as run

    spec = _spec("explain", spec, {**options, "net": net} if spec is None else options)
    return ExplainResult(str(output), run(spec, str(output), progress))


def _bars(progress: ProgressFn | None):
    from mmdream.progress import bars

    return bars(progress) if progress else None


def _trained(card: dict) -> TrainResult:
    return TrainResult(card["path"], card)


@dataclass
class NetInfo:
    """A dreamable net as a chooser shows it: `ready` means it runs without a download (offline weights, weights
    in Keras' cache, or trained here); `status` says where its weights stand, in words."""

    name: str
    kind: str
    ready: bool
    status: str
    description: str
    layers: list[str]
    classes: list[str]


def list_nets(kind: str | None = None) -> list[NetInfo]:
    """Every net `mmdream models` lists (registered, then trained here), of one kind ("image"/"audio") or all;
    ready ones first, each group in the registry's order."""
    from mmdream.nets import specs
    from mmdream.nets.cards import list_trained
    from mmdream.nets.classes import class_names
    from mmdream.nets.net import record_layers

    nets = [NetInfo(s.name, s.kind, s.offline(), s.status(), s.description, record_layers(s), class_names(s.classes))
            for s in specs()]
    nets += [NetInfo(Path(c["path"]).stem, c["kind"], True, "trained here", f"retrained from {c['base']}",
                     list(c.get("layers", [])), list(c.get("classes", []))) for c in list_trained()]
    nets = [n for n in nets if kind in (None, n.kind)]
    return sorted(nets, key=lambda n: not n.ready)


def load_net(name: str, precision: str = "auto", sr: int | None = None, weights: str = "imagenet"):
    """A registered net by name (see `mmdream models`) or a trained model, at the precision asked for."""
    from mmdream.nets import load_net as load
    from mmdream.pipelines.precision import resolve_precision

    return load(name, weights=weights, precision=resolve_precision(precision, name), sr=sr)
