"""Everything a command can be told wrong, checked before any work starts: numeric options, input files, output
locations (suffix, folder, writable, not the input), report and preview paths, schedules.

This module imports neither TensorFlow nor a net, so a bad argument is answered at once with one line. The
commands check again where the work happens (the library is called directly too); here the point is to fail first.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from mmdream.errors import UserError
from mmdream.io_utils import check_input_file, check_not_same, describe_os_error, is_locked
from mmdream.media.ffmpeg import is_stream

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".m4v"}
# Channels each lossy container/codec keeps (mp3 is stereo at most; the rest carry 5.1).
MAX_CHANNELS = {".mp3": 2}
# The smallest side each image net takes end to end (InceptionV3's valid-padded stem and pools need 75 px, VGG's
# five pools 32; Lite0 pads every stride). Measured with random weights, logits included.
MIN_SIZE = {"inception_v3": 75, "vgg16": 32, "vgg19": 32, "efficientnet_lite0": 1}

# flag: (lowest, highest, lowest excluded). None: unbounded on that side.
RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "octaves": (1, 12, False), "octave_scale": (1.0, 4.0, False), "steps": (0, 10_000, False),
    "step_size": (0.0, 1.0, True), "jitter": (0, 1024, False), "smooth": (0.0, 50.0, False),
    "tile_size": (32, 8192, False), "strength": (0.0, 100.0, False), "seed": (0, 2**32 - 1, False),
    "max_pixels": (1, None, False), "duration": (0.0, 86_400.0, True), "loudness": (-70.0, 0.0, False),
    "griffin_lim": (0, 1000, False), "ouroboros": (1, 100, False), "fps": (0.0, 240.0, True),
    "start": (0.0, None, False), "blend": (0.0, 1.0, False), "warm_steps": (0, 1000, False),
    "warm_strength": (0.0, 100.0, True), "warm_octaves": (1, 12, False), "cut": (0.0, 255.0, False),
    "react": (0.0, 10.0, False), "content_weight": (0.0, None, False), "style_weight": (0.0, None, False),
    "tv_weight": (0.0, None, False), "temporal_weight": (0.0, None, False), "style_steps": (1, 10_000, False),
    "learning_rate": (0.0, 10.0, True), "scales": (0, 10, False), "filters": (1, 65_536, False),
    "audio_style_steps": (1, 10_000, False), "style_griffin_lim": (0, 1000, False), "epochs": (1, 10_000, False),
    "fine_tune": (0, 10_000, False), "batch_size": (1, 4096, False), "val_fraction": (0.0, 0.9, True),
    "patience": (1, 10_000, False), "window": (0.0, 600.0, True), "size": (1, 4096, False),
    "threads": (1, 256, False), "workers": (1, 1024, False), "max_segment": (8, 10**7, False),
    "gpus_per_task": (0.0, 64.0, False), "seconds": (0.0, 86_400.0, True), "zoom": (0.8, 1.25, False),
    "rotate": (-45.0, 45.0, False), "colour_pull": (0.0, 1.0, False), "detail_decay": (0.0, 1.0, False),
}
MAX_SIZE = {"image": (0, 16_384), "video": (16, 8192), "style": (16, 8192), "zoom": (16, 8192)}


def check_number(name: str, value: float | None, lo: float | None, hi: float | None, lo_open: bool = False) -> None:
    """One numeric option within its range (finite, and not NaN); `name` as the caller spells it (`--step-size` on
    the command line, `step_size` in the API and in schedules)."""
    if value is None:
        return
    if not math.isfinite(value):
        raise UserError(f"{name} must be a finite number, not {value}")
    low_bad = lo is not None and (value <= lo if lo_open else value < lo)
    if low_bad or (hi is not None and value > hi):
        low = "" if lo is None else f"{'above' if lo_open else 'at least'} {lo:g}"
        high = "" if hi is None else f"at most {hi:g}"
        raise UserError(f"{name} must be {' and '.join(p for p in (low, high) if p)} (got {value:g})")


def check_options(**values: float | None) -> None:
    """Options by their API names (`step_size=...`), each against its range in RANGES."""
    for name, value in values.items():
        check_number(name, value, *RANGES[name])


def parse_pan(pan: str | tuple[float, float]) -> tuple[float, float]:
    """(dx, dy) from a pair or "DX,DY"."""
    try:
        dx, dy = (float(v) for v in (pan.split(",") if isinstance(pan, str) else pan))
    except (TypeError, ValueError):
        raise UserError(f"pan must be two numbers DX,DY (pixels per frame), not {pan!r}") from None
    for name, v in (("pan x", dx), ("pan y", dy)):
        check_number(name, v, -100.0, 100.0)
    return dx, dy


def check_train_size(base: str, size: int) -> None:
    """An image training size the base net takes end to end."""
    least = MIN_SIZE.get(base, 1)
    if size < least:
        raise UserError(f"--size {size} is below the {least} px {base} takes; use --size {least} or more")


def cli_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_output(path: str, suffixes: set[str], what: str) -> Path:
    """An output path: a known suffix, an existing folder that can be written to."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise UserError(f"cannot write {what} as {p.suffix or 'an extensionless file'}; use "
                        f"{', '.join(sorted(suffixes))}")
    if p.is_dir():
        raise UserError(f"output {p} is a folder; give a file name")
    folder = p.parent
    if not folder.is_dir():
        raise UserError(f"output folder {folder} does not exist")
    probe = folder / f".mmdream-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UserError(describe_os_error(e, p) or f"cannot write in {folder} ({e.strerror})") from None
    return p


