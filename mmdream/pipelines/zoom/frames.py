"""The zoom's frame function: the first frame is the photo dreamed with the whole pyramid; every later frame is the
previous output moved by the camera, guarded, and dreamed a few warm steps at full size."""

from __future__ import annotations

from dataclasses import field, replace

import numpy as np

from mmdream.media.picture import from_dream_space, to_dream_space
from mmdream.pipelines.film.frames import Dreaming
from mmdream.pipelines.zoom.camera import Guard, detail_energy, move, saturation, step_change
from mmdream.specs import options_class


def _frames(self) -> int:
    """Frames in the film."""
    return max(1, int(round(self.seconds * self.fps)))


def _loop_frames(self) -> int:
    """Frames rendered beyond the film's end to cross-fade into its start (a second, at most half the film)."""
    return min(int(round(self.fps)), self.frames() // 2) if self.loop else 0


# The zoom's options as the schema declares them for `mmdream zoom` (its zoom and output concerns), its pan held as
# two numbers. A warm frame dreams its steps at full size without jitter: measured with lite0 at 320 px, a rolled
# step aims at a shifted picture, and in a loop of 2 steps a frame gains 1.02x over its input with 32 px of jitter,
# 1.05x with 8 and 1.22x with none; the camera's own move shifts the picture each frame, so no grid pattern settles.
ZoomOptions = options_class("ZoomOptions", "zoom", ("zoom", "output"), overrides={"pan": tuple[float, float]},
                            internal=[("measure_every", int, field(default=8))],  # the objective on every n-th frame
                            namespace={"frames": _frames, "loop_frames": _loop_frames})
ZoomOptions.__module__ = __name__


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
