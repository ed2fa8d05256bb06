"""The zoom's frame function: the first frame is the photo dreamed with the whole pyramid; every later frame is the
previous output moved by the camera, guarded, and dreamed a few warm steps at full size."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mmdream.media.picture import from_dream_space, to_dream_space
from mmdream.pipelines.film.frames import Dreaming
from mmdream.pipelines.zoom.camera import Guard, detail_energy, move, saturation, step_change


@dataclass
class ZoomOptions:
    seconds: float = 20.0
    fps: float = 24.0
    zoom: float = 1.02  # scale per frame (a schedule's `zoom` key overrides it)
    rotate: float = 0.0  # degrees per frame (a schedule's `rotate` key overrides it)
    pan: tuple[float, float] = (0.0, 0.0)  # camera pixels per frame
    max_size: int = 540
    # A warm frame: steps at full size, without jitter. Measured with lite0 at 320 px: a rolled step aims at a
    # shifted picture, and in a loop of 2 steps a frame gains 1.02x over its input with 32 px of jitter, 1.05x
    # with 8 and 1.22x with none; the camera's own move shifts the picture each frame, so no grid pattern settles.
    warm_steps: int = 2
    warm_strength: float = 1.0  # step size of a warm frame's steps, relative to the schedule's
    colour_pull: float = 0.05
    detail_decay: float = 0.3
    loop: bool = False  # the last second cross-fades into the first
    measure_every: int = 8  # the objective is measured on every n-th frame
    preview: str | None = None
    keep_work: bool = False

    def frames(self) -> int:
        """Frames in the film."""
        return max(1, int(round(self.seconds * self.fps)))

    def loop_frames(self) -> int:
        """Frames rendered beyond the film's end to cross-fade into its start (a second, at most half the film)."""
        return min(int(round(self.fps)), self.frames() // 2) if self.loop else 0


class ZoomDreamer:
    """Frame i of the zoom from frame i-1 (`prev_out`); deterministic in (i, prev_out), so a resumed render
    continues exactly. Rows hold the objective gain over the dream's input (the moved and guarded frame) and over
    the moved frame alone, the flicker against the moved previous frame, and saturation and detail energy."""

    def __init__(self, image: Dreaming, opts: ZoomOptions, photo: np.ndarray) -> None:
        self.dreamer, self.plan, self.opts = image.dreamer, image.plan, opts
        self.plan.camera_defaults = {"zoom": opts.zoom, "rotate": opts.rotate}
        self.guard = Guard.of(to_dream_space(photo), opts.colour_pull, opts.detail_decay)

    def __call__(self, i, frame, prev_in, prev_out, motion, strength_factor):
        opts, dreamer = self.opts, self.dreamer
        moment = self.plan.at(i / opts.fps)
        dreamer.take(moment)
        settings = replace(moment.settings, seed=(moment.settings.seed or 0) + i)
        row = {"frame": i, "time": round(i / opts.fps, 4), "cold": prev_out is None,
               "zoom": round(moment.camera["zoom"], 6), "rotate": round(moment.camera["rotate"], 6)}
        if prev_out is None:  # the photo, with the whole pyramid
            moved, x = None, to_dream_space(frame)
            out = from_dream_space(dreamer.dream(x, settings, strength=moment.strength * strength_factor))
        else:
            moved = move(prev_out, moment.camera["zoom"], moment.camera["rotate"], opts.pan)
            x = self.guard(to_dream_space(moved))
            settings = replace(settings, octaves=1, steps=opts.warm_steps, jitter=0)
            out = from_dream_space(dreamer.dream(x, settings, strength=moment.strength * strength_factor
                                                 * opts.warm_strength))
        row.update(steps=settings.steps, octaves=settings.octaves, strength=moment.strength * strength_factor,
                   flicker=None if moved is None else step_change(out, moved))
        if i % opts.measure_every == 0:  # two or three forward passes: a sample of frames
            after = dreamer.score(to_dream_space(out))
            row["objective_gain"] = after / max(dreamer.score(x), 1e-12)
            if moved is not None:
                row["objective_gain_vs_moved"] = after / max(dreamer.score(to_dream_space(moved)), 1e-12)
        row.update(saturation=round(saturation(out), 5), detail_energy=round(detail_energy(out), 4))
        return out, row
