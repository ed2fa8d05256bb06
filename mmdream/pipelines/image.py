"""Image dreaming: a photo dreamed through the engine at a working size, the change brought back onto it at full
size (the picture codec is mmdream.media.picture)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from mmdream.media.picture import (  # noqa: F401 - the picture's geometry, where the pipeline's callers look
    GUIDE_SIDE,
    MAX_UPSCALE,
    Picture,
    from_dream_space,
    named,
    picture_input,
    read_image,
    resize,
    to_dream_space,
    working_size,
    write_image,
    written_side,
)

if TYPE_CHECKING:  # the engine pulls in TensorFlow; reading and checking images must not
    from mmdream.core.engine import Dreamer, DreamSettings

def changed_at(x: np.ndarray, size: tuple[int, int],
               transform: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """`transform` run on `x` (dream space) at `size` (h, w), and the change it made brought onto `x` at its own
    size (fine detail kept). Returns (the transformed array at `size`, `x` changed)."""
    small = resize(x, size)
    result = transform(small)
    return result, result if size == x.shape[:2] else np.clip(x + resize(result - small, x.shape[:2]), -1, 1)


def through_working_size(pic: Picture, dst: str | None, max_size: int | None,
                         transform: Callable[[np.ndarray], np.ndarray],
                         max_pixels: int | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """The one image pipeline, for dreaming and style alike: the picture at the working size (dream space) through
    `transform`, the change it made brought onto the full-size picture (a photo keeps its resolution and its own
    fine detail; at most `MAX_UPSCALE` times the working size), written to `dst` if given. Returns (the RGB as
    written, JPEG losses included; the transformed working-size array; figures)."""
    source = pic.source_size or pic.rgb.shape[:2]
    if max(pic.rgb.shape[:2]) > (side := written_side(pic.rgb.shape[:2], max_size)):  # an array given whole
        pic = Picture(resize(pic.rgb, working_size(pic.rgb.shape[:2], side)),
                      None if pic.alpha is None else resize(pic.alpha, working_size(pic.alpha.shape[:2], side)))
    size = working_size(pic.rgb.shape[:2], max_size)
    t0 = time.perf_counter()
    result, out = changed_at(to_dream_space(pic.rgb), size, transform)
    seconds = time.perf_counter() - t0
    saved = from_dream_space(out)
    if dst is not None:
        write_image(dst, Picture(saved, pic.alpha))
        saved = read_image(dst, max_pixels).rgb  # what was written
    return saved, result, {"output": dst, "input_size": [int(v) for v in source],
                           "output_size": [int(v) for v in saved.shape[:2]], "working_size": list(size),
                           "seconds": round(seconds, 3)}


def measure_gain(dreamer: Dreamer, before_rgb: np.ndarray, after_rgb: np.ndarray, size: tuple[int, int]) -> dict:
    """Objective of input and output, both at the working size (how the report and tests compare)."""
    from mmdream.core.engine import compare

    before = dreamer.score(resize(to_dream_space(before_rgb), size))
    after = dreamer.score(resize(to_dream_space(after_rgb), size))
    return compare(before, after)


def dream_picture(pic: Picture, dst: str | None, dreamer: Dreamer, settings: DreamSettings, max_size: int | None,
                  on_step=None, strength: float = 1.0, max_pixels: int | None = None,
                  measure: bool = True) -> tuple[np.ndarray, dict]:
    """Dream a picture (see through_working_size) and, if `measure`, its objective before and after (two forward
    passes and a traced function: a third of a second of a default command's start-up): (the RGB as written, the
    report's figures)."""
    saved, _, figures = through_working_size(
        pic, dst, max_size, lambda x: dreamer.dream(x, settings, on_step=on_step, strength=strength), max_pixels)
    if measure:
        figures.update(measure_gain(dreamer, pic.rgb, saved, tuple(figures["working_size"])))
    return saved, figures


def dream(image, output: str | None, spec, progress=None) -> tuple[np.ndarray, dict]:
    """`mmdream image`: a picture (a path or an array) dreamed as its spec (mmdream.specs) says, written to
    `output` if given: (the RGB as written, the report's figures). Everything is checked before a net loads."""
    from mmdream.checks import IMAGE_SUFFIXES, check_output
    from mmdream.io_utils import check_not_same
    from mmdream.media.ffmpeg import audio_input
    from mmdream.media.picture import read_header

    pic = picture_input(image, spec.max_pixels, spec.max_size)
    if spec.guide is not None and not isinstance(spec.guide, np.ndarray):
        read_header(spec.guide, spec.max_pixels)
    if spec.sound is not None:
        audio_input(str(spec.sound))
    if output is not None:
        check_output(output, IMAGE_SUFFIXES, "an image")
        if not isinstance(image, np.ndarray):
            check_not_same(image, output)
    # the engine (TensorFlow) from here on: what is wrong with the input was said at once
    from mmdream.core.settings import DreamSettings
    from mmdream.pipelines.precision import resolve_precision
    from mmdream.plan import lent_plan
    from mmdream.progress import Progress
    from mmdream.senses.ear import ear_for
    from mmdream.senses.steer import check_links, follow

    heard_by = ear_for(spec.ear, spec.audio_net) if spec.sound is not None else None
    check_links(spec.links, heard_by)
    dream_values = {**spec.concern("dream"), **spec.concern("senses"),
                    "precision": resolve_precision(spec.precision, spec.net)}
    with lent_plan("image", spec.net, DreamSettings(), dream_values) as (dreamer, plan):
        if spec.sound is not None:
            from mmdream.pipelines.audio.hearing import hear

            follow(plan, dreamer.net, hear(str(spec.sound), heard_by).overall(), spec.links)
        moment = plan.at(0.0)
        dreamer.take(moment)
        if spec.guide is not None:
            g = picture_input(spec.guide, spec.max_pixels, fit=GUIDE_SIDE).rgb
            dreamer.set_guide(to_dream_space(resize(g, working_size(g.shape[:2], GUIDE_SIDE))))
        size = working_size(pic.rgb.shape[:2], spec.max_size)
        with Progress(progress, dreamer.total_steps(size, moment.settings), "dreaming") as bar:
            saved, figures = dream_picture(pic, output, dreamer, moment.settings, spec.max_size, bar.update,
                                           moment.strength, spec.max_pixels, spec.measure)
        figures = {"command": "image", "net": getattr(spec.net, "name", spec.net), "layers": moment.layers,
                   "target": spec.target, "guide": None if spec.guide is None else named(spec.guide),
                   "max_size": spec.max_size, "schedule": spec.schedule, "strength": moment.strength,
                   "settings": moment.settings.as_dict(), "input": named(image), **figures}
        if plan.steer is not None:
            figures["follow"] = {"sound": str(spec.sound), "ear": heard_by,
                                 **plan.steer.describe(0.0, threshold=moment.follow_threshold), "weight": moment.follow}
        return saved, figures
