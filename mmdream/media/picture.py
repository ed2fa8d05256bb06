"""Pictures in and out: a photo read (EXIF orientation applied, alpha kept aside, a pixel budget checked from the
header before anything is decoded, and no larger than the caller needs it) and written atomically; the dream space
nets work in ([-1, 1] floats) and back; resizing."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mmdream.checks import IMAGE_SUFFIXES
from mmdream.errors import UserError
from mmdream.io_utils import atomic_output, check_input_file
from mmdream.options import BY_NAME

MAX_PIXELS = BY_NAME["max_pixels"].default  # the pixel budget; `--max-pixels` raises it
Image.MAX_IMAGE_PIXELS = None  # read_header refuses by our own budget, before anything is decoded


@dataclass
class Picture:
    rgb: np.ndarray  # uint8 (H, W, 3)
    alpha: np.ndarray | None  # uint8 (H, W) or None
    source_size: tuple[int, int] | None = None  # (H, W) of the file where it was read smaller (see read_image)


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


def read_image(path: str | Path, max_pixels: int | None = None, fit: int | None = None) -> Picture:
    """RGB uint8 with EXIF orientation applied; greyscale becomes RGB; alpha kept aside. `fit`: the longest side
    the caller needs; a larger picture is decoded reduced and scaled down to it (see `_read_reduced`), so the
    memory a picture takes follows the work asked of it, not the size its file claims."""
    w, h = read_header(path, max_pixels)
    if fit and max(w, h) > fit:
        return _read_reduced(path, (w, h), fit)
    try:
        with Image.open(path) as im:
            im.load()
            if _orientation(im) != 1:
                im = ImageOps.exif_transpose(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise UserError(f"{path} is not a readable image ({e.__class__.__name__})") from None
    return _split(im)


def _split(im: Image.Image) -> Picture:
    """A decoded image as RGB with its alpha kept aside."""
    alpha = None
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        alpha = np.array(im.getchannel("A"))
    return Picture(np.array(im if im.mode == "RGB" else im.convert("RGB")), alpha)


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation, read from the header (a PNG's EXIF after its pixels is not looked for: Pillow would
    decode them all to find it)."""
    if im.format == "PNG" and "exif" not in im.info:
        return 1
    try:
        return int(im.getexif().get(0x0112, 1))
    except (TypeError, ValueError, SyntaxError, OSError):
        return 1


def _read_reduced(path: str | Path, size: tuple[int, int], fit: int) -> Picture:
    """A picture larger than `fit` on its long side, read at that size: a JPEG decoded by libjpeg at a fraction of
    its size (1/2 to 1/8), any other format decoded and scaled by ffmpeg in a process of its own, so the full-size
    pixels never enter this one (a 97 kB PNG may claim 100 MP); ffmpeg failing, Pillow decodes it whole."""
    w, h = size
    s = fit / max(w, h)
    small = (max(1, round(w * s)), max(1, round(h * s)))
    try:
        with Image.open(path) as im:
            orientation, has_alpha = _orientation(im), im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
            if im.format == "JPEG":
                im.draft("RGB", small)
                im.load()
                decoded = im.resize(small, Image.Resampling.BOX) if im.size != small else im
                picture = _split(decoded)
            else:
                picture = _decoded_by_ffmpeg(path, small, has_alpha)
                if picture is None:
                    im.load()
                    picture = _split(im.resize(small, Image.Resampling.BOX))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise UserError(f"{path} is not a readable image ({e.__class__.__name__})") from None
    if orientation != 1:
        picture = _oriented(picture, orientation)
    picture.source_size = (w, h)[::-1] if orientation < 5 else (w, h)
    return picture