def validate(args: argparse.Namespace) -> None:
    """All checks for one parsed command line; raises UserError on the first problem."""
    for flag, (lo, hi, lo_open) in RANGES.items():
        check_number(cli_flag(flag), getattr(args, flag, None), lo, hi, lo_open)
    command = args.command
    if (size := getattr(args, "max_size", None)) is not None and command in MAX_SIZE:
        lo, hi = MAX_SIZE[command]
        check_number("--max-size", size, lo, hi)
    end = getattr(args, "end", None)
    if end is not None and end <= getattr(args, "start", 0.0):
        raise UserError(f"--end must come after --start (got --start {args.start:g}, --end {end:g})")
    for flag, suffixes in (("report", {".json"}), ("preview", {".png", ".jpg"}), ("plot", {".png"})):
        if getattr(args, flag, None):
            check_output(getattr(args, flag), suffixes, f"the --{flag}")
    if getattr(args, "schedule", None):
        from mmdream.schedule import Schedule

        Schedule.load(args.schedule)
    {"image": _image, "audio": _audio, "video": _video, "style": _style, "train": _train,
     "serve": _serve, "zoom": _zoom, "live": _live}.get(command, _none)(args)


def _none(args: argparse.Namespace) -> None:
    pass


def _serve(args: argparse.Namespace) -> None:
    check_number("--port", args.port, 1, 65535)
    if args.share_folder and not Path(args.share_folder).expanduser().is_dir():
        raise UserError(f"--share-folder {args.share_folder} is not a folder")


def _image(args: argparse.Namespace) -> None:
    from mmdream.pipelines.image import read_header

    read_header(args.input, args.max_pixels)
    if args.guide:
        read_header(args.guide, args.max_pixels)
    check_output(args.output, IMAGE_SUFFIXES, "an image")
    check_not_same(args.input, args.output)


def _audio(args: argparse.Namespace) -> None:
    out = check_output(args.output, AUDIO_SUFFIXES, "a sound")
    if args.input in ("noise", "sine"):
        return
    check_not_same(args.input, args.output)
    info = audio_input(args.input)
    _fits_channels(out, info.audio_channels)


def audio_input(path: str):
    """Probe a sound input; a file without sound is an error."""
    from mmdream.media.ffmpeg import probe

    info = probe(path)
    if not info.has_audio:
        raise UserError(f"{path} has no audio stream")
    return info


