"""Pictures in and out: a photo read (EXIF orientation applied, alpha kept aside, a pixel budget checked from the
header before anything is decoded) and written atomically; the dream space nets work in ([-1, 1] floats) and back;
resizing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mmdream.checks import IMAGE_SUFFIXES
from mmdream.errors import UserError
from mmdream.io_utils import atomic_output, check_input_file

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


def resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """cv2 resize to (h, w); area filter when shrinking."""
    h, w = size
    if x.shape[:2] == (h, w):
        return x
    interp = cv2.INTER_AREA if h < x.shape[0] else cv2.INTER_CUBIC
    return cv2.resize(x, (w, h), interpolation=interp)
