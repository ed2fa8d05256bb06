"""Image dreaming: read any photo, dream it through the engine at a working size, write it back at full size."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mmdream.checks import IMAGE_SUFFIXES
from mmdream.errors import UserError
from mmdream.io_utils import atomic_output, check_input_file

if TYPE_CHECKING:  # the engine pulls in TensorFlow; reading and checking images must not
    from mmdream.core.engine import Dreamer, DreamSettings

MAX_PIXELS = 100_000_000  # a decoded 100 MP photo is 300 MB of RGB; `--max-pixels` raises it
Image.MAX_IMAGE_PIXELS = None  # read_header refuses by our own budget, before anything is decoded


@dataclass
class Picture:
    rgb: np.ndarray  # uint8 (H, W, 3)
    alpha: np.ndarray | None  # uint8 (H, W) or None


def read_header(path: str | Path, max_pixels: int | None = None) -> tuple[int, int]:
    """(width, height) from the file's header, without decoding it; a picture above the pixel budget (a
    decompression bomb is a few hundred kB) is refused here."""
    check_input_file(path)
    budget = max_pixels or MAX_PIXELS
    try:
        with Image.open(path) as im:
            w, h = im.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise UserError(f"{path} is not a readable image ({e.__class__.__name__})") from None
    if w * h > budget:
        raise UserError(f"{path} is {w}x{h} = {w * h / 1e6:.0f} MP, above the {budget / 1e6:g} MP limit; "
                        f"use --max-pixels {w * h} to dream it anyway")
    return w, h


def read_image(path: str | Path, max_pixels: int | None = None) -> Picture:
    """RGB uint8 with EXIF orientation applied; greyscale becomes RGB; alpha kept aside."""
    read_header(path, max_pixels)
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            im.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise UserError(f"{path} is not a readable image ({e.__class__.__name__})") from None
    alpha = None
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        alpha = np.asarray(im)[:, :, 3].copy()
    rgb = np.asarray(im.convert("RGB")).copy()
    return Picture(rgb, alpha)


def write_image(path: str | Path, picture: Picture, quality: int = 95) -> None:
    """Write atomically (temporary name, then rename)."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise UserError(f"cannot write {path.suffix or 'an extensionless file'}; use .jpg, .png or .webp")
    im = Image.fromarray(picture.rgb)
    if picture.alpha is not None and path.suffix.lower() in (".png", ".webp", ".tif", ".tiff"):
        im = Image.fromarray(np.dstack([picture.rgb, picture.alpha]))
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower(), None)
    with atomic_output(path) as tmp:
        im.save(tmp, format=fmt or Image.registered_extensions()[path.suffix.lower()], quality=quality)


# In place, one buffer: a film converts a few frames each step, and numpy's temporaries cost 10x the arithmetic.
def to_dream_space(rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float32)
    x /= 127.5
    x -= 1.0
    return x


def from_dream_space(x: np.ndarray) -> np.ndarray:
    y = x + np.float32(1.0)
    y *= 127.5
    y += 0.5
    return np.clip(y, 0, 255, out=y).astype(np.uint8)


def dream_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`to_dream_space(a) - to_dream_space(b)` of two uint8 pictures, in one pass."""
    d = cv2.subtract(a, b, dtype=cv2.CV_32F)
    d /= 127.5
    return d


def working_size(shape: tuple[int, int], max_size: int | None) -> tuple[int, int]:
    """(h, w) scaled so the longer side is at most max_size."""
    h, w = shape
    if not max_size or max(h, w) <= max_size:
        return h, w
    s = max_size / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """cv2 resize to (h, w); area filter when shrinking."""
    h, w = size
    if x.shape[:2] == (h, w):
        return x
    interp = cv2.INTER_AREA if h < x.shape[0] else cv2.INTER_CUBIC
    return cv2.resize(x, (w, h), interpolation=interp)


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
