"""Every number the page takes, declared once: its label, range and step build the page's slider or box, and the
same record checks what arrives, since an API client can send any JSON (NaN, 1e308, a string) past the widgets.
An error names the input by its label on the page, in one line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmdream.checks import check_number
from mmdream.errors import UserError
from mmdream.io_utils import error_line
from mmdream.studio.visitors import PageError


@dataclass(frozen=True)
class Field:
    label: str
    lo: float
    hi: float
    step: float | None = None  # a slider's step; None: a number box
    whole: bool = False
    empty: float | None = None  # what an emptied box means (None: it must be filled)

    def check(self, value: Any) -> float | int:
        """The value if it is a number in range (whole where it must be), else the page's one-line error."""
        if value is None and self.empty is not None:
            value = self.empty
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PageError(f"mmdream: error: {self.label} must be a number (got {str(value)[:40]!r})")
        try:
            check_number(self.label, value, self.lo, self.hi)
        except UserError as e:
            raise PageError(error_line(e)) from None
        if self.whole:
            if value != int(value):
                raise PageError(f"mmdream: error: {self.label} must be a whole number (got {value:g})")
            return int(value)
        return float(value)


DEPTH = Field("depth (0 shallow … 1 deep)", 0.0, 1.0, 0.05)
STRENGTH = Field("strength", 0.1, 4.0, 0.1)
SECONDS = 86_400.0

PICTURE = {
    "depth": DEPTH,
    "octaves": Field("octaves", 1, 8, 1, whole=True),
    "steps": Field("steps per octave", 1, 100, 1, whole=True),
    "strength": STRENGTH,
    "seed": Field("seed", 0, 2**32 - 1, whole=True),
    "max_size": Field("max size (px)", 64, 2048, 32, whole=True),
}
SOUND = {
    "depth": DEPTH,
    "steps": Field("steps per octave", 1, 100, 1, whole=True),
    "strength": STRENGTH,
    "duration": Field("seconds to dream (0: all)", 0.0, SECONDS, empty=0.0),
}
FILM = {
    "max_size": Field("max size (px)", 64, 1920, 16, whole=True),
    "start": Field("start (s)", 0.0, SECONDS, empty=0.0),
    "end": Field("end (s, 0: to the end)", 0.0, SECONDS, empty=0.0),
    "steps": Field("steps per octave (first frame)", 1, 50, 1, whole=True),
    "react": Field("react to the sound", 0.0, 1.0, 0.05),
}
STYLE_PICTURE = {
    "steps": Field("steps", 10, 500, 10, whole=True),
    "max_size": Field("max size (px)", 64, 1024, 32, whole=True),
}
STYLE_SOUND = {
    "steps": Field("steps", 10, 300, 10, whole=True),
    "duration": Field("seconds (0: all)", 0.0, SECONDS, empty=0.0),
}


def checked(fields: dict[str, Field], **values: Any) -> dict[str, float | int]:
    """Each value checked against its field; a field the page left empty is refused like any non-number."""
    return {name: fields[name].check(value) for name, value in values.items()}
