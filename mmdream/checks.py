"""The vocabulary every layer checks against: the file suffixes, each numeric option's range,
output locations, the film's work folder and lock, a cluster render's options.

This module imports neither TensorFlow nor a net, so a bad argument is answered at once with one line. The
command line's own check of a parsed command is mmdream.cli.checks; the library checks again where the work
happens (it is called directly too).
"""

from __future__ import annotations

import math
import numbers
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from mmdream.errors import UserError
from mmdream.io_utils import describe_os_error

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".m4v"}


# Channels each lossy container/codec keeps (mp3 is stereo at most; the rest carry 5.1).
MAX_CHANNELS = {".mp3": 2}



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


MAX_NAME_CHARS = 1_000  # a net's, a class's or a layer list's name; a file's name in a folder
# What no name or text of a user's holds: NUL and the other control characters, and halves of a surrogate pair (which
# no file, page or terminal can write). Newlines and tabs only where the text has lines (a schedule).
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_NOT_A_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def check_text(name: str, value: object, max_chars: int = MAX_NAME_CHARS, lines: bool = False) -> str | None:
    """A text option (a net's or a class's name, layers, a file's name, a schedule's text) as the API, the command
    line and the studio all take it: None, or a string of at most `max_chars` characters holding no control
    character (newlines and tabs where it has `lines`) and no half of a surrogate pair."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise UserError(f"{name} must be text, not {type(value).__name__} {str(value)[:40]!r}")
    if len(value) > max_chars:
        raise UserError(f"{name} is {len(value):,} characters long; it may have at most {max_chars:,}")
    if bad := (_NOT_TEXT if lines else _NOT_A_LINE).search(value):
        raise UserError(f"{name} holds a character that is not text (U+{ord(bad.group()):04X})")
    return value


# How deep a user's TOML may nest its keys (`a.b.c`), tables and arrays: a schedule needs 2 (`[keyframe.audio]`), a
# table of links 2. TOML's parser takes time and memory that grow with the square of a dotted key's depth (a 600 kB
# key of 300,000 parts took over 24 GB), so depth is measured first, in one pass over the text's tokens.
MAX_TOML_DEPTH = 8
_TOML_TOKEN = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|'
                         r'[\n\[\]{}=,.]|[^\s"\'#\[\]{}=,.]+|[ \t\r]+', re.S)


def toml_depth(text: str, limit: int = MAX_TOML_DEPTH) -> int:
    """How deep `text` nests (dotted key parts, and arrays or inline tables inside each other), counted up to just
    past `limit`: a lexical pass, linear in the text, that never builds what the text describes."""
    deepest, header, parts, keys, stack = 1, 0, 1, True, []
    for m in _TOML_TOKEN.finditer(text):
        t = m.group()
        if t == "\n":
            if not stack:
                keys, parts = True, 1
        elif t == "[" and keys and not stack:  # a table header's bracket: its name is keys
            header += 1
        elif t in "[{":
            stack.append(t)
            keys, parts = t == "{", 1
        elif t in "]}":
            if header:
                header -= 1
            elif stack:
                stack.pop()
                keys = False
        elif t == "=":
            keys = False
        elif t == "," and stack and stack[-1] == "{":
            keys, parts = True, 1
        elif t == "." and keys:
            parts += 1
        deepest = max(deepest, parts, len(stack))
        if deepest > limit:
            break
    return deepest


def parse_toml(text: str, path: str | Path, what: str, max_chars: int) -> dict:
    """A user's TOML (a schedule, a table of links) as a dict; too long, not text, nested too deeply (checked before
    the parser sees it) or invalid is a one-line error naming `path` and `what` it should be."""
    import tomllib

    if not isinstance(text, str):
        raise UserError(f"{path} must be text, not {type(text).__name__}")
    if len(text) > max_chars:
        raise UserError(f"{path} is {len(text):,} characters long; {what} may have at most {max_chars:,}")
    check_text(str(path), text, max_chars, lines=True)
    if toml_depth(text) > MAX_TOML_DEPTH:
        raise UserError(f"{path} nests its arrays or tables too deeply to be {what}")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path} is not valid TOML ({e})") from None
    except ValueError as e:  # a number Python will not read (an integer of over 4300 digits)
        raise UserError(f"{path} is not valid TOML ({str(e).split(';')[0]})") from None
    except RecursionError:
        raise UserError(f"{path} nests its arrays or tables too deeply to be {what}") from None


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
    """The cluster's options (their values checked by the spec, mmdream.specs), with Ray there to run them."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise UserError("a cluster render needs Ray: pip install 'mmdream[cluster]'")
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
