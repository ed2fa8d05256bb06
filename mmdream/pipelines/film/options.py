"""A film render's options, and the key that says whether a rerun continues the same job."""

from __future__ import annotations

from dataclasses import asdict, field, fields
from pathlib import Path

from mmdream.core.settings import DreamSettings
from mmdream.errors import UserError
from mmdream.media.ffmpeg import MediaInfo, probe
from mmdream.options import DREAM_DEFAULTS, READ_FILES
from mmdream.specs import options_class

# A cold frame (the first, and after a cut) gets the classic recipe: 4 octaves x1.4, 10 steps.
FILM_DEFAULTS = DreamSettings(**DREAM_DEFAULTS["film"])


# The film's own options, as the schema declares them for `mmdream video` (its film and output concerns and what
# becomes of its soundtrack), made a dataclass here: an option added to the schema's film concern is a field of
# every render's options, in its resume key, with nothing else to write. Besides them, two a live dream sets.
INTERNAL = [
    # A continuing frame is dreamed at this share of the processing size, its change brought back up (live
    # lowers it when one step at full size does not fit a frame interval; the output keeps its size).
    ("warm_scale", float, field(default=1.0)),
    # Live: cold dreams too at warm_scale. A full-size pyramid that takes seconds leaves the next frame to dream so
    # far on that the flow cannot explain it; it counts as a cut, and every dream would stay cold.
    ("cold_at_warm_scale", bool, field(default=False)),
]
# The film's own options, as the schema declares them for `mmdream video` (its film and output concerns and what
# becomes of its soundtrack), made a dataclass here: an option added to the schema's film concern is a field of
# every render's options, in its resume key, with nothing else to write. Besides them, two a live dream sets.
FilmOptions = options_class("FilmOptions", "video", ("film", "output"), extra=("soundtrack", "griffin_lim"),
                            internal=INTERNAL)
FilmOptions.__module__ = __name__
FilmOptions.__doc__ = """A render's film options (mmdream.options, the `video` command's film concern): continuing
frames carry the previous dream along the flow and add one full-size step, which settles about as deep as the
classic per-frame recipe (4 octaves x 10 steps) at a tenth of its cost or less."""
FILM_FIELDS = tuple(f.name for f in fields(FilmOptions))


def film_options(spec=None, **values) -> FilmOptions:
    """A render's FilmOptions from a spec (its film fields), and any `values` besides (a live dream's, a zoom's
    soundtrack's)."""
    taken = {} if spec is None else {k: v for k, v in spec.as_dict().items() if k in FILM_FIELDS}
    return FilmOptions(**{**taken, **values})


def film_fingerprint(src: str, options: dict, opts: FilmOptions) -> dict:
    """What makes two renders the same job (a rerun resumes only if nothing here changed): the input files, the
    options given, and the film options and dream defaults they resolve to, so a changed default cannot mix old
    and new frames."""
    from mmdream.pipelines.audio.block import AUDIO_DEFAULTS

    path = Path(src).resolve()
    files = {}
    for key in READ_FILES:
        given = options.get(key)
        if given and Path(given).is_file():
            files[key] = (str(Path(given).resolve()), Path(given).stat().st_mtime, Path(given).stat().st_size)
    unused = ("report", "preview", "keep_work", "progress", "measure_every")
    return {"input": str(path), "size": path.stat().st_size, "mtime": path.stat().st_mtime, **files,
            **{k: v for k, v in options.items() if k not in unused},
            "film": {k: v for k, v in asdict(opts).items() if k not in unused},
            "defaults": {"image": FILM_DEFAULTS.as_dict(), "audio": AUDIO_DEFAULTS.as_dict()}}


def film_fps(info: MediaInfo, opts: FilmOptions) -> float:
    """The rate frames are dreamed and written at: --fps, else the input's (25 if it has none), to the 1/100 that
    the encoder takes (ffmpeg reports rates so too): decoded and encoded at one rate, picture and sound cannot drift."""
    return round(opts.fps or info.fps or 25.0, 2)


def film_info(src: str) -> MediaInfo:
    """A film's streams; a file ffmpeg cannot read, or one without a picture, is one line."""
    info = probe(src)
    if not info.has_video:
        raise UserError(f"{src} has no video stream (for sound alone use `mmdream audio`)")
    return info


def check_film_input(src: str, dst: str, opts: FilmOptions) -> MediaInfo:
    """The input's streams, with a picture, and a start within it (the options' own ranges are the spec's)."""
    info = film_info(src)
    if info.duration and opts.start >= info.duration:
        raise UserError(f"--start {opts.start:g} s is past the end of {src} ({info.duration:.2f} s)")
    return info