def _fits_channels(out: Path, channels: int | None) -> None:
    limit = MAX_CHANNELS.get(out.suffix.lower())
    if limit and channels and channels > limit:
        raise UserError(f"{out.suffix} holds at most {limit} channels and the input has {channels}; write .flac, "
                        ".wav, .ogg, .opus or .m4a to keep them")


def _video(args: argparse.Namespace) -> None:
    from mmdream.media.ffmpeg import probe

    check_output(args.output, VIDEO_SUFFIXES, "a film")
    check_not_same(args.input, args.output)
    info = probe(args.input)
    if not info.has_video:
        raise UserError(f"{args.input} has no video stream (for sound alone use `mmdream audio`)")
    if info.duration and args.start >= info.duration:
        raise UserError(f"--start {args.start:g} s is past the end of {args.input} ({info.duration:.2f} s)")
    for flag in ("style", "audio_style"):
        if getattr(args, flag, None):
            check_input_file(getattr(args, flag))
    if getattr(args, "ray", None) or getattr(args, "workers", None):
        from mmdream.cluster import cluster_options

        cluster_options(args.ray, args.workers, args.threads, args.max_segment, args.gpus_per_task,
                        args.preview, None)
    lock, busy = film_lock(args.output)
    if is_locked(lock):
        raise UserError(busy)


def _zoom(args: argparse.Namespace) -> None:
    from mmdream.pipelines.image import read_header

    read_header(args.input)
    check_output(args.output, VIDEO_SUFFIXES, "a film")
    check_not_same(args.input, args.output)
    parse_pan(args.pan)
    if args.audio_ouroboros and not args.audio:
        raise UserError("--audio-ouroboros grows a sound: give --audio FILE, noise or sine")
    if args.audio and args.audio not in ("noise", "sine"):
        check_not_same(args.audio, args.output)
        audio_input(args.audio)
    lock, busy = film_lock(args.output)
    if is_locked(lock):
        raise UserError(busy)


def _live(args: argparse.Namespace) -> None:
    check_number("--deadline", args.deadline, 0.0, 10.0, True)
    check_number("--max-size", args.max_size, *MAX_SIZE["video"])
    if not is_stream(args.input) and not args.input.startswith("/dev/video"):
        from mmdream.media.ffmpeg import probe

        info = probe(args.input)
        if not info.has_video:
            raise UserError(f"{args.input} has no video stream")
        if args.audio and not info.has_audio:
            raise UserError(f"{args.input} has no audio stream to dream (leave out --audio)")
    if not is_stream(args.output):
        check_output(args.output, VIDEO_SUFFIXES | {".ts"}, "a film")
        check_not_same(args.input, args.output)


def work_folder(output: str | os.PathLike) -> Path:
    """Where a film render of `output` keeps its finished frames (beside it, hidden)."""
    out = Path(output)
    return out.with_name(f".{out.stem}.mmdream-work")


def film_lock(output: str | os.PathLike) -> tuple[Path, str]:
    """The lock file a film render of `output` holds, and the error a second render of it gets."""
    out = Path(output)
    return (out.with_name(f".{out.stem}.mmdream-lock"),
            f"another mmdream is rendering {out} now (work folder {work_folder(out)}); wait for it to finish or "
            "choose another output")


def _style(args: argparse.Namespace) -> None:
    check_input_file(args.style)
    if args.kind == "image":
        from mmdream.pipelines.image import read_header

        read_header(args.input, getattr(args, "max_pixels", None))
        read_header(args.style, getattr(args, "max_pixels", None))
        check_output(args.output, IMAGE_SUFFIXES, "an image")
        check_not_same(args.input, args.output)
    elif args.kind == "audio":
        out = check_output(args.output, AUDIO_SUFFIXES, "a sound")
        check_not_same(args.input, args.output)
        _fits_channels(out, audio_input(args.input).audio_channels)
        audio_input(args.style)
    else:
        _video(args)


def _train(args: argparse.Namespace) -> None:
    if args.kind == "image":
        check_train_size(args.base or "efficientnet_lite0", args.size)
    data = Path(args.data)
    if not data.is_dir():
        raise UserError(f"{data} is not a folder of class sub-folders")