def _decoded_by_ffmpeg(path: str | Path, size: tuple[int, int], alpha: bool) -> Picture | None:
    """The first frame of a picture file at `size` (w, h), area-filtered, from ffmpeg; None where it cannot."""
    from mmdream.media.ffmpeg import ffmpeg_exe

    fmt, depth = ("rgba", 4) if alpha else ("rgb24", 3)
    cmd = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-frames:v", "1", "-vf",
           f"scale={size[0]}:{size[1]}:flags=area", "-f", "rawvideo", "-pix_fmt", fmt, "-"]
    done = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0 or len(done.stdout) != size[0] * size[1] * depth:
        return None
    pixels = np.frombuffer(done.stdout, np.uint8).reshape(size[1], size[0], depth)
    return Picture(pixels[..., :3].copy(), pixels[..., 3].copy() if alpha else None)


def _oriented(picture: Picture, orientation: int) -> Picture:
    """A picture turned as its EXIF orientation says (as ImageOps.exif_transpose turns a whole one)."""
    method = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}.get(orientation)
    if method is None:
        return picture
    rgb = np.array(Image.fromarray(picture.rgb).transpose(method))
    alpha = None if picture.alpha is None else np.array(Image.fromarray(picture.alpha).transpose(method))
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


# The dream's detail is brought onto the full-size photo at most this many times enlarged: a 64 px dream of a 100 MP
# photo is written at 1024 px, not 10000 (more would add nothing but blur, and the photo's size, not the work, would
# set the memory); a 1024 px dream keeps any photo up to 16384 px at its own size.
MAX_UPSCALE = 16
GUIDE_SIDE = 384  # a guide picture's features are taken at this long side (it is read no larger)


def working_size(shape: tuple[int, int], max_size: int | None) -> tuple[int, int]:
    """(h, w) scaled so the longer side is at most max_size."""
    h, w = shape
    if not max_size or max(h, w) <= max_size:
        return h, w
    s = max_size / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def written_side(shape: tuple[int, int], max_size: int | None) -> int:
    """The long side a picture of `shape` (h, w) dreamed at `max_size` is written at: its own, or `MAX_UPSCALE`
    times the dream's."""
    return min(max(shape), MAX_UPSCALE * max(working_size(shape, max_size)))


def picture_input(image, max_pixels: int | None, max_size: int | None = None, fit: int | None = None) -> Picture:
    """A path (read as the command line reads it, no larger than a dream at `max_size` is written, or than `fit` on
    its long side) or an RGB(A) array, uint8 or float in [0, 1]."""
    if not isinstance(image, np.ndarray):
        if fit is None and max_size is not None:
            w, h = read_header(image, max_pixels)
            fit = written_side((h, w), max_size)
        return read_image(image, max_pixels, fit)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] not in (3, 4) or min(image.shape[:2]) < 1:
        raise UserError(f"an image array must be (height, width, 3 or 4), not {image.shape}")
    image = _as_uint8(image)
    alpha = image[..., 3].copy() if image.shape[-1] == 4 else None
    return Picture(np.ascontiguousarray(image[..., :3]), alpha)


def _as_uint8(image: np.ndarray) -> np.ndarray:
    """An image array's pixels as uint8: uint8 as it is, uint16 (a 16-bit PNG's) at its full scale, floats in
    [0, 1] (a little beyond is clipped: a resampled picture overshoots). Other integers and floats far outside
    [0, 1] (a picture in 0..255 as floats) are one line: they were clipped to white, and nothing said so."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if image.dtype.kind != "f":
        raise UserError(f"an image array must be uint8, uint16 or floats in [0, 1], not {image.dtype}")
    if not np.isfinite(image).all():
        raise UserError("the image array holds NaN or Inf")
    low, high = float(image.min()), float(image.max())
    if low < -0.5 or high > 1.5:
        hint = " (divide by 255)" if high <= 255.5 and low >= -0.5 else ""
        raise UserError(f"a float image array must hold values in [0, 1], not {low:g} to {high:g}{hint}")
    return np.clip(np.asarray(image, np.float64) * 255 + 0.5, 0, 255).astype(np.uint8)


def named(source) -> str:
    """How a report names an input: its path, or "array"."""
    return "array" if isinstance(source, np.ndarray) else str(source)
