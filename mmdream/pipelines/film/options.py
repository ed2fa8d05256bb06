"""A film render's options, and the key that says whether a rerun continues the same job."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from mmdream.core.engine import DreamSettings
from mmdream.errors import UserError
from mmdream.media.ffmpeg import MediaInfo
from mmdream.options import DREAM_DEFAULTS, READ_FILES

# A cold frame (the first, and after a cut) gets the classic recipe: 4 octaves x1.4, 10 steps.
FILM_DEFAULTS = DreamSettings(**DREAM_DEFAULTS["film"])


@dataclass
class FilmOptions:
    max_size: int = 640  # processing (and output) size of the long side
    start: float = 0.0
    end: float | None = None
    # Continuing frames carry the previous dream along the flow (bicubic, see flow.warp) and add one full-size
    # step: measured with scripts/bench.py, the dream settles about as deep as the classic per-frame recipe's
    # (4 octaves x 10 steps) at a tenth of its cost or less. A coarser warm octave adds little depth for its cost.
    blend: float = 0.99  # share of the previous frame's warped dream detail carried into the next frame
    warm_steps: int | None = None  # steps per octave on a continuing frame (default 1 for dreams)
    cut: float = 40.0  # grey-level change (0..255) the flow cannot explain that restarts the pyramid
    flow: bool = True  # False: every frame is dreamed from scratch (the classic per-frame recipe)
    react: float = 0.0  # how much the soundtrack's onset envelope modulates the visual strength
    fps: float | None = None  # dream and write at this frame rate (None: the input's)
    # The objective gain is measured on cold frames and every n-th frame (0: cold frames alone, as the CLI does
    # without --report: two forward passes cost a sixth of a lite0 frame's time over eight frames; None: never,
    # as live does, whose report has no objective and whose first dream keeps the viewer waiting).
    measure_every: int | None = 8
    warm_strength: float = 1.5  # step size of a continuing frame's steps, relative to the schedule's
    warm_octaves: int = 1  # octaves of a continuing frame (1: full size only)
    # A continuing frame is dreamed at this share of the processing size, its change brought back up (live
    # lowers it when one step at full size does not fit a frame interval; the output keeps its size).
    warm_scale: float = 1.0
    # Live: cold dreams too at warm_scale. A full-size pyramid that takes seconds leaves the next frame to dream so
    # far on that the flow cannot explain it; it counts as a cut, and every dream would stay cold.
    cold_at_warm_scale: bool = False
    audio: str = "dream"  # dream | keep | none
    griffin_lim: int = 0
    preview: str | None = None
    keep_work: bool = False


def film_options(*, max_size: int = 640, start: float = 0.0, end: float | None = None, fps: float | None = None,
                 blend: float | None = None, warm_steps: int | None = None, warm_strength: float | None = None,
                 warm_octaves: int | None = None, cut: float = 40.0, flow: bool = True, react: float = 0.0,
                 audio: str = "dream", griffin_lim: int = 0, preview: str | None = None,
                 keep_work: bool = False, measure_every: int | None = 8) -> FilmOptions:
    """FilmOptions from the film's options as the CLI and the API name them (None: the default)."""
    if audio not in ("dream", "keep", "none"):
        raise UserError(f"audio must be dream, keep or none, not {audio!r}")
    given = {k: v for k, v in {"blend": blend, "warm_strength": warm_strength, "warm_octaves": warm_octaves}.items()
             if v is not None}
    return FilmOptions(max_size=max_size, start=start, end=end, warm_steps=warm_steps, cut=cut, flow=flow,
                       react=react, audio=audio, griffin_lim=griffin_lim, preview=preview, keep_work=keep_work,
                       fps=fps, measure_every=measure_every, **given)


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
