"""The vocabulary every layer checks against: the file suffixes and the modalities, each numeric option's range,
output locations, the film's work folder and lock, a cluster render's options.

This module imports neither TensorFlow nor a net, so a bad argument is answered at once with one line. The
command line's own check of a parsed command is mmdream.cli.checks; the library checks again where the work
happens (it is called directly too).
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path

from mmdream.errors import UserError
from mmdream.io_utils import describe_os_error
from mmdream.options import RANGES

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".m4v"}


@dataclass(frozen=True)
class Modality:
    """A medium a net dreams, in the words every layer checks against; code that takes a kind (training, the
    CLI's summary) reads its facts here instead of branching on its name."""

    name: str  # the kind's word on the command line and in a net's record
    writes: frozenset[str]  # suffixes an output may take
    reads: frozenset[str]  # suffixes a training file may take (ffmpeg decodes a sound from a film too)
    example: str  # what one training example is: a picture, or a window of a clip


MODALITIES = {m.name: m for m in (
    Modality("image", frozenset(IMAGE_SUFFIXES), frozenset(IMAGE_SUFFIXES), "images"),
    Modality("audio", frozenset(AUDIO_SUFFIXES), frozenset(AUDIO_SUFFIXES | {".aif", ".aiff", ".webm", ".mp4"}),
             "windows"))}

# Channels each lossy container/codec keeps (mp3 is stereo at most; the rest carry 5.1).
MAX_CHANNELS = {".mp3": 2}

MAX_SIZE = {"image": (0, 16_384), "video": (16, 8192), "style": (16, 8192), "zoom": (16, 8192)}


def check_number(name: str, value: float | None, lo: float | None, hi: float | None, lo_open: bool = False) -> None:
    """One numeric option within its range (finite, and not NaN); `name` as the caller spells it (`--step-size` on
    the command line, `step_size` in the API and in schedules)."""
    if value is None:
        return
    if not isinstance(value, numbers.Real):  # from the API: a string is not a number
        raise UserError(f"{name} must be a number, not {value!r:.40}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond a float's range is beyond every option's
        raise UserError(f"{name} must be a number within its range, not an integer of "
                        f"{len(str(abs(value)))} digits") from None
    if not math.isfinite(number):
        raise UserError(f"{name} must be a finite number, not {value}")
    low_bad = lo is not None and (number <= lo if lo_open else number < lo)
    if low_bad or (hi is not None and number > hi):
        low = "" if lo is None else f"{'above' if lo_open else 'at least'} {lo:g}"
        high = "" if hi is None else f"at most {hi:g}"
        raise UserError(f"{name} must be {' and '.join(p for p in (low, high) if p)} (got {number:g})")


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


def fits_channels(out: Path, channels: int | None) -> None:
    """An output format that keeps the input's channel count (mp3 holds two at most)."""
    limit = MAX_CHANNELS.get(out.suffix.lower())
    if limit and channels and channels > limit:
        raise UserError(f"{out.suffix} holds at most {limit} channels and the input has {channels}; write .flac, "
                        ".wav, .ogg, .opus or .m4a to keep them")


@dataclass
class ClusterOptions:
    address: str | None = None  # "auto", "ray://host:10001", "host:6379"; None with `workers`
    workers: int | None = None  # start a local cluster of this many workers
    threads: int = 1  # intra-op threads (and CPUs asked) per task
    max_segment: int = 300
    gpus_per_task: float = 0.0
    resources: dict[str, float] = field(default_factory=dict)  # custom Ray resources each task asks for

    def key(self) -> dict:
        """What changes the film: the split (the thread count is in the recipe)."""
        return {"max_segment": self.max_segment}


def cluster_options(address: str | None, workers: int | None, threads: int | None, max_segment: int,
                    gpus_per_task: float, task_resources: str | None = None) -> ClusterOptions:
    """The cluster's options, checked before anything loads (the CLI's names in its errors)."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise UserError("a cluster render needs Ray: pip install 'mmdream[cluster]'")
    if address is not None and workers is not None:
        raise UserError("give --ray ADDRESS to join a cluster or --workers N to start one here, not both")
    check_options(workers=workers, max_segment=max_segment, gpus_per_task=gpus_per_task, threads=threads)
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // workers) if workers else 1
    return ClusterOptions(address, workers, threads, max_segment, gpus_per_task, parse_resources(task_resources))


def parse_resources(text: str | None) -> dict[str, float]:
    """`--task-resources render=1,big_memory=0.5` as {name: amount}."""
    out: dict[str, float] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, eq, amount = part.partition("=")
        try:
            value = float(amount) if eq else float("nan")
        except ValueError:
            value = float("nan")
        if not name.strip() or not value > 0 or name.strip() in ("CPU", "GPU", "memory"):
            raise UserError(f"bad --task-resources part {part.strip()!r}; give NAME=AMOUNT with a custom resource "
                            "and an amount above 0 (CPUs and GPUs: --threads, --gpus-per-task)")
        out[name.strip()] = value
    return out
