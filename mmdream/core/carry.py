"""A film's frame on the dream's device: the last dream's detail carried along the optical flow onto the frame, and
the dreamed frame made the picture the film writes.

On a GPU, the host's passes over a 1080p frame (to floats, the dream's difference, a bicubic warp, the blend, the
clip, back to bytes) cost the film three times what the compiled dream step does; here they are compiled calls on
the device beside it: the host sends the frames and the flow, and gets back a quarter of the floats' bytes. The
warp is OpenCV's bicubic (a = -0.75) with the border replicated, as mmdream.media.flow warps on the host: the two
agree to a float's rounding.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from keras import ops

from mmdream.core import backend
from mmdream.io_utils import non_finite

_A = -0.75  # OpenCV's bicubic kernel


def _cubic_weights(t):
    """The weights of the taps at -1, 0, 1 and 2 around a point `t` (0..1) past the first tap on its left."""
    s, u = t + 1, 1 - t
    w0 = ((_A * s - 5 * _A) * s + 8 * _A) * s - 4 * _A
    w1 = ((_A + 2) * t - (_A + 3)) * t * t + 1
    w2 = ((_A + 2) * u - (_A + 3)) * u * u + 1
    return w0, w1, w2, 1 - w0 - w1 - w2


def bicubic_warp(img, backward):
    """`img` (H, W, C) sampled at each pixel plus its `backward` flow (H, W, 2): bicubic, border replicated."""
    shape = ops.shape(backward)
    h, w = shape[0], shape[1]
    gy, gx = ops.meshgrid(ops.arange(h, dtype="float32"), ops.arange(w, dtype="float32"), indexing="ij")
    x, y = gx + backward[..., 0], gy + backward[..., 1]
    x0, y0 = ops.floor(x), ops.floor(y)
    wx, wy = _cubic_weights(x - x0), _cubic_weights(y - y0)
    x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
    flat = ops.reshape(img, (-1, img.shape[-1]))
    out = None
    for i in range(4):
        row = ops.clip(y0 + (i - 1), 0, h - 1) * w
        for j in range(4):
            tap = ops.take(flat, row + ops.clip(x0 + (j - 1), 0, w - 1), axis=0) * (wy[i] * wx[j])[..., None]
            out = tap if out is None else out + tap
    return out


def _carried(frame, prev_in, prev_out, backward, consistent, blend):
    """mmdream.pipelines.film.frames.carried of uint8 frames, on the device: the frame in dream space plus `blend`
    of the last dream's detail warped along the flow, where the flow is consistent."""
    x = ops.cast(frame, "float32") / 127.5 - 1.0
    detail = bicubic_warp((ops.cast(prev_out, "float32") - ops.cast(prev_in, "float32")) / 127.5, backward)
    return ops.clip(x + detail * (blend * consistent)[..., None], -1.0, 1.0)


@functools.cache
def _compiled():
    """The carry traced for each frame size, as a dreamer's one call (Dreamer.dream_between) traces it: TensorFlow
    rewrites a graph of known sizes otherwise than one of any size, and on some CPUs (AVX2) the carry's last bit
    then differs, which the dream's steps grow."""
    return backend.compiled(_carried, None, relax=False)


def carried_on_device(frame: np.ndarray, prev_in: np.ndarray, prev_out: np.ndarray, backward: np.ndarray,
                      consistent: np.ndarray, blend: float):
    """The carried frame (H, W, 3, dream space) as a tensor on the dream's device, for the dream to start from."""
    return _compiled()(*_sent(frame, prev_in, prev_out, backward, consistent, blend))


def _sent(frame, prev_in, prev_out, backward, consistent, blend: float) -> tuple:
    """The carry's inputs as the compiled carry takes them, on the dream's device (those already there stay)."""
    return (backend.tensor(frame, "uint8"), backend.tensor(prev_in, "uint8"), backend.tensor(prev_out, "uint8"),
            backend.tensor(backward), backend.tensor(consistent), backend.constant(float(blend)))


class Pictured(NamedTuple):
    """A dreamed frame already made the picture on the device (uint8), and whether every value was finite."""

    rgb: object
    finite: object


def _picture(x) -> Pictured:
    """mmdream.media.picture.from_dream_space on the device, and whether every value was finite."""
    y = ops.clip(ops.floor((x + 1.0) * 127.5 + 0.5), 0.0, 255.0)
    return Pictured(ops.cast(y, "uint8"), ops.all(ops.isfinite(x)))


def dream_carried(dreamer, inputs: tuple, settings, strength: float):
    """A continuing frame carried, dreamed and made the picture on the device: `inputs` are carried_on_device's
    (frame, prev_in, prev_out, backward, consistent, blend). One compiled call where the dream allows
    (Dreamer.one_call), else the carry, the dream and the picture one after another; either way queued only:
    `picture_kept` waits for it."""
    sent = _sent(*inputs)
    shape = tuple(inputs[3].shape[:2])
    if dreamer.one_call(shape, settings):
        return dreamer.dream_between(_carried, sent, _picture, settings, strength)
    return dreamer.dream(_compiled()(*sent), settings, strength=strength, on_device=True)


@functools.cache
def _compiled_picture():
    return backend.compiled(_picture, [backend.spec([None, None, 3])])


def picture(dreamed) -> np.ndarray:
    """A dreamed frame (H, W, 3, dream space) on the device as the uint8 picture the film writes; nothing
    non-finite comes back."""
    return picture_kept(dreamed)[0]


def picture_kept(dreamed) -> tuple[np.ndarray, object]:
    """`picture`, and the picture as it stays on the device: the next frame's carry starts from it there.
    `dreamed`: a dreamed frame, or one already made the picture (`Pictured`, from `dream_carried`)."""
    rgb, finite = dreamed if isinstance(dreamed, Pictured) else _compiled_picture()(dreamed)
    if not bool(backend.array(finite)):
        raise non_finite("the dream")
    return backend.array(rgb), rgb
