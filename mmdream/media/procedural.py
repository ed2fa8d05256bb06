"""Inputs made from nothing, so a first dream needs no file: the demo's picture (`make demo`) and the studio's
one-click examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmdream.media.audio_source import generated_source


def procedural_picture(path: Path, h: int = 360, w: int = 540, seed: int = 1) -> Path:
    """Soft sky gradient, hills and a few discs: enough structure for a net to find things in."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    img[..., 0] = 90 + 80 * y / h
    img[..., 1] = 140 + 60 * y / h
    img[..., 2] = 230 - 60 * y / h
    hills = h * (0.65 + 0.08 * np.sin(x / 47.0) + 0.05 * np.sin(x / 13.0 + 1.0))
    ground = y > hills
    img[ground] = np.stack([60 + 40 * np.sin(x / 9.0), 120 + 30 * np.cos(y / 7.0), 50 + 0 * x], -1)[ground]
    for _ in range(6):
        cy, cx, r = rng.uniform(0, h * 0.6), rng.uniform(0, w), rng.uniform(12, 40)
        disc = (y - cy) ** 2 + (x - cx) ** 2 < r * r
        img[disc] = rng.uniform(40, 255, 3)
    img += rng.normal(0, 6, img.shape)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return path


def procedural_sound(path: Path, seconds: float = 4.0, rate: int = 44100) -> Path:
    """A tone with its harmonics over soft noise, swelling and fading: `mmdream audio sine` and `noise` in one."""
    import soundfile as sf

    tone, noise = generated_source("sine", seconds, rate)[:, 0], generated_source("noise", seconds, rate)[:, 0]
    t = np.arange(len(tone)) / rate
    swell = np.sin(np.pi * t / seconds) ** 2
    sf.write(path, (0.8 * tone * swell + 0.3 * noise).astype(np.float32), rate)
    return path
