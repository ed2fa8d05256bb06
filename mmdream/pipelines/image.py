"""Image dreaming: a photo dreamed through the engine at a working size, the change brought back onto it at full
size (the picture codec is mmdream.media.picture)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from mmdream.media.picture import Picture, from_dream_space, read_image, resize, to_dream_space, write_image

if TYPE_CHECKING:  # the engine pulls in TensorFlow; reading and checking images must not
    from mmdream.core.engine import Dreamer, DreamSettings

def working_size(shape: tuple[int, int], max_size: int | None) -> tuple[int, int]:
    """(h, w) scaled so the longer side is at most max_size."""
    h, w = shape
    if not max_size or max(h, w) <= max_size:
        return h, w
    s = max_size / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


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
    fine detail), written to `dst` if given. Returns (the RGB as written, JPEG losses included; the transformed
    working-size array; figures)."""
    size = working_size(pic.rgb.shape[:2], max_size)
    t0 = time.perf_counter()
    result, out = changed_at(to_dream_space(pic.rgb), size, transform)
    seconds = time.perf_counter() - t0
    saved = from_dream_space(out)
    if dst is not None:
        write_image(dst, Picture(saved, pic.alpha))
        saved = read_image(dst, max_pixels).rgb  # what was written
    return saved, result, {"output": dst, "input_size": [int(v) for v in pic.rgb.shape[:2]],
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
