"""What a live session is built from: the frame dreamer (a short pyramid for first frames and cuts, warm steps
fitted to the frame interval) and, with --audio, the sound's dreamer, each at its net's precision and traced
before the source starts, so the first frames do not wait for a compilation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mmdream.media.ffmpeg import MediaInfo, even_size
from mmdream.pipelines.film import FILM_DEFAULTS, Dreaming, FrameDreamer, film_options
from mmdream.pipelines.film.recipe import FilmRecipe
from mmdream.pipelines.live.controls import LiveControls
from mmdream.pipelines.live.session import LiveOptions, dream_live
from mmdream.plan import build_plan


def live_film(source: str, dst: str, info: MediaInfo | None, recipe: FilmRecipe, live: LiveOptions, *,
              octaves: int, steps: int, warm_steps: int | None, warm_strength: float | None, blend: float | None,
              audio: bool, controls: LiveControls | None) -> dict:
    """A checked live source (`info`: its streams; None for a camera) dreamed into `dst`; the report's figures.
    `recipe.dream` holds the dream options; `octaves` x `steps` are the cold frames' pyramid."""
    width, height = even_size(*(info.video_size if info else (640, 480)), live.max_size)
    fps = round((info.fps if info else None) or 25.0, 2)
    opts = film_options(max_size=live.max_size, warm_steps=warm_steps, warm_strength=warm_strength, blend=blend,
                        audio="none")
    opts.measure_every = None  # no scoring: the report has no objective, and a cold frame would wait for it
    opts.cold_at_warm_scale = True  # every dream fitted to the frame interval (see pipelines.live.session.Performance)
    built = recipe.measured(with_sound=audio)
    dreamer, plan = build_plan("image", built.net, FILM_DEFAULTS, octaves=octaves, steps=steps, **built.dream)
    sound = _live_sound(info, built) if audio else None
    return dream_live(source, dst, FrameDreamer(Dreaming(dreamer, plan), opts, fps), (width, height), fps,
                      replace(live, blend=opts.blend), controls, sound)


def _live_sound(info: MediaInfo, recipe: FilmRecipe):
    """The film's soundtrack dreamer for a live source, traced on a chunk's shape before the source starts."""
    # The sound's pipeline (librosa) is loaded only for --audio.
    from mmdream.pipelines.audio.block import dream_block
    from mmdream.pipelines.live.sound import CHUNK_SECONDS, OVERLAP_SECONDS, LiveSound

    dreaming = recipe.sound(info, film_options(audio="dream")).audio
    hiss = np.random.default_rng(0).normal(0, 0.01, (int((CHUNK_SECONDS + OVERLAP_SECONDS) * info.audio_rate),
                                                     info.audio_channels)).astype(np.float32)
    dream_block(hiss, info.audio_rate, dreaming.dreamer, replace(dreaming.plan.at(0.0).settings, steps=1))
    return LiveSound(dreaming, info.audio_rate, info.audio_channels)
