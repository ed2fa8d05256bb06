"""One error type for problems the user can fix: the CLI prints it on one line and exits with status 2."""

from __future__ import annotations

import os


class UserError(ValueError):
    """Bad input or a missing resource, explained in one line (a ValueError to library callers)."""


def error_line(e: BaseException, path: str | os.PathLike | None = None) -> str | None:
    """The one line the CLI prints for `e` (the studio shows the same), or None where `e` means a bug: a
    UserError, or a write failure (a full disk, a folder made read-only) at `path` or at the file `e` names."""
    if isinstance(e, UserError):
        return f"mmdream: error: {e}"
    if isinstance(e, OSError | RuntimeError):
        from mmdream.io_utils import describe_os_error

        where = getattr(e, "filename", None) or path
        if where is not None and (reason := describe_os_error(e, where)) is not None:
            return f"mmdream: error: {reason}"
    return None
