"""`mmdream video` and `mmdream style video` from their specs (mmdream.specs): the inputs checked, the recipe of
nets and senses built, the film rendered here or on a Ray cluster."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from mmdream.checks import VIDEO_SUFFIXES, check_output, film_lock
from mmdream.errors import UserError
from mmdream.io_utils import check_input_file, check_not_same, is_locked
from mmdream.media.ffmpeg import MediaInfo
from mmdream.options import AUDIO_STYLE, IMAGE_STYLE
from mmdream.pipelines.film.options import FilmOptions, check_film_input, film_fingerprint, film_fps, film_options
from mmdream.specs import CONCERNS, Spec


def opened(video, output, spec: Spec) -> tuple[str, str, FilmOptions, MediaInfo]:
    """(input, output, the render's options, the input's streams), checked before any net loads."""
    src, dst = str(video), str(output)
    check_output(dst, VIDEO_SUFFIXES, "a film")
    check_not_same(src, dst)
    if spec.preview is not None:
        check_output(spec.preview, {".png", ".jpg"}, "the preview")
    for given in (spec.style, spec.audio_style):
        if given is not None:
            check_input_file(given)
    lock, busy = film_lock(dst)
    if is_locked(lock):
        raise UserError(busy)
    opts = film_options(spec)
    return src, dst, opts, check_film_input(src, dst, opts)


def styles(spec: Spec) -> tuple[dict, dict]:
    """The image style's and the sound style's options of a spec."""
    values = spec.as_dict()
    return {k: values[k] for k in IMAGE_STYLE}, {k: values[k] for k in AUDIO_STYLE}


def dream_video(video, output, spec: Spec, progress=None, on_frame: Callable[[int, np.ndarray], None] | None = None,
                ) -> dict:
    """The dream film of `video` into `output`: the report's figures (see mmdream.api.dream_video)."""
    cluster, threads = None, spec.threads
    if spec.ray is not None or spec.workers is not None:  # read before anything loads: a bad part is refused at once
        from mmdream.checks import cluster_options

        cluster = cluster_options(spec.ray, spec.workers, spec.threads, spec.max_segment, spec.gpus_per_task,
                                  spec.task_resources)
        threads = cluster.threads
    from mmdream.pipelines.film.recipe import FilmRecipe, film_senses
    from mmdream.pipelines.film.render import dream_film
    from mmdream.plan import giving_back
    from mmdream.progress import bars
    from mmdream.senses.ear import ear_for
    from mmdream.senses.steer import check_follow, check_links

    src, dst, opts, info = opened(video, output, spec)
    check_follow(spec.follow, src, info.has_audio, opts.soundtrack)
    heard_by = ear_for(spec.ear, spec.audio_net) if spec.follow in ("sound", "both") else None
    check_links(spec.links, spec.audio_net, heard_by)
    image_style, sound_style = styles(spec)
    dream = {**spec.concern("dream"), "follow_weight": spec.follow_weight, "follow_threshold": spec.follow_threshold}
    recipe = FilmRecipe(spec.net, spec.audio_net, spec.audio_layers, spec.style, spec.audio_style, spec.style_when,
                        image_style, sound_style, dream, threads, links=spec.links,
                        ).measured(with_sound=info.has_audio and opts.soundtrack == "dream", here=cluster is None)
    # after `measured`, which sets TensorFlow's threads before its first op: hearing and seeing are ops too
    heard, seen = film_senses(src, spec.follow, spec.net, heard_by, opts.start, opts.end, opts.cut)
    recipe = replace(recipe, heard=heard, seen=seen)
    image = recipe.image(lend=True)  # an earlier render's dreamers, traced already, may serve (mmdream.plan)
    sound = recipe.sound(info, opts, lend=True)
    given = {k: v for k, v in spec.as_dict().items() if k not in CONCERNS["video"]["cluster"]}
    fingerprint = film_fingerprint(src, {**given, "threads": threads, "ear": heard_by}, opts)
    with giving_back(image.dreamer, sound.audio and sound.audio.dreamer):
        if cluster is not None:
            from mmdream.pipelines.film.cluster import dream_film_on_cluster

            figures = dream_film_on_cluster(src, dst, recipe, sound, opts, {**fingerprint, "cluster": cluster.key()},
                                            cluster, progress_bar=bars(progress), on_frame=on_frame)
        else:
            figures = dream_film(src, dst, recipe.frame_function(image, info, opts), sound, opts, fingerprint,
                                 progress_bar=bars(progress), on_frame=on_frame)
    report = {"command": "video", "net": spec.net, "audio_net": spec.audio_net if sound.audio else None,
              "schedule": spec.schedule, **figures}
    if cluster is None:  # each task's, on a cluster: its report's cluster part
        from mmdream.core.backend import threads_in_use

        report["threads"] = threads_in_use()
    if spec.follow:
        report["follow"] = {**followed(spec.follow, image.plan, sound.audio and sound.audio.plan, opts.start,
                                       figures["duration_s"]), "ear": heard_by}
    return report


def followed(follow: str, picture_plan, sound_plan, start: float, seconds: float) -> dict:
    """A report's cross-modal rows, per second: what was heard and seen, the targets and their weights."""
    from mmdream.senses.steer import per_second

    out: dict = {"follow": follow}
    if picture_plan.steer is not None:
        out["picture_follows_sound"] = per_second(picture_plan, seconds, start)
    if sound_plan is not None and sound_plan.steer is not None:
        out["sound_follows_picture"] = per_second(sound_plan, seconds, start)
    return out


def style_video(video, output, spec: Spec, progress=None,
                on_frame: Callable[[int, np.ndarray], None] | None = None) -> dict:
    """Video style transfer (Ruder et al.): each frame from the flow-warped previous one; with `spec.audio_style`
    the soundtrack is styled too, else kept. The report's figures."""
    from mmdream.nets import load_net
    from mmdream.pipelines.film.frames import FrameStyler
    from mmdream.pipelines.film.render import dream_film
    from mmdream.pipelines.film.soundtrack import SoundPlan
    from mmdream.pipelines.precision import resolve_precision
    from mmdream.pipelines.style import audio_styler, image_styler, style_target
    from mmdream.progress import bars

    src, dst, opts, info = opened(video, output, spec)
    image_style, sound_style = styles(spec)
    net = load_net(spec.net, precision=resolve_precision(spec.precision, spec.net), weights=spec.weights)
    styler = image_styler(net, **image_style)
    sound = SoundPlan()
    if spec.audio_style and info.has_audio and opts.soundtrack == "dream":
        sound.styler, sound.style_path = audio_styler(**sound_style), str(spec.audio_style)
    elif opts.soundtrack == "dream":
        opts = replace(opts, soundtrack="keep")
    frame_fn = FrameStyler(styler, style_target(spec.style, opts.max_size), opts, film_fps(info, opts))
    given = {"command": "style video", **spec.as_dict()}
    figures = dream_film(src, dst, frame_fn, sound, opts, film_fingerprint(src, given, opts),
                         progress_bar=bars(progress), on_frame=on_frame)
    return {"command": "style video", "net": spec.net, "settings": styler.settings.as_dict(), **figures}
