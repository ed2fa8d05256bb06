"""mmdream as a library: dream a picture or a sound from a path or a numpy array, get a typed result.

    import mmdream
    result = mmdream.dream_image("photo.jpg", "dream.jpg", layers="mixed3:1,mixed5:1.5", net="inception_v3")
    print(result.objective_gain, result.image.shape)

Options are named as the CLI's flags (`--step-size` is `step_size=`) and checked the same way; a bad value raises
`mmdream.UserError` (a ValueError) naming the option. Progress comes through one convention: a callable
`progress(done, total, desc)` called after each unit of work (tqdm in the CLI, anything in a notebook). The CLI is
a mapping of flags onto these functions, so the same settings and seed give the same file either way.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mmdream.checks import (
    AUDIO_SUFFIXES,
    IMAGE_SUFFIXES,
    MAX_SIZE,
    VIDEO_SUFFIXES,
    check_number,
    check_options,
    check_output,
    parse_pan,
)
from mmdream.errors import UserError
from mmdream.io_utils import check_not_same
from mmdream.media.audio_source import GENERATED, load_whole, open_source
from mmdream.nets.registry import DEFAULT_NET, DEFAULT_STYLE_NET, DEFAULT_TRAIN_BASE
from mmdream.options import AUDIO_STYLE, BY_NAME, IMAGE_STYLE

ProgressFn = Callable[[int, "int | None", str], None]
PathLike = str | Path


class Progress:
    """The one progress convention seen from inside: pipelines call `update(n)` (tqdm's shape); the caller's
    `callback(done, total, desc)` hears about it."""

    def __init__(self, callback: ProgressFn | None, total: int | None, desc: str) -> None:
        self.callback, self.total, self.desc, self.done = callback, total, desc, 0

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.callback is not None:
            self.callback(self.done, self.total, self.desc)

    def write(self, line: str) -> None:
        """A line between updates (training prints each epoch's figures so)."""
        print(line)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> bool:
        return False


@dataclass
class Result:
    """What a dream gives back: where it was written (if anywhere) and the figures the CLI's --report holds."""

    output: str | None
    figures: dict = field(repr=False)

    @property
    def objective_before(self) -> float:
        return self.figures["objective_before"]

    @property
    def objective_after(self) -> float:
        return self.figures["objective_after"]

    @property
    def objective_gain(self) -> float:
        return self.figures["objective_gain"]

    @property
    def path(self) -> str | None:
        """The file written (None: nothing was)."""
        return self.output

    def report(self) -> dict:
        """The JSON the CLI's --report writes."""
        return dict(self.figures)


@dataclass
class ImageResult(Result):
    image: np.ndarray = field(default=None, repr=False)  # RGB uint8 (H, W, 3), as written


@dataclass
class AudioResult(Result):
    sr: int = 0
    _audio: np.ndarray | None = field(default=None, repr=False)

    @property
    def audio(self) -> np.ndarray:
        """Samples (n, channels) float32 as written (read from the output on first use: it may be long)."""
        if self._audio is None:
            self._audio = load_whole(self.output)[0]
        return self._audio


def _picture(image: PathLike | np.ndarray, max_pixels: int | None):
    """A path (read as the CLI reads it) or an RGB(A) array, uint8 or float in [0, 1]."""
    from mmdream.media.picture import Picture, read_image

    if not isinstance(image, np.ndarray):
        return read_image(image, max_pixels)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] not in (3, 4) or min(image.shape[:2]) < 1:
        raise UserError(f"an image array must be (height, width, 3 or 4), not {image.shape}")
    if image.dtype != np.uint8:
        if not np.isfinite(image).all():
            raise UserError("the image array holds NaN or Inf")
        image = np.clip(np.asarray(image, np.float64) * 255 + 0.5, 0, 255).astype(np.uint8)
    alpha = image[..., 3].copy() if image.shape[-1] == 4 else None
    return Picture(np.ascontiguousarray(image[..., :3]), alpha)


def dream_image(image: PathLike | np.ndarray, output: PathLike | None = None, *, net: str = DEFAULT_NET["image"],
                layers: str | None = None, target: str | None = None, guide: PathLike | np.ndarray | None = None,
                channels: str | dict | None = None, schedule: PathLike | None = None, strength: float = 1.0,
                octaves: int | None = None, octave_scale: float | None = None, steps: int | None = None,
                step_size: float | None = None, jitter: int | None = None, smooth: float | None = None,
                tile_size: int | None = None, seed: int = 0, precision: str = "auto", max_size: int = 1024,
                max_pixels: int | None = None, weights: str = "imagenet", sound: PathLike | None = None,
                audio_net: str = DEFAULT_NET["audio"], follow_weight: float = 4.0, links: PathLike | None = None,
                progress: ProgressFn | None = None, measure: bool = True) -> ImageResult:
    """Dream a picture: a path or an RGB array. `output` writes it (atomically); the result holds the dream as
    written, the objective before and after (`measure=False`: not measured) and the report. `sound`: dream toward
    the image classes linked to what `audio_net` hears in it, `follow_weight` times as hard as the layers."""
    from mmdream.core.engine import DreamSettings
    from mmdream.media.picture import resize, to_dream_space
    from mmdream.pipelines.image import dream_picture, working_size
    from mmdream.pipelines.precision import resolve_precision
    from mmdream.plan import build_plan

    check_options(strength=strength, max_pixels=max_pixels)
    _check_links(links, audio_net)
    check_number("max_size", max_size, *MAX_SIZE["image"])
    pic = _picture(image, max_pixels)
    if output is not None:
        check_output(str(output), IMAGE_SUFFIXES, "an image")
        if not isinstance(image, np.ndarray):
            check_not_same(image, output)
    dreamer, plan = build_plan("image", net, DreamSettings(), layers=layers, schedule=schedule and str(schedule),
                               strength=strength, target=target, channels=channels, seed=seed,
                               precision=resolve_precision(precision, net), weights=weights, octaves=octaves,
                               octave_scale=octave_scale, steps=steps, step_size=step_size, jitter=jitter,
                               smooth=smooth, tile_size=tile_size, follow_weight=follow_weight)
    if sound is not None:
        from mmdream.pipelines.audio.hearing import hear

        _follow(plan, dreamer.net, hear(str(sound), audio_net).overall(), links)
    moment = plan.at(0.0)
    dreamer.take(moment)
    if guide is not None:
        g = _picture(guide, max_pixels).rgb
        dreamer.set_guide(to_dream_space(resize(g, working_size(g.shape[:2], 384))))
    size = working_size(pic.rgb.shape[:2], max_size)
    with Progress(progress, dreamer.total_steps(size, moment.settings), "dreaming") as bar:
        saved, figures = dream_picture(pic, output and str(output), dreamer, moment.settings, max_size, bar.update,
                                       moment.strength, max_pixels, measure)
    figures = {"command": "image", "net": getattr(net, "name", net), "layers": moment.layers, "target": target,
               "guide": None if guide is None or isinstance(guide, np.ndarray) else str(guide), "max_size": max_size,
               "schedule": schedule and str(schedule), "strength": moment.strength,
               "settings": moment.settings.as_dict(),
               "input": "array" if isinstance(image, np.ndarray) else str(image), **figures}
    if plan.steer is not None:
        figures["follow"] = {"sound": str(sound), "audio_net": audio_net, **plan.steer.describe(0.0),
                             "weight": moment.follow}
    return ImageResult(output and str(output), figures, saved)


def _check_links(links: PathLike | None, sound_net: str) -> None:
    """A user's table of links, read before any net loads (its sections may name the sound net)."""
    if links is not None:
        from mmdream.senses.links import read_links

        read_links(str(links), {sound_net: None})


def _follow(plan, net, track, links: PathLike | None) -> None:
    """`plan` steered toward `net`'s classes linked to what the other net perceived (`track`)."""
    from mmdream.senses.steer import steer

    plan.follow(steer(track, net.name, net.classes, net.kind, links and str(links)))


def dream_audio(audio: PathLike | np.ndarray, output: PathLike | None = None, *, sr: int | None = None,
                net: str = DEFAULT_NET["audio"], layers: str | None = None, target: str | None = None,
                channels: str | dict | None = None, schedule: PathLike | None = None, strength: float = 1.0,
                octaves: int | None = None, octave_scale: float | None = None, steps: int | None = None,
                step_size: float | None = None, jitter: int | None = None, smooth: float | None = None,
                tile_size: int | None = None, seed: int = 0, precision: str = "auto", duration: float | None = None,
                loudness: float | None = None, griffin_lim: int = 0, ouroboros: int = 1, weights: str = "imagenet",
                plot: PathLike | None = None, picture: PathLike | np.ndarray | None = None,
                image_net: str = DEFAULT_NET["image"], follow_weight: float = 4.0, links: PathLike | None = None,
                progress: ProgressFn | None = None) -> AudioResult:
    """Dream a sound: a path ffmpeg decodes, `"noise"` / `"sine"`, or samples (n,) / (n, channels) with `sr=`.
    `output` writes it (atomically; .wav, .flac, .mp3, .ogg, .opus, .m4a); with `ouroboros=N` each pass is fed
    back and written beside it; `plot` draws the first 30 s of the input's and the first pass's spectrograms into
    a PNG. The result holds the samples as written, the objective and the report. `picture` (a path or RGB
    array): dream toward the sound classes linked to what `image_net` sees in it, `follow_weight` times as hard."""
    import soundfile as sf

    check_options(strength=strength, loudness=loudness, griffin_lim=griffin_lim, ouroboros=ouroboros,
                  duration=duration)
    _check_links(links, net)
    if plot is not None:
        check_output(str(plot), {".png"}, "the plot")
    with tempfile.TemporaryDirectory(prefix="mmdream-api-") as scratch:
        src = str(audio) if not isinstance(audio, np.ndarray) else str(Path(scratch) / "input.wav")
        if isinstance(audio, np.ndarray):
            if sr is None or sr < 1:
                raise UserError("samples need their rate: dream_audio(samples, sr=44100)")
            samples = audio[:, None] if audio.ndim == 1 else audio
            if samples.ndim != 2 or not np.isfinite(samples).all():
                raise UserError(f"samples must be finite, (n,) or (n, channels), not {audio.shape}")
            sf.write(src, np.asarray(samples, np.float32), sr, subtype="FLOAT")
        dst = Path(scratch) / "dream.wav" if output is None else Path(output)
        if output is not None:
            check_output(str(output), AUDIO_SUFFIXES, "a sound")
            if src not in GENERATED:
                check_not_same(src, output)
        figures, passes = _dream_passes(src, dst, net=net, layers=layers, target=target, channels=channels,
                                        schedule=schedule and str(schedule), strength=strength, seed=seed,
                                        precision=precision, duration=duration, loudness=loudness,
                                        griffin_lim=griffin_lim, ouroboros=ouroboros, weights=weights,
                                        progress=progress, octaves=octaves, octave_scale=octave_scale, steps=steps,
                                        step_size=step_size, jitter=jitter, smooth=smooth, tile_size=tile_size,
                                        plot=plot and str(plot), follow_weight=follow_weight,
                                        seen=None if picture is None else (picture, image_net, links))
        result = AudioResult(str(dst), figures, passes[-1]["sample_rate"])
        if isinstance(audio, np.ndarray):
            figures["input"] = "array"
        if output is None:  # the scratch folder goes: keep the samples, forget its paths
            result._audio, result.output, figures["output"] = result.audio, None, None
    return result


def _dream_passes(src: str, dst: Path, *, net: str, duration: float | None, loudness: float | None,
                  griffin_lim: int, ouroboros: int, progress: ProgressFn | None, plot: str | None,
                  seen: tuple | None = None, **plan_options) -> tuple[dict, list]:
    """`ouroboros` passes of the audio dream from `src`, the last one to `dst`, and the `plot` of the first; the
    report and each pass's figures (objective measured with the first keyframe's layers, on input and output)."""
    from mmdream.core.engine import compare
    from mmdream.pipelines.audio.block import AUDIO_DEFAULTS
    from mmdream.pipelines.audio.plot import plot_spectrograms
    from mmdream.pipelines.audio.stream import dream_audio_file, score_file, total_audio_steps
    from mmdream.pipelines.precision import resolve_precision
    from mmdream.plan import build_plan

    info, _ = open_source(src, duration)
    precision = resolve_precision(plan_options.pop("precision", BY_NAME["precision"].default), net)
    dreamer, plan = build_plan("audio", net, AUDIO_DEFAULTS, sr=info.audio_rate, precision=precision, **plan_options)
    if seen is not None:  # (picture, image net, links): dreamed toward what the picture shows
        from mmdream.senses.perceive import see_picture

        picture, image_net, links = seen
        _follow(plan, dreamer.net, see_picture(_picture(picture, None).rgb, image_net), links)
    seconds = duration or info.duration or 1.0
    passes, current = [], src
    for i in range(ouroboros):
        out = str(dst) if i == ouroboros - 1 else str(dst.with_name(f"{dst.stem}.pass{i + 1}{dst.suffix}"))
        with Progress(progress, total_audio_steps(plan, dreamer, seconds, info.audio_rate),
                      f"dreaming pass {i + 1}/{ouroboros}") as bar:
            figures = dream_audio_file(current, out, dreamer, plan, loudness=loudness, griffin_lim=griffin_lim,
                                       duration=duration, progress=bar)
        dreamer.set_layer_weights(plan.at(0.0).layers)  # the objective is measured with the first keyframe's
        figures.update(compare(score_file(dreamer, current, duration), score_file(dreamer, out)))
        passes.append(figures)
        if plot and i == 0:  # the first 30 s of the input and of the first pass
            plot_spectrograms(load_whole(src, end=min(30.0, duration or 30.0))[0], load_whole(out, end=30.0)[0],
                              info.audio_rate, plot)
        current = out
    moment = plan.at(0.0)
    report = {"command": "audio", "net": net, "layers": moment.layers, "target": plan_options.get("target"),
              "schedule": plan_options.get("schedule"), "strength": moment.strength,
              "settings": moment.settings.as_dict(), **passes[-1], "passes": passes}
    if plan.steer is not None:
        report["follow"] = {"picture": "array" if isinstance(seen[0], np.ndarray) else str(seen[0]),
                            "image_net": seen[1], **plan.steer.describe(0.0), "weight": moment.follow}
    return report, passes


@dataclass
class FilmResult(Result):
    """A film's figures: frames, rate, mean objective gain (`objective_gain`), flicker, per-frame rows."""

    @property
    def objective_gain(self) -> float:
        return self.figures.get("objective_gain_mean", float("nan"))

    @property
    def objective_before(self) -> float | None:
        return None  # per frame, in figures["per_frame"]

    @property
    def objective_after(self) -> float | None:
        return None


@dataclass
class StyleResult(Result):
    """A style transfer's figures: style and content loss at the start and the end."""

    @property
    def objective_before(self) -> float:  # the style loss is what style transfer lowers
        return self.figures.get("style_loss_start", self.figures.get("style_loss_mean"))

    @property
    def objective_after(self) -> float:
        return self.figures.get("style_loss_end", self.figures.get("style_loss_mean"))

    @property
    def objective_gain(self) -> float:
        return self.figures.get("style_loss_drop", float("nan"))


FILM_KEYS = ("max_size", "start", "end", "fps", "blend", "warm_steps", "warm_strength", "warm_octaves", "cut", "flow",
             "react", "audio", "griffin_lim", "preview", "keep_work", "measure_every")


def _split_options(options: dict) -> tuple[dict, dict, dict]:
    """The film's, the image style's and the audio style's options, taken out of `options` (the rest stays)."""
    return tuple({k: options.pop(k) for k in keys if k in options} for keys in (FILM_KEYS, IMAGE_STYLE, AUDIO_STYLE))


def _open_film(video: PathLike, output: PathLike, film: dict):
    """(input, output, FilmOptions, MediaInfo), checked before any net loads."""
    from mmdream.pipelines.film import check_film_input, film_options

    src, dst = str(video), str(output)
    check_output(dst, VIDEO_SUFFIXES, "a film")
    check_not_same(src, dst)
    opts = film_options(**film)
    return src, dst, opts, check_film_input(src, dst, opts)


def _film_progress(progress: ProgressFn | None):
    return lambda total, desc: Progress(progress, total, desc)


def dream_video(video: PathLike, output: PathLike, *, net: str = DEFAULT_NET["image"], audio_net: str = DEFAULT_NET["audio"],
                audio_layers: str | None = None, style: PathLike | None = None, audio_style: PathLike | None = None,
                style_when: str = "after", progress: ProgressFn | None = None,
                on_frame: Callable[[int, np.ndarray], None] | None = None, threads: int | None = None,
                ray: str | None = None, workers: int | None = None, max_segment: int = 300,
                gpus_per_task: float = 0.0, task_resources: str | None = None, follow: str | None = None,
                links: PathLike | None = None, **options) -> FilmResult:
    """Dream a film: every frame through the image net, the soundtrack through the audio net, one schedule for
    both; resumable (run it again after an interrupt). `options`: the film's (max_size=640, start, end, fps,
    blend, warm_steps, warm_strength, warm_octaves, cut, flow=True, react, audio="dream"|"keep"|"none",
    griffin_lim, preview, keep_work, measure_every=8: the objective gain is measured on every n-th frame and on
    cold frames, 0: on cold frames alone), the dream options of `dream_image`, and style options (see
    mmdream.pipelines.style.IMAGE_STYLE_OPTIONS / AUDIO_STYLE_OPTIONS) for a style pass. `on_frame(index, rgb)`
    is called with each finished frame (uint8, from a writer thread); an exception it raises stops the render
    cleanly, and the same call later resumes it. `threads`: TensorFlow's intra-op threads (a net's numbers
    depend on them: the same count gives the same film).

    On a Ray cluster: `ray` ("auto" or an address) joins one, `workers=N` starts one of N workers here; the film
    is split at its scene cuts (and every `max_segment` frames where it has none) into tasks that each ask for
    `threads` CPUs, `gpus_per_task` GPUs and `task_resources` ("NAME=AMOUNT,..."); every file they need travels
    through Ray's object store; `on_frame` hears of a frame of each running segment about every half second.
    See mmdream.pipelines.film.cluster.

    Cross-modal (see mmdream.senses): `follow="sound"` dreams each frame toward the image classes linked to what
    the soundtrack holds at its time, `"picture"` the soundtrack toward the sound classes linked to what each shot
    shows, `"both"` both; `follow_weight` (also a schedule key) sets how hard, `links` adds a user's TOML table."""
    from mmdream.pipelines.film import dream_film, film_fingerprint
    from mmdream.pipelines.film.recipe import FilmRecipe, film_senses
    from mmdream.senses.steer import check_follow

    film, image_style, sound_style = _split_options(options)
    dream = options  # what is left: the dream options (build_plan refuses unknown ones)
    src, dst, opts, info = _open_film(video, output, film)
    check_follow(follow, src, info.has_audio, opts.audio)
    _check_links(links, audio_net)
    cluster = None
    if ray is not None or workers is not None:
        from mmdream.checks import cluster_options

        cluster = cluster_options(ray, workers, threads, max_segment, gpus_per_task, task_resources)
        threads = cluster.threads
    else:
        check_options(threads=threads)
    recipe = FilmRecipe(net, audio_net, audio_layers, style and str(style), audio_style and str(audio_style),
                        style_when, image_style, sound_style, dream, threads, links=links and str(links),
                        ).measured(with_sound=info.has_audio and opts.audio == "dream", here=cluster is None)
    # after `measured`, which sets TensorFlow's threads before its first op: hearing and seeing are ops too
    heard, seen = film_senses(src, follow, net, audio_net, opts.start, opts.end, opts.cut)
    recipe = replace(recipe, heard=heard, seen=seen)
    image = recipe.image()
    sound = recipe.sound(info, opts)
    given = {"net": net, "audio_net": audio_net, "audio_layers": audio_layers, "style": style and str(style),
             "audio_style": audio_style and str(audio_style), "style_when": style_when, "threads": threads,
             "follow": follow, "links": links and str(links), **film, **image_style, **sound_style, **dream}
    fingerprint = film_fingerprint(src, given, opts)
    if cluster is not None:
        from mmdream.pipelines.film.cluster import dream_film_on_cluster

        figures = dream_film_on_cluster(src, dst, recipe, sound, opts, {**fingerprint, "cluster": cluster.key()},
                                        cluster, progress_bar=_film_progress(progress), on_frame=on_frame)
    else:
        figures = dream_film(src, dst, recipe.frame_function(image, info, opts), sound, opts, fingerprint,
                             progress_bar=_film_progress(progress), on_frame=on_frame)
    report = {"command": "video", "net": net, "audio_net": audio_net if sound.audio else None,
              "schedule": dream.get("schedule"), **figures}
    if follow:
        report["follow"] = _followed(follow, image.plan, sound.audio and sound.audio.plan, opts.start,
                                     figures["duration_s"])
    return FilmResult(dst, report)


def _followed(follow: str, picture_plan, sound_plan, start: float, seconds: float) -> dict:
    """A report's cross-modal rows, per second: what was heard and seen, the targets and their weights."""
    from mmdream.senses.steer import per_second

    out: dict = {"follow": follow}
    if picture_plan.steer is not None:
        out["picture_follows_sound"] = per_second(picture_plan, seconds, start)
    if sound_plan is not None and sound_plan.steer is not None:
        out["sound_follows_picture"] = per_second(sound_plan, seconds, start)
    return out


def zoom(image: PathLike | np.ndarray, output: PathLike, *, seconds: float = 20.0, fps: float = 24.0,
         zoom: float = 1.02, rotate: float = 0.0, pan: tuple[float, float] = (0.0, 0.0), max_size: int = 540,
         audio: PathLike | None = None, audio_ouroboros: bool = False, net: str = DEFAULT_NET["image"],
         audio_net: str = DEFAULT_NET["audio"], audio_layers: str | None = None, loop: bool = False, warm_steps: int = 2,
         warm_strength: float = 1.0, colour_pull: float = 0.05, detail_decay: float = 0.3,
         preview: PathLike | None = None, keep_work: bool = False, threads: int | None = None,
         progress: ProgressFn | None = None, on_frame: Callable[[int, np.ndarray], None] | None = None,
         **dream) -> FilmResult:
    """The endless zoom: a film of `seconds` grown from one picture, each frame the last one moved (`zoom` per
    frame about the centre, `rotate` degrees, `pan` pixels) and dreamed `warm_steps` steps; a schedule's `zoom`
    and `rotate` keys steer the camera over time. `audio`: a sound file dreamed under the same schedule, or
    "noise" / "sine" grown block by block like the picture (`audio_ouroboros=True` grows a file's opening too).
    `loop` cross-fades the last second into the first. Resumable like dream_video; `dream`: the dream options of
    dream_image (layers, schedule, strength, steps of the first frame, ...)."""
    from mmdream.pipelines.film.recipe import FilmRecipe
    from mmdream.pipelines.zoom import ZoomOptions, zoom_film
    from mmdream.pipelines.zoom.sound import sound_source_info

    check_options(seconds=seconds, fps=fps, zoom=zoom, rotate=rotate, warm_steps=warm_steps,
                  warm_strength=warm_strength, colour_pull=colour_pull, detail_decay=detail_decay, threads=threads)
    check_number("max_size", max_size, *MAX_SIZE["zoom"])
    pan = parse_pan(pan)
    check_output(str(output), VIDEO_SUFFIXES, "a film")
    if not isinstance(image, np.ndarray):
        check_not_same(image, output)
    source = None if audio is None else str(audio)
    if audio_ouroboros and source is None:
        raise UserError("audio_ouroboros grows a sound: give audio= a file, noise or sine")
    info = None if source is None else sound_source_info(source)
    if source not in (None, *GENERATED):
        check_not_same(source, output)
    pic = _picture(image, dream.pop("max_pixels", None)).rgb
    opts = ZoomOptions(seconds=seconds, fps=round(fps, 2), zoom=zoom, rotate=rotate, pan=pan, max_size=max_size,
                       warm_steps=warm_steps, warm_strength=warm_strength, colour_pull=colour_pull,
                       detail_decay=detail_decay, loop=loop, preview=preview and str(preview), keep_work=keep_work)
    recipe = FilmRecipe(net, audio_net, audio_layers, dream=dream, threads=threads)
    figures = zoom_film(pic, str(output), opts, recipe, source, info, audio_ouroboros,
                        {"photo": _identity(image), "audio_file": _identity(source)},
                        progress_bar=_film_progress(progress), on_frame=on_frame)
    report = {"command": "zoom", "net": net, "audio_net": audio_net if info else None, "audio": source,
              "schedule": dream.get("schedule"), "input": "array" if isinstance(image, np.ndarray) else str(image),
              **figures}
    return FilmResult(str(output), report)


def live(source: str, output: str, *, realtime: bool = False, seconds: float | None = None, max_size: int = 320,
         deadline: float = 0.15, net: str = DEFAULT_NET["image"], octaves: int = 2, steps: int = 4,
         warm_steps: int | None = None, warm_strength: float | None = None, blend: float | None = None,
         threads: int | None = None, controls=None, keys: bool = False, audio: bool = False,
         audio_net: str = DEFAULT_NET["audio"], audio_layers: str | None = None, **dream) -> FilmResult:
    """Dream a live source into `output` in real time: a camera (/dev/videoN), a stream ffmpeg opens (udp://,
    rtsp://, http://), or a file (`realtime=True` plays it at its own pace). `output`: a file (.mp4, .mkv, .ts) or
    an MPEG-TS address (udp://127.0.0.1:1234) VLC or OBS can open. Every input frame is written, within
    `deadline` seconds of its arrival: its own dream, or the last one carried onto it along the optical flow.
    First frames and cuts get a short pyramid (`octaves` x `steps`), the rest the film's warm steps (adapted to
    the frame rate unless `warm_steps` is given). `controls` (a `LiveControls`) changes depth, strength and steps
    while it runs, from another thread; `keys`: from the terminal's keys. `audio`: the source's sound is dreamed
    too (`audio_net`, `audio_layers`; a depth-only `layers` applies to both), in 1 s chunks, into the output
    beside the pictures. The report has each frame's latency and each dream's settings."""
    from mmdream.media.ffmpeg import is_stream, probe
    from mmdream.pipelines.film.recipe import FilmRecipe
    from mmdream.pipelines.live.session import LiveOptions
    from mmdream.pipelines.live.setup import live_film

    check_options(seconds=seconds, threads=threads)
    check_number("max_size", max_size, *MAX_SIZE["video"])
    check_number("deadline", deadline, 0.0, 10.0, True)
    if not is_stream(output):
        check_output(str(output), VIDEO_SUFFIXES | {".ts"}, "a film")
        check_not_same(source, output)
    info = probe(source) if not str(source).startswith("/dev/video") else None
    if info is not None and not info.has_video:
        raise UserError(f"{source} has no video stream")
    if audio and (info is None or not info.has_audio):
        raise UserError(f"{source} has no audio stream to dream (leave out --audio)")
    figures = live_film(str(source), str(output), info, FilmRecipe(net, audio_net, audio_layers, dream=dream,
                                                                   threads=threads),
                        LiveOptions(max_size, deadline, seconds, realtime, keys=keys), octaves=octaves, steps=steps,
                        warm_steps=warm_steps, warm_strength=warm_strength, blend=blend, audio=audio,
                        controls=controls)
    return FilmResult(str(output), {"command": "live", "net": net, "source": str(source), **figures})


def _identity(source) -> object:
    """What names an input for a resume's key: a file's path, size and time, or an array's checksum."""
    import hashlib

    if isinstance(source, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(source).tobytes()).hexdigest()
    if source is None or str(source) in GENERATED:
        return source
    path = Path(source).resolve()
    return [str(path), path.stat().st_size, path.stat().st_mtime]


def style_image(image: PathLike, style: PathLike, output: PathLike, *, net: str = DEFAULT_STYLE_NET, max_size: int = 512,
                max_pixels: int | None = None, precision: str = "auto", weights: str = "imagenet",
                progress: ProgressFn | None = None, **style_options) -> StyleResult:
    """Gatys style transfer of a picture file onto `output` (style options: mmdream.pipelines.style.IMAGE_STYLE_OPTIONS)."""
    from mmdream.media.picture import read_image
    from mmdream.pipelines.image import working_size
    from mmdream.pipelines.style import image_styler, style_image_file

    check_number("max_size", max_size, *MAX_SIZE["style"])
    check_output(str(output), IMAGE_SUFFIXES, "an image")
    check_not_same(image, output)
    pic = read_image(image, max_pixels)
    read_image(style, max_pixels)
    styler = image_styler(load_net(net, precision=precision, weights=weights), **style_options)
    with Progress(progress, styler.total_steps(working_size(pic.rgb.shape[:2], max_size)), "styling") as bar:
        figures = style_image_file(str(image), str(style), str(output), styler, max_size, progress=bar,
                                   max_pixels=max_pixels)
    return StyleResult(str(output), {"command": "style image", "net": net, "settings": styler.settings.as_dict(),
                                     **figures})


def style_audio(audio: PathLike, style: PathLike, output: PathLike, *, duration: float | None = None,
                loudness: float | None = None, progress: ProgressFn | None = None, **style_options) -> StyleResult:
    """Ulyanov & Lebedev style transfer of a sound file onto `output` (options: mmdream.pipelines.style.AUDIO_STYLE_OPTIONS)."""
    from mmdream.media.ffmpeg import audio_input
    from mmdream.pipelines.style import audio_styler, style_audio_file

    check_options(duration=duration, loudness=loudness)
    check_output(str(output), AUDIO_SUFFIXES, "a sound")
    check_not_same(audio, output)
    audio_input(str(audio))
    audio_input(str(style))
    styler = audio_styler(**style_options)
    with Progress(progress, None, "styling") as bar:
        figures = style_audio_file(str(audio), str(style), str(output), styler, loudness=loudness, duration=duration,
                                   progress=bar)
    return StyleResult(str(output), {"command": "style audio", "settings": styler.settings.as_dict(), **figures})


def style_video(video: PathLike, style: PathLike, output: PathLike, *, net: str = DEFAULT_STYLE_NET,
                audio_style: PathLike | None = None, precision: str = "auto", weights: str = "imagenet",
                seed: int = 0, progress: ProgressFn | None = None,
                on_frame: Callable[[int, np.ndarray], None] | None = None, **options) -> StyleResult:
    """Video style transfer (Ruder et al.): each frame from the flow-warped previous one; with `audio_style`
    the soundtrack is styled too, else kept. `options`: the film's (see dream_video) and the style options;
    `on_frame` as in dream_video."""
    from mmdream.pipelines.film import FrameStyler, SoundPlan, dream_film, film_fingerprint, film_fps
    from mmdream.pipelines.style import audio_styler, image_styler, style_target

    film, image_style, sound_style = _split_options(options)
    if options:
        raise UserError(f"unknown option(s) {', '.join(sorted(options))} for style_video")
    src, dst, opts, info = _open_film(video, output, {name: BY_NAME[name].default_for("style") for name in ("blend", "max_size")} | film)
    styler = image_styler(load_net(net, precision=precision, weights=weights), **image_style)
    sound = SoundPlan()
    if audio_style and info.has_audio and opts.audio == "dream":
        sound.styler, sound.style_path = audio_styler(**sound_style), str(audio_style)
    elif opts.audio == "dream":
        opts.audio = "keep"
    frame_fn = FrameStyler(styler, style_target(str(style), opts.max_size), opts, film_fps(info, opts))
    given = {"command": "style video", "net": net, "style": str(style), "audio_style": audio_style and str(audio_style),
             "precision": precision, "weights": weights, "seed": seed, **film, **image_style, **sound_style}
    figures = dream_film(src, dst, frame_fn, sound, opts, film_fingerprint(src, given, opts),
                         progress_bar=_film_progress(progress), on_frame=on_frame)
    return StyleResult(dst, {"command": "style video", "net": net, "settings": styler.settings.as_dict(), **figures})


def train_image(data: PathLike, output: PathLike | None = None, *, base: str = DEFAULT_TRAIN_BASE["image"],
                name: str | None = None, progress: ProgressFn | None = None, **settings) -> dict:
    """Retrain an image net on a folder of class sub-folders; saves NAME.keras and its model card; returns the
    card. `settings`: mmdream.train.retrain.TrainSettings' fields (epochs, fine_tune_epochs, batch_size, size, ...)."""
    return _train("image", data, output, base, name, progress, settings)


def train_audio(data: PathLike, output: PathLike | None = None, *, base: str = DEFAULT_TRAIN_BASE["audio"],
                name: str | None = None, progress: ProgressFn | None = None, **settings) -> dict:
    """Retrain an audio net on a folder of class sub-folders of sounds (see train_image)."""
    return _train("audio", data, output, base, name, progress, settings)


def _train(kind: str, data: PathLike, output: PathLike | None, base: str, name: str | None,
           progress: ProgressFn | None, settings: dict) -> dict:
    from mmdream.nets.cards import models_dir
    from mmdream.train.retrain import TrainSettings, train

    weights = settings.pop("weights", "imagenet")
    out = Path(output) if output else models_dir() / f"{name or Path(data).name}.keras"
    try:
        train_settings = TrainSettings(**settings)
    except TypeError as e:
        raise UserError(f"unknown training setting ({e})") from None
    card = train(kind, str(data), base, out, train_settings, weights=weights,
                 progress=(lambda total, desc: Progress(progress, total, desc)) if progress else None)
    return {**card, "path": str(out)}


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
