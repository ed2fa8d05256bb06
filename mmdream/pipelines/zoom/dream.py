"""`mmdream zoom` from its spec (mmdream.specs): its inputs checked before the engine loads, then the zoom rendered
(mmdream.pipelines.zoom.render)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np


def identity(source) -> object:
    """What names an input for a resume's key: a file's path, size and time, or an array's checksum."""
    import hashlib

    from mmdream.media.audio_source import GENERATED

    if isinstance(source, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(source).tobytes()).hexdigest()
    if source is None or str(source) in GENERATED:
        return source
    path = Path(source).resolve()
    return [str(path), path.stat().st_size, path.stat().st_mtime]


def zoom(image, output, spec, progress=None, on_frame: Callable[[int, np.ndarray], None] | None = None) -> dict:
    """`mmdream zoom` from its spec (mmdream.specs): a picture (a path or an array) grown into a film at `output`,
    with `spec.audio` dreamed or grown beside it; the report's figures. Checked before any net loads."""
    from mmdream.checks import VIDEO_SUFFIXES, check_output, film_lock, parse_pan
    from mmdream.errors import UserError
    from mmdream.io_utils import check_not_same, is_locked
    from mmdream.media.audio_source import GENERATED
    from mmdream.media.picture import named, picture_input
    from mmdream.pipelines.film.recipe import FilmRecipe
    from mmdream.pipelines.zoom.frames import ZoomOptions
    from mmdream.pipelines.zoom.render import zoom_film
    from mmdream.pipelines.zoom.sound import sound_source_info
    from mmdream.progress import bars

    output = str(output)
    check_output(output, VIDEO_SUFFIXES, "a film")
    if spec.preview is not None:
        check_output(spec.preview, {".png", ".jpg"}, "the preview")
    if not isinstance(image, np.ndarray):
        check_not_same(image, output)
    pan = parse_pan(spec.pan)
    lock, busy = film_lock(output)
    if is_locked(lock):
        raise UserError(busy)
    source = spec.audio
    info = None if source is None else sound_source_info(source)
    if source not in (None, *GENERATED):
        check_not_same(source, output)
    pic = picture_input(image, None, fit=spec.max_size).rgb
    zoom_values = {f: getattr(spec, f) for f in ZoomOptions.__dataclass_fields__ if hasattr(spec, f)}
    opts = ZoomOptions(**{**zoom_values, "pan": pan, "fps": round(spec.fps, 2)})
    recipe = FilmRecipe(spec.net, spec.audio_net, spec.audio_layers, dream=spec.concern("dream"),
                        threads=spec.threads)
    figures = zoom_film(pic, output, opts, recipe, source, info, spec.audio_ouroboros,
                        {"photo": identity(image), "audio_file": identity(source)},
                        progress_bar=bars(progress), on_frame=on_frame)
    return {"command": "zoom", "net": spec.net, "audio_net": spec.audio_net if info else None, "audio": source,
            "schedule": spec.schedule, "input": named(image), **figures}
