"""File safety shared by every command: inputs are checked and never overwritten; outputs appear atomically."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
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


TEMP_MARK = re.compile(r"^\..+\.(?:partial|mmdream-tmp)-(\d+)")  # .NAME.partial-PID.ext, .NAME.mmdream-tmp-PID-*


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix); rename it into place only on success. Temporaries that
    a killed run left in the folder are removed first."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise UserError(f"output folder {path.parent} does not exist")
    remove_stale_temporaries(path.parent)
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def mount_point(path: str | os.PathLike) -> Path:
    """The mount point holding `path` (the folder a user knows as "the disk")."""
    p = Path(os.path.abspath(path))
    while not p.exists():
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return p


def disk_full(path: str | os.PathLike, margin: int = 1 << 20) -> bool:
    """Whether the disk holding `path` has less than `margin` bytes left."""
    try:
        st = os.statvfs(mount_point(path))
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < margin


def write_failure(path: str | os.PathLike) -> OSError:
    """The OSError for a write that failed without saying why (cv2.imwrite returns False): a full disk if it is."""
    code = errno.ENOSPC if disk_full(path) else errno.EIO
    return OSError(code, os.strerror(code), str(path))


def describe_os_error(e: BaseException, path: str | os.PathLike) -> str | None:
    """A write failure at `path` in a user's terms; None for errors that mean a bug rather than a fault. Errors
    that carry no errno (an encoder's broken pipe, libsndfile's "System error") count as a full disk if it is."""
    folder = Path(path).parent
    code = getattr(e, "errno", None)
    if code in (None, errno.EPIPE, errno.EIO) and disk_full(path):
        code = errno.ENOSPC
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on {mount_point(path)} (writing {path})"
    if code == errno.EROFS:
        return f"output folder {folder} is read-only (writing {path})"
    if code in (errno.EACCES, errno.EPERM):
        return f"no permission to write in {folder} (writing {path})"
    return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_SWEPT: set[str] = set()


def remove_stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Remove the temporary files and folders of mmdream processes that no longer run (a `kill -9` leaves them);
    once per folder and process (a film's frame folder is written thousands of times)."""
    removed: list[str] = []
    key = os.path.abspath(folder)
    if key in _SWEPT:
        return removed
    _SWEPT.add(key)
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            m = TEMP_MARK.match(entry.name)
            if m and int(m[1]) != os.getpid() and not pid_alive(int(m[1])):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                removed.append(entry.name)
    return removed


@contextlib.contextmanager
def temporary_folder(beside: str | os.PathLike) -> Iterator[Path]:
    """A private work folder beside an output, removed afterwards (same disk as the output; if a kill leaves it,
    the next run in that folder removes it)."""
    beside = Path(beside)
    remove_stale_temporaries(beside.parent)
    folder = beside.with_name(f".{beside.stem}.mmdream-tmp-{os.getpid()}-{os.urandom(3).hex()}")
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def exclusive(lock_path: str | os.PathLike, busy: str) -> Iterator[None]:
    """Hold an advisory lock on `lock_path` (released by the OS if the process dies); `busy` is the error when
    another process holds it."""
    import fcntl

    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(busy) from None
        yield
    finally:
        os.close(fd)


def check_finite(x, what: str) -> None:
    """Nothing non-finite reaches a file: a diverged result is an error, not an output."""
    import numpy as np

    if not np.isfinite(x).all():
        raise non_finite(what)


def non_finite(what: str) -> UserError:
    return UserError(f"{what} became non-finite (NaN or Inf); lower --step-size or --strength")


def is_locked(lock_path: str | os.PathLike) -> bool:
    """Whether another process holds `exclusive(lock_path)` now (creates nothing)."""
    import fcntl

    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def error_line(e: BaseException, path: str | os.PathLike | None = None) -> str | None:
    """The one line the CLI prints for `e` (the studio shows the same), or None where `e` means a bug: a
    UserError, or a write failure (a full disk, a folder made read-only) at `path` or at the file `e` names."""
    if isinstance(e, UserError):
        return f"mmdream: error: {e}"
    if isinstance(e, OSError | RuntimeError):
        where = getattr(e, "filename", None) or path
        if where is not None and (reason := describe_os_error(e, where)) is not None:
            return f"mmdream: error: {reason}"
    return None
