"""Dense optical flow between frames: warp the previous result onto the current frame, find occlusions, and
measure flicker. Shared by the dream film and video style transfer.

Occlusion test after Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos" (2016): a pixel is
consistent when the backward flow and the forward flow at the point it maps to cancel out.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Motion:
    """How the current frame relates to the previous one."""

    backward: np.ndarray  # (H, W, 2): for each current pixel, its offset into the previous frame
    consistent: np.ndarray  # (H, W) float in [0, 1]: 1 where the previous frame sees the same point
    change: float = 0.0  # mean grey-level difference (0..255) the flow cannot explain: large at scene cuts
    staged: tuple | None = None  # the frame and this flow already where the dream runs (see FrameDreamer.stage)

    @functools.cached_property
    def maps(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each current pixel samples the previous frame (x, y), made once per frame: the flow's thread
        makes them (measuring `change`), and the frame's carry and its flicker sample along them."""
        gx, gy = _pixel_grid(*self.backward.shape[:2])
        return gx + self.backward[..., 0], gy + self.backward[..., 1]

    def warp(self, img: np.ndarray) -> np.ndarray:
        """`img` of the previous frame moved onto this one (bicubic: see `warp`)."""
        return cv2.remap(img, *self.maps, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)

    def sample(self, img: np.ndarray) -> np.ndarray:
        """Bilinear `warp`, for measurements."""
        return cv2.remap(img, *self.maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class FlowEstimator:
    """OpenCV DIS optical flow (fast, dense) with the forward-backward consistency check."""

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST, max_side: int = 320) -> None:
        self.dis = cv2.DISOpticalFlow_create(preset)
        self.max_side = max_side  # flow is estimated at most this large and scaled up: 4x cheaper at 640 px
        self._cached: tuple = (None, None, None)  # (grey, small grey, the frame they were made of)

    def motion(self, prev_rgb: np.ndarray, cur_rgb: np.ndarray) -> Motion:
        prev, cur, small_prev, small_cur = self._greys(prev_rgb, cur_rgb)
        backward, forward = self.dis.calc(small_cur, small_prev, None), self.dis.calc(small_prev, small_cur, None)
        # checked where the flow was estimated: it is no finer than that, and the check is 3x cheaper there
        consistent = consistency(backward, forward)
        if small_cur.shape != cur.shape:
            consistent = cv2.resize(consistent, cur.shape[::-1], interpolation=cv2.INTER_LINEAR)
        motion = Motion(_full_size(backward, cur.shape), consistent)
        motion.change = _unexplained(prev, cur, motion)
        return motion

    def change(self, prev_rgb: np.ndarray, cur_rgb: np.ndarray) -> float:
        """`motion(prev, cur).change` alone, the same number for two thirds of the cost: where a film restarts (the cluster's pre-pass)."""
        prev, cur, small_prev, small_cur = self._greys(prev_rgb, cur_rgb)
        return _unexplained(prev, cur, Motion(_full_size(self.dis.calc(small_cur, small_prev, None), cur.shape), None))

    def _greys(self, prev_rgb: np.ndarray, cur_rgb: np.ndarray) -> tuple[np.ndarray, ...]:
        """Both frames in grey, full size and at most `max_side` (where the flow is estimated); a film's frame is
        the current one of one pair and the previous one of the next: its greys are made once."""
        prev, small_prev = self._cached[:2] if self._cached[2] is prev_rgb else self._grey_pair(prev_rgb)
        cur, small_cur = self._grey_pair(cur_rgb)
        self._cached = (cur, small_cur, cur_rgb)
        return prev, cur, small_prev, small_cur

    def _grey_pair(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grey = _grey(rgb)
        h, w = grey.shape
        s = min(1.0, self.max_side / max(h, w))
        size = (max(8, round(w * s)), max(8, round(h * s)))
        return grey, (cv2.resize(grey, size, interpolation=cv2.INTER_AREA) if s < 1 else grey)


def _full_size(flow: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return flow if flow.shape[:2] == shape else _upscaled(flow, (shape[1], shape[0]))


def _unexplained(prev: np.ndarray, cur: np.ndarray, motion: Motion) -> float:
    """Mean grey-level difference the flow cannot explain; motion-compensated, so a pan over texture changes
    every pixel but is no cut. A measurement: sampled bilinearly, in uint8 (a third of bicubic float's cost)."""
    return float(cv2.mean(cv2.absdiff(cur, motion.sample(prev)))[0])


def _upscaled(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A flow field estimated small, resized to `size` (w, h) with its vectors scaled to match."""
    big = cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR)
    big[..., 0] *= size[0] / flow.shape[1]
    big[..., 1] *= size[1] / flow.shape[0]
    return big


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


@functools.lru_cache(maxsize=4)
def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y of every pixel (float32), built once per frame size."""
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def warp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample `img` (the previous frame's content) at each current pixel's flow target."""
    # bicubic: a dream carried frame after frame is resampled every frame, and bilinear sampling blurs its fine
    # detail away (measured with scripts/bench.py: objective gain 4.0x bilinear, 4.6x bicubic, same cost)
    return _sampled(img, flow, cv2.INTER_CUBIC)


def _sampled(img: np.ndarray, flow: np.ndarray, interpolation: int) -> np.ndarray:
    gx, gy = _pixel_grid(*flow.shape[:2])
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], interpolation, borderMode=cv2.BORDER_REPLICATE)


def consistency(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """1 where |b + f(x + b)|^2 <= 0.01 (|b|^2 + |f|^2) + 0.5 (Ruder et al. 2016), softened at the edges;
    0 in occluded or disoccluded regions, which must be dreamed afresh."""
    f_at = warp(forward, backward)
    err = _squared_norm(backward + f_at)
    bound = 0.01 * (_squared_norm(backward) + _squared_norm(f_at)) + 0.5
    mask = (err <= bound).astype(np.float32) * _in_frame(backward)  # pixels that came from outside the frame: 0
    return cv2.GaussianBlur(cv2.erode(mask, np.ones((3, 3), np.uint8)), (5, 5), 0)


def _squared_norm(flow: np.ndarray) -> np.ndarray:
    """|v|^2 per pixel of a (H, W, 2) field (cv2: numpy's sum over the last axis is several times slower)."""
    return cv2.magnitude(flow[..., 0], flow[..., 1]) ** 2


def _in_frame(flow: np.ndarray) -> np.ndarray:
    h, w = flow.shape[:2]
    gx, gy = _pixel_grid(h, w)
    x, y = gx + flow[..., 0], gy + flow[..., 1]
    return (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)


def flicker(prev_out: np.ndarray, cur_out: np.ndarray, motion: Motion) -> float:
    """Mean absolute difference (0..255) between an output frame and the flow-warped previous output frame,
    over the pixels the flow says are visible in both (occlusions are not flicker). A measurement taken every
    frame beside the network: sampled bilinearly in uint8, a fifth of bicubic float's cost at 540 px."""
    warped = motion.sample(np.ascontiguousarray(prev_out, np.uint8))
    diff = cv2.absdiff(np.ascontiguousarray(cur_out, np.uint8), warped)
    weight = motion.consistent.reshape(-1)
    channels = cv2.split(diff)  # one weighted sum per channel: numpy's mean over the last axis is 10x slower
    total = sum(float(ch.reshape(-1).astype(np.float32) @ weight) for ch in channels)
    return total / len(channels) / max(float(weight.sum()), 1.0)
