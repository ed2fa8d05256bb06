"""File safety shared by every command: inputs are checked and never overwritten; outputs appear atomically."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from mmdream.errors import UserError


def check_input_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file")
    if p.is_dir():
        raise UserError(f"{p} is a folder, not a file")
    if p.stat().st_size == 0:
        raise UserError(f"{p} is empty")
    return p


def check_not_same(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Refuse to write over the input."""
    s, d = Path(src), Path(dst)
    if d.exists() and s.exists() and os.path.samefile(s, d):
        raise UserError(f"output {d} is the input; choose another name (mmdream never overwrites its input)")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix); rename it into place only on success."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise UserError(f"output folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
