"""The command line's check of one parsed command, before any work starts: every option against its range (see
mmdream.checks), input files, output locations, schedules; the first problem is raised as a UserError."""

from __future__ import annotations

import argparse
from pathlib import Path

from mmdream.checks import (
    AUDIO_SUFFIXES,
    IMAGE_SUFFIXES,
    MAX_SIZE,
    RANGES,
    VIDEO_SUFFIXES,
    check_number,
    check_output,
    cli_flag,
    cluster_options,
    film_lock,
    fits_channels,
    parse_pan,
)
from mmdream.errors import UserError
from mmdream.io_utils import check_input_file, check_not_same, is_locked
from mmdream.media.audio_source import GENERATED
from mmdream.media.ffmpeg import audio_input, is_stream
from mmdream.nets.registry import DEFAULT_TRAIN_BASE, check_train_size
from mmdream.options import BY_NAME


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
    if getattr(args, "value_range", None):  # the API takes it as part of the net's reference
        from mmdream.nets import is_model_file, with_range

        if not is_model_file(args.net):
            raise UserError(f"--value-range is for a model file given as --net (mine.keras), not {args.net}")
        args.net = with_range(args.net, args.value_range)
    if getattr(args, "schedule", None):
        from mmdream.schedule import Schedule

        Schedule.load(args.schedule)
    {"image": _image, "audio": _audio, "video": _video, "style": _style, "train": _train,
     "serve": _serve, "zoom": _zoom, "live": _live}.get(command, _none)(args)


def _none(args: argparse.Namespace) -> None:
    pass


def _serve(args: argparse.Namespace) -> None:
    from mmdream.studio.server import logins

    check_number("--port", args.port, 1, 65535)
    if args.share_folder and not Path(args.share_folder).expanduser().is_dir():
        raise UserError(f"--share-folder {args.share_folder} is not a folder")
    logins(args.host, args.auth, args.no_auth)
    if args.ray:
        cluster_options(args.ray, None, None, BY_NAME["max_segment"].default, 0.0, args.task_resources)


def _image(args: argparse.Namespace) -> None:
    from mmdream.media.picture import read_header

    read_header(args.input, args.max_pixels)
    if args.guide:
        read_header(args.guide, args.max_pixels)
    if args.sound:
        audio_input(args.sound)
    _links(args)
    check_output(args.output, IMAGE_SUFFIXES, "an image")
    check_not_same(args.input, args.output)


def _links(args: argparse.Namespace) -> None:
    """A user's table of links read before any net: its sections may name the sound net in use."""
    if getattr(args, "links", None):
        from mmdream.senses.links import read_links

        check_input_file(args.links)
        sound_net = args.net if args.command == "audio" else args.audio_net
        read_links(args.links, {sound_net: None})


def _audio(args: argparse.Namespace) -> None:
    from mmdream.media.picture import read_header

    if args.picture:
        read_header(args.picture)
    _links(args)
    out = check_output(args.output, AUDIO_SUFFIXES, "a sound")
    if args.input in GENERATED:
        return
    check_not_same(args.input, args.output)
    info = audio_input(args.input)
    fits_channels(out, info.audio_channels)


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
    _links(args)
    from mmdream.senses.steer import check_follow

    check_follow(getattr(args, "follow", None), args.input, info.has_audio, "none" if args.no_audio else "keep" if args.keep_audio
                 else "dream")
    if getattr(args, "ray", None) or getattr(args, "workers", None):
        cluster_options(args.ray, args.workers, args.threads, args.max_segment, args.gpus_per_task,
                        args.task_resources)
    lock, busy = film_lock(args.output)
    if is_locked(lock):
        raise UserError(busy)


def _zoom(args: argparse.Namespace) -> None:
    from mmdream.media.picture import read_header

    read_header(args.input)
    check_output(args.output, VIDEO_SUFFIXES, "a film")
    check_not_same(args.input, args.output)
    parse_pan(args.pan)
    if args.audio_ouroboros and not args.audio:
        raise UserError("--audio-ouroboros grows a sound: give --audio FILE, noise or sine")
    if args.audio and args.audio not in GENERATED:
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


def _style(args: argparse.Namespace) -> None:
    check_input_file(args.style)
    if args.kind == "image":
        from mmdream.media.picture import read_header

        read_header(args.input, getattr(args, "max_pixels", None))
        read_header(args.style, getattr(args, "max_pixels", None))
        check_output(args.output, IMAGE_SUFFIXES, "an image")
        check_not_same(args.input, args.output)
    elif args.kind == "audio":
        out = check_output(args.output, AUDIO_SUFFIXES, "a sound")
        check_not_same(args.input, args.output)
        fits_channels(out, audio_input(args.input).audio_channels)
        audio_input(args.style)
    else:
        _video(args)


def _train(args: argparse.Namespace) -> None:
    if args.kind == "image":
        check_train_size(args.base or DEFAULT_TRAIN_BASE["image"], args.size)
    data = Path(args.data)
    if not data.is_dir():
        raise UserError(f"{data} is not a folder of class sub-folders")
