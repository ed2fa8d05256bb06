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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmdream.checks import AUDIO_SUFFIXES, IMAGE_SUFFIXES, check_number, check_output
from mmdream.errors import UserError
from mmdream.io_utils import check_not_same

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
            from mmdream.audio import load_whole

            self._audio = load_whole(self.output)[0]
        return self._audio


def _picture(image: PathLike | np.ndarray, max_pixels: int | None):
    """A path (read as the CLI reads it) or an RGB(A) array, uint8 or float in [0, 1]."""
    from mmdream.image import Picture, read_image

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


def dream_image(image: PathLike | np.ndarray, output: PathLike | None = None, *, net: str = "efficientnet_lite0",
                layers: str | None = None, target: str | None = None, guide: PathLike | np.ndarray | None = None,
                channels: str | dict | None = None, schedule: PathLike | None = None, strength: float = 1.0,
                octaves: int | None = None, octave_scale: float | None = None, steps: int | None = None,
                step_size: float | None = None, jitter: int | None = None, smooth: float | None = None,
                tile_size: int | None = None, seed: int = 0, precision: str = "auto", max_size: int = 1024,
                max_pixels: int | None = None, weights: str = "imagenet",
                progress: ProgressFn | None = None) -> ImageResult:
    """Dream a picture: a path or an RGB array. `output` writes it (atomically); the result holds the dream as
    written, the objective before and after, and the report."""
    from mmdream.engine import DreamSettings
    from mmdream.image import dream_picture, resize, to_dream_space, working_size
    from mmdream.plan import build_plan

    check_number("strength", strength, 0.0, 100.0)
    check_number("max_size", max_size, 0, 16_384)
    check_number("max_pixels", max_pixels, 1, None)
    pic = _picture(image, max_pixels)
    if output is not None:
        check_output(str(output), IMAGE_SUFFIXES, "an image")
        if not isinstance(image, np.ndarray):
            check_not_same(image, output)
    dreamer, plan = build_plan("image", net, DreamSettings(), layers=layers, schedule=schedule and str(schedule),
                               strength=strength, target=target, channels=channels, seed=seed, precision=precision,
                               weights=weights, octaves=octaves, octave_scale=octave_scale, steps=steps,
                               step_size=step_size, jitter=jitter, smooth=smooth, tile_size=tile_size)
    moment = plan.at(0.0)
    if guide is not None:
        g = _picture(guide, max_pixels).rgb
        dreamer.set_guide(to_dream_space(resize(g, working_size(g.shape[:2], 384))))
    size = working_size(pic.rgb.shape[:2], max_size)
    with Progress(progress, dreamer.total_steps(size, moment.settings), "dreaming") as bar:
        saved, figures = dream_picture(pic, output and str(output), dreamer, moment.settings, max_size, bar.update,
                                       moment.strength, max_pixels)
    figures = {"command": "image", "net": net, "layers": moment.layers, "target": target,
               "guide": None if guide is None or isinstance(guide, np.ndarray) else str(guide), "max_size": max_size,
               "schedule": schedule and str(schedule), "strength": moment.strength,
               "settings": moment.settings.as_dict(),
               "input": "array" if isinstance(image, np.ndarray) else str(image), **figures}
    return ImageResult(output and str(output), figures, saved)


def dream_audio(audio: PathLike | np.ndarray, output: PathLike | None = None, *, sr: int | None = None,
                net: str = "MTT_vgg", layers: str | None = None, target: str | None = None,
                channels: str | dict | None = None, schedule: PathLike | None = None, strength: float = 1.0,
                octaves: int | None = None, octave_scale: float | None = None, steps: int | None = None,
                step_size: float | None = None, jitter: int | None = None, smooth: float | None = None,
                tile_size: int | None = None, seed: int = 0, precision: str = "auto", duration: float | None = None,
                loudness: float | None = None, griffin_lim: int = 0, ouroboros: int = 1, weights: str = "imagenet",
                progress: ProgressFn | None = None) -> AudioResult:
    """Dream a sound: a path ffmpeg decodes, `"noise"` / `"sine"`, or samples (n,) / (n, channels) with `sr=`.
    `output` writes it (atomically; .wav, .flac, .mp3, .ogg, .opus, .m4a); with `ouroboros=N` each pass is fed
    back and written beside it. The result holds the samples as written, the objective and the report."""
    import soundfile as sf

    for name, value, lo, hi in (("strength", strength, 0.0, 100.0), ("loudness", loudness, -70.0, 0.0),
                                ("griffin_lim", griffin_lim, 0, 1000), ("ouroboros", ouroboros, 1, 100)):
        check_number(name, value, lo, hi)
    check_number("duration", duration, 0.0, 86_400.0, lo_open=True)
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
            if src not in ("noise", "sine"):
                check_not_same(src, output)
        figures, passes = _dream_passes(src, dst, net=net, layers=layers, target=target, channels=channels,
                                        schedule=schedule and str(schedule), strength=strength, seed=seed,
                                        precision=precision, duration=duration, loudness=loudness,
                                        griffin_lim=griffin_lim, ouroboros=ouroboros, weights=weights,
                                        progress=progress, octaves=octaves, octave_scale=octave_scale, steps=steps,
                                        step_size=step_size, jitter=jitter, smooth=smooth, tile_size=tile_size)
        result = AudioResult(str(dst), figures, passes[-1]["sample_rate"])
        if output is None:  # the scratch folder goes: keep the samples, forget the path
            result._audio, result.output = result.audio, None
    return result


def _dream_passes(src: str, dst: Path, *, net: str, duration: float | None, loudness: float | None,
                  griffin_lim: int, ouroboros: int, progress: ProgressFn | None, **plan_options) -> tuple[dict, list]:
    """`ouroboros` passes of the audio dream from `src`, the last one to `dst`; the report and each pass's
    figures (objective measured with the first keyframe's layers, on input and output)."""
    from mmdream.audio import AUDIO_DEFAULTS, dream_audio_file, open_source, score_file, total_audio_steps
    from mmdream.engine import compare
    from mmdream.plan import build_plan

    info, _ = open_source(src, duration)
    dreamer, plan = build_plan("audio", net, AUDIO_DEFAULTS, sr=info.audio_rate, **plan_options)
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
        current = out
    moment = plan.at(0.0)
    report = {"command": "audio", "net": net, "layers": moment.layers, "target": plan_options.get("target"),
              "schedule": plan_options.get("schedule"), "strength": moment.strength,
              "settings": moment.settings.as_dict(), **passes[-1], "passes": passes}
    return report, passes


def load_net(name: str, precision: str = "auto", sr: int | None = None, weights: str = "imagenet"):
    """A registered net by name (see `mmdream models`) or a trained model, at the precision asked for."""
    from mmdream.nets import load_net as load
    from mmdream.plan import resolve_precision

    return load(name, weights=weights, precision=resolve_precision(precision), sr=sr)
