"""The zoom's camera and its guards. Each frame is the last one moved (zoom about the centre, rotation, pan) with
bicubic resampling, the film's carry; a feedback loop left alone drifts toward saturated colour and noise, so
before the dream steps the frame's colour statistics are pulled gently toward the photo's and its finest detail
decays a little. `saturation` and `detail_energy` measure what they guard."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def camera_matrix(width: int, height: int, zoom: float, rotate: float, pan: tuple[float, float]) -> np.ndarray:
    """The 2x3 affine map of one frame's move: `zoom` (>1 moves in) and `rotate` (degrees, counter-clockwise)
    about the centre, then the camera pans by `pan` pixels (the picture moves the other way)."""
    m = cv2.getRotationMatrix2D((width / 2 - 0.5, height / 2 - 0.5), rotate, zoom)
    m[:, 2] -= np.asarray(pan, np.float64)
    return m


def move(rgb: np.ndarray, zoom: float, rotate: float, pan: tuple[float, float]) -> np.ndarray:
    """The frame moved by the camera: bicubic, edges mirrored (a zoom out or a pan reveals reflected picture)."""
    h, w = rgb.shape[:2]
    return cv2.warpAffine(rgb, camera_matrix(w, h, zoom, rotate, pan), (w, h), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT_101)


@dataclass
class Guard:
    """Keeps the loop near the photo's colours and detail level: a `colour_pull` share of the way to the photo's
    per-channel mean and spread, and a `detail_decay` share of the finest detail (above a 1-pixel Gaussian) removed,
    each frame (dream space)."""

    mean: np.ndarray
    std: np.ndarray
    colour_pull: float
    detail_decay: float

    @classmethod
    def of(cls, photo: np.ndarray, colour_pull: float, detail_decay: float) -> Guard:
        mean, std = _channel_stats(photo)
        return cls(mean, std, colour_pull, detail_decay)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.colour_pull > 0:
            mean, std = _channel_stats(x)
            matched = (x - mean) / std * self.std + self.mean
            x = x + self.colour_pull * (matched - x)
        if self.detail_decay > 0:
            soft = cv2.GaussianBlur(x, (0, 0), 1.0)
            x = soft + (1.0 - self.detail_decay) * (x - soft)
        return np.clip(x, -1.0, 1.0).astype(np.float32)


def _channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and spread (cv2: a tenth of numpy's time on a frame)."""
    mean, std = cv2.meanStdDev(np.ascontiguousarray(x, np.float32))
    return mean.ravel().astype(np.float32), std.ravel().astype(np.float32) + 1e-3


def saturation(rgb: np.ndarray) -> float:
    """Mean HSV saturation (0..1)."""
    return float(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1].mean() / 255.0)


def detail_energy(rgb: np.ndarray) -> float:
    """Mean squared grey level above a 1-pixel Gaussian (0..255 units): the high-frequency energy."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.mean((grey - cv2.GaussianBlur(grey, (0, 0), 1.0)) ** 2))


def step_change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference (0..255): the zoom's flicker, a frame against the moved previous frame."""
    return float(cv2.absdiff(a, b).mean())
