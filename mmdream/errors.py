"""One error type for problems the user can fix: the CLI prints it on one line and exits with status 2."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input or a missing resource, explained in one line (a ValueError to library callers)."""
