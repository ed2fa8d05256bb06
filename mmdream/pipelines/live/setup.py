"""What a live session is built from: the frame dreamer (a short pyramid for first frames and cuts, warm steps
fitted to the frame interval) and, with --audio, the sound's dreamer, each at its net's precision and traced
before the source starts, so the first frames do not wait for a compilation."""

from __future__ import annotations

import glob
import os
from dataclasses import replace

import numpy as np

from mmdream.media.ffmpeg import MediaInfo, even_size
from mmdream.pipelines.film import FILM_DEFAULTS, Dreaming, FrameDreamer, film_options
from mmdream.pipelines.film.recipe import FilmRecipe
from mmdream.pipelines.live.controls import LiveControls, every_depth
from mmdream.pipelines.live.session import LiveOptions, dream_live
from mmdream.plan import build_plan


def cameras() -> list[str]:
    """The V4L2 cameras this machine shows (/dev/videoN)."""
    return sorted(glob.glob("/dev/video[0-9]*"))


def live(source: str, output: str, spec, controls: LiveControls | None = None) -> dict:
    """`mmdream live` from its spec (mmdream.specs): the source checked, then dreamed into `output` (see
    live_film); the report's figures."""
    from mmdream.checks import VIDEO_SUFFIXES, check_output
    from mmdream.errors import UserError
    from mmdream.io_utils import check_not_same
    from mmdream.media.ffmpeg import is_stream, probe

    if not is_stream(output):
        check_output(str(output), VIDEO_SUFFIXES | {".ts"}, "a film")
        check_not_same(source, output)
    camera = str(source).startswith("/dev/video")
    if camera and not os.path.exists(source):
        raise UserError(f"{source}: no such camera (the cameras here: {', '.join(cameras()) or 'none'})")
    info = probe(source) if not camera else None
    if info is not None and not info.has_video:
        raise UserError(f"{source} has no video stream")
    if spec.audio and (info is None or not info.has_audio):
        raise UserError(f"{source} has no audio stream to dream (leave out --audio)")
    recipe, live_options = live_parts(spec)
    figures = live_film(str(source), str(output), info, recipe, live_options, audio=spec.audio, controls=controls)
    return {"command": "live", "net": spec.net, "source": str(source), **figures}


def live_parts(spec) -> tuple[FilmRecipe, LiveOptions]:
    """A live spec's recipe (its nets and dream options) and its live options."""
    recipe = FilmRecipe(spec.net, spec.audio_net, spec.audio_layers, dream=spec.concern("dream"), threads=spec.threads)
    return recipe, LiveOptions(**{f: getattr(spec, f) for f in LiveOptions.__dataclass_fields__})


def live_film(source: str, dst: str, info: MediaInfo | None, recipe: FilmRecipe, live: LiveOptions, *,
              audio: bool, controls: LiveControls | None) -> dict:
    """A checked live source (`info`: its streams; None for a camera) dreamed into `dst`; the report's figures.
    `recipe.dream` holds the dream options (its octaves and steps: the cold frames' pyramid)."""
    width, height = even_size(*(info.video_size if info else (640, 480)), live.max_size)
    fps = round((info.fps if info else None) or 25.0, 2)
    frame_fn, built = live_frames(recipe, live, fps, with_sound=audio)
    sound = _live_sound(info, built) if audio else None
    return dream_live(source, dst, frame_fn, (width, height), fps, replace(live, blend=frame_fn.opts.blend), controls,
                      sound)


def live_frames(recipe: FilmRecipe, live: LiveOptions, fps: float, with_sound: bool = False,
                all_depths: bool = False) -> tuple[FrameDreamer, FilmRecipe]:
    """The live frame dreamer of a recipe (each dream fitted to the frame interval, no scoring), and the recipe
    with its precisions measured; `mmdream live` and the studio's Live tab build it alike. `all_depths`: its
    dreamer also holds every layer a depth slider can pick (see controls.every_depth)."""
    opts = film_options(max_size=live.max_size, warm_steps=live.warm_steps, warm_strength=live.warm_strength,
                        blend=live.blend, soundtrack="none")
    opts.measure_every = None  # no scoring: the report has no objective, and a cold frame would wait for it
    opts.cold_at_warm_scale = True  # every dream fitted to the frame interval (see pipelines.live.session.Performance)
    built = recipe.measured(with_sound=with_sound)
    dreamer, plan = build_plan("image", built.net, FILM_DEFAULTS, built.dream,
                               also_layers=every_depth if all_depths else None)
    return FrameDreamer(Dreaming(dreamer, plan), opts, fps), built


def _live_sound(info: MediaInfo, recipe: FilmRecipe):
    """The film's soundtrack dreamer for a live source, traced on a chunk's shape before the source starts."""
    # The sound's pipeline (librosa) is loaded only for --audio.
    from mmdream.pipelines.audio.block import dream_block
    from mmdream.pipelines.live.sound import CHUNK_SECONDS, OVERLAP_SECONDS, LiveSound

    dreaming = recipe.sound(info, film_options(soundtrack="dream")).audio
    hiss = np.random.default_rng(0).normal(0, 0.01, (int((CHUNK_SECONDS + OVERLAP_SECONDS) * info.audio_rate),
                                                     info.audio_channels)).astype(np.float32)
    dream_block(hiss, info.audio_rate, dreaming.dreamer, replace(dreaming.plan.at(0.0).settings, steps=1))
    return LiveSound(dreaming, info.audio_rate, info.audio_channels)
