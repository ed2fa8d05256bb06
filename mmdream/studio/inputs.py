"""Every input the page takes, declared once. An option's input names the option and its label on the page: its
widget (a slider from the option's `slider`, else a box bounded by its range) comes from the option schema
(mmdream.options), and what arrives is checked by the command's spec (mmdream.specs), as the command line's
flags and the API's keywords are, since an API client can send any JSON past the widgets (NaN, 1e308, a
400-digit integer, a string for a number, a number for a name, a NUL, half a surrogate pair). An error names the
input by its label on the page, in one line. The page's own inputs (a depth that picks layers, a layer list, a
clip's name in the shared folder, the schedule editor's text) are checked here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmdream.checks import MAX_NAME_CHARS, check_number, check_text
from mmdream.errors import OptionError, UserError
from mmdream.io_utils import error_line
from mmdream.options import BY_NAME
from mmdream.schedule import MAX_SCHEDULE_CHARS
from mmdream.studio.visitors import PageError


@dataclass(frozen=True)
class OptionInput:
    """An input for one option of a command: the option's widget, under the page's label. `zero_is_none`: the box's
    0 means the option left out (a film's end: to the end; a sound's seconds: all of it)."""

    option: str
    label: str
    command: str
    zero_is_none: bool = False

    @property
    def slider(self) -> tuple[float, float, float] | None:
        return BY_NAME[self.option].slider

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """A box's bounds: the option's range for the command."""
        lo, hi, _ = BY_NAME[self.option].range_for(self.command) or (None, None, False)
        return lo, hi

    @property
    def whole(self) -> bool:
        return BY_NAME[self.option].type is int

    def value(self, sent: Any) -> Any:
        """What the page sent, as the option's value (checked by the spec)."""
        return None if self.zero_is_none and sent == 0 and not isinstance(sent, bool) else sent


@dataclass(frozen=True)
class Field:
    """A number the page takes for itself (not an option): its label, range and step, and its check."""

    label: str
    lo: float
    hi: float
    step: float | None = None  # a slider's step; None: a number box

    def check(self, value: Any) -> float:
        """The value if it is a number in range, else the page's one-line error."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PageError(f"mmdream: error: {self.label} must be a number (got {str(value)[:40]!r})")
        try:
            check_number(self.label, value, self.lo, self.hi)
        except UserError as e:
            raise PageError(error_line(e)) from None
        return float(value)


@dataclass(frozen=True)
class Text:
    """A text the page takes for itself: its label, its length."""

    label: str
    max_chars: int = MAX_NAME_CHARS
    lines: bool = False  # a text of lines (a schedule), not a name

    def check(self, value: Any) -> str | None:
        """The value if it is text of this kind (None where it was left empty), else the page's one-line error."""
        try:
            return check_text(self.label, value, self.max_chars, self.lines) or None
        except UserError as e:
            raise PageError(error_line(e)) from None

    def names(self, value: Any) -> list[str]:
        """A list of such texts (a multiple choice): each checked."""
        if value is None:
            return []
        if not isinstance(value, list):
            raise PageError(f"mmdream: error: {self.label} must be a list of names")
        return [name for v in value if (name := self.check(v))]


LAYERS = Text("layers")
CLIP = Text("clip in the shared folder", 4096)
SCHEDULE_TEXT = Text("schedule", MAX_SCHEDULE_CHARS, lines=True)
DEPTH = Field("depth (0 shallow … 1 deep)", 0.0, 1.0, 0.05)
WARM_STEPS = Field("warm steps (0: as many as fit a frame)", 0, 8, 1)
MODEL_RANGE = Text("value range", 40)
AS_THE_MODEL_SAYS = "as the model says"  # the value range's choice for a model that rescales its input itself
MODEL_RANGES = (AS_THE_MODEL_SAYS, "0,1", "-1,1", "0,255")


def inputs(command: str, **labels: str | tuple[str, bool]) -> dict[str, OptionInput]:
    """A tab's option inputs: option -> its label (or (label, zero_is_none))."""
    out = {}
    for name, label in labels.items():
        text, zero_is_none = (label, False) if isinstance(label, str) else label
        out[name] = OptionInput(name, text, command, zero_is_none)
    return out


PICTURE = inputs("image", octaves="octaves", steps="steps per octave", strength="strength", seed="seed",
                 max_size="max size (px)", net="net", target="target")
SOUND = inputs("audio", steps="steps per octave", strength="strength", duration=("seconds to dream (0: all)", True),
               net="net", target="target")
FILM = inputs("video", max_size="max size (px)", start="start (s)", end=("end (s, 0: to the end)", True),
              steps="steps per octave (first frame)", react="react to the sound", net="net", audio_net="sound net",
              follow="follow")
STYLE_PICTURE = inputs("style image", style_steps="steps", max_size="max size (px)", net="net")
STYLE_SOUND = inputs("style audio", audio_style_steps="steps", duration=("seconds (0: all)", True))
LIVE = inputs("live", net="net", strength="strength", max_size="max size (px)")
EXPLAIN = inputs("explain", net="net", classes="class", channel="channels (LAYER:N,N)", steps="steps",
                 max_size="size (px)", diversity="different pictures of each")


def page_spec(command: str, taken: dict[str, OptionInput], **values: Any):
    """The command's spec from the page's values (mmdream.specs: the one check), an input's error naming it by its
    label on the page."""
    from mmdream.specs import make_spec

    sent = {name: taken[name].value(v) if name in taken else v for name, v in values.items()}
    try:
        return make_spec(command, sent)
    except OptionError as e:
        label = taken[e.option].label if e.option in taken else e.option
        raise PageError(f"mmdream: error: {e.spelled(label)}") from None
    except UserError as e:
        raise PageError(error_line(e)) from None
