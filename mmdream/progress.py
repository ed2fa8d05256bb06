"""The one progress convention: a caller's `progress(done, total, desc)`, called after each unit of work (tqdm on
the command line, a bar in the studio, anything in a notebook); pipelines see it as a `Progress` they `update`."""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[int, "int | None", str], None]


class Progress:
    """The convention seen from inside: pipelines call `update(n)` (tqdm's shape); the caller's
    `callback(done, total, desc)` hears about it."""

    def __init__(self, callback: ProgressFn | None, total: int | None, desc: str) -> None:
        self.callback, self.total, self.desc, self.done = callback, total, desc, 0

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.callback is not None:
            self.callback(self.done, self.total, self.desc)

    def write(self, line: str) -> None:
        """A line between updates (training prints each epoch's figures so)."""
        print(line)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> bool:
        return False


def bars(callback: ProgressFn | None) -> Callable[[int | None, str], Progress]:
    """A factory of Progress for a pipeline that opens several bars (a film's frames, its soundtrack)."""
    return lambda total, desc: Progress(callback, total, desc)
