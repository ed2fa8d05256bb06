"""How hard and at how many scales to dream: the engine's settings, without the engine (reading and checking a
command's options must not import TensorFlow)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mmdream.options import DREAM_DEFAULTS

_PICTURE = DREAM_DEFAULTS["image"]


@dataclass
class DreamSettings:
    """How hard and at how many scales to dream. Defaults suit images in [-1, 1]."""

    octaves: int = _PICTURE["octaves"]
    octave_scale: float = _PICTURE["octave_scale"]
    steps: int = _PICTURE["steps"]
    step_size: float = _PICTURE["step_size"]
    jitter: int = _PICTURE["jitter"]
    tile_size: int = _PICTURE["tile_size"]
    smooth: float = _PICTURE["smooth"]  # sigma (pixels) of a Gaussian blur applied to the gradient
    grad_clip: float = 4.0  # clip the mean-|g|-normalised gradient to +-grad_clip
    seed: int | None = 0
    min_size: int = 32  # octaves smaller than this (either axis) are skipped
    axes: tuple[int, ...] = (1, 2)  # axes that are jittered and tiled (sound: time only)
    # Remove the gradient's mean: for sound, whose output is loudness-matched, a uniform gain is no dream.
    center_gradient: bool = False

    def as_dict(self) -> dict:
        return asdict(self)
