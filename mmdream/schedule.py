"""One schedule of octaves, layers and strength over time, shared by the picture and the sound of a dream film.

A schedule is a list of keyframes in seconds, read from TOML (`--schedule film.toml`) or made from plain CLI flags
(one keyframe). Between keyframes, numbers are interpolated linearly and layer weights cross-fade. Layers may be
named per net (`image_layers`, `audio_layers`) or given once as `layers`, where a number in [0, 1] is a *depth*
that maps to the same relative depth of whichever image and audio nets are in use: "go deeper at 0:12" means the
same for picture and sound. Per-kind tables (`[keyframe.image]`, `[keyframe.audio]`) override shared values.

    [[keyframe]]
    time = 0
    layers = 0.4
    strength = 0.5

    [[keyframe]]
    time = "0:12"          # m:ss, or seconds
    layers = "0.8"         # deeper, for both nets
    strength = 1.5
    steps = 10
    [keyframe.audio]
    step_size = 0.08
    style = "after"        # with --style / --audio-style: a style pass after dreaming from here on
    follow_weight = 2      # with --follow: how hard the picture follows the sound (and the sound the picture)
    follow_threshold = 0.2 # ... and the confidence a heard or seen class needs to count

`mmdream zoom` also reads `zoom` (scale per frame) and `rotate` (degrees per frame): its camera, interpolated like
the rest (`Moment.camera`).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmdream.checks import check_number, parse_toml
from mmdream.errors import UserError
from mmdream.options import BY_NAME, RANGES

MAX_SCHEDULE_CHARS = 1_000_000

if TYPE_CHECKING:
    from mmdream.core.engine import DreamSettings
    from mmdream.nets import Net

# The keyframe keys that are options too, typed as the option schema declares them.
NUMBERS = {name: BY_NAME[name].type for name in ("octaves", "octave_scale", "steps", "step_size", "strength",
                                                  "follow_weight", "follow_threshold")}
WEIGHTS = ("strength", "follow_weight", "follow_threshold")  # keyframe numbers that are no dream setting
CAMERA = {"zoom": 1.0, "rotate": 0.0}  # a zoom's camera per frame, and its values when nothing sets them
KINDS = ("image", "audio")
STYLE_WHEN = ("before", "after", "none")
KNOWN = {"time", "layers", "image_layers", "audio_layers", "style", *NUMBERS, *CAMERA, *KINDS}
EXAMPLE = Path(__file__).parent / "schedules" / "film.toml"  # a commented example (the studio's editor opens it)


@dataclass
class Keyframe:
    time: float
    values: dict[str, Any]  # shared values
    per_kind: dict[str, dict[str, Any]]  # "image"/"audio" -> values overriding the shared ones

    def get(self, kind: str, key: str) -> Any:
        own = self.per_kind.get(kind, {})
        if key in own:
            return own[key]
        if key == "layers" and f"{kind}_layers" in self.values:
            return self.values[f"{kind}_layers"]
        return self.values.get(key)


@dataclass
class Moment:
    """The schedule resolved for one net at one time: what a frame or a chunk is dreamed with."""

    settings: DreamSettings
    strength: float
    layers: dict[str, float]
    style: str | None = None  # "before" / "after" / "none": a style pass around the dream (held, not blended)
    camera: dict[str, float] = field(default_factory=dict)  # zoom and rotate per frame (mmdream zoom)
    # A cross-modal dream's class target (weights over the net's classes) and how hard it is followed (see
    # mmdream.senses): what the other net perceives now, times the schedule's follow_weight.
    target: Any = None
    follow: float = 0.0
    follow_threshold: float = 0.0  # the confidence a perceived class needs to count (the schedule's key)


def parse_time(value: Any) -> float:
    """Seconds from a number or "m:ss(.s)" / "h:mm:ss"."""
    if isinstance(value, bool):
        raise UserError(f"bad keyframe time {value!r}; use seconds or m:ss")
    try:
        if isinstance(value, (int, float)):
            return float(value)
        parts = [float(p) for p in str(value).split(":")]
    except OverflowError:  # an integer beyond a float's range
        raise UserError(f"keyframe time of {len(str(value))} digits is beyond any film; use seconds or m:ss") from None
    except ValueError:
        raise UserError(f"bad keyframe time {value!r}; use seconds or m:ss") from None
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


class Schedule:
    """Keyframes sorted by time. `resolve` binds it to one net and that net's default settings."""

    def __init__(self, keyframes: list[Keyframe]) -> None:
        if not keyframes:
            raise UserError("a schedule needs at least one keyframe")
        self.keyframes = sorted(keyframes, key=lambda k: k.time)
        self.times = [k.time for k in self.keyframes]

    @classmethod
    def single(cls, layers: str | None = None, strength: float = 1.0) -> Schedule:
        """The one-keyframe schedule plain CLI flags make (settings come from the flags, see `resolve`)."""
        values: dict[str, Any] = {"strength": strength}
        if layers:
            values["layers"] = layers
        return cls([Keyframe(0.0, values, {})])

    @classmethod
    def load(cls, path: str | Path) -> Schedule:
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise UserError(f"{path}: no such schedule file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"{path} is not a readable schedule ({e.__class__.__name__})") from None
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, path: str = "the schedule") -> Schedule:
        """A schedule from TOML text (an editor's contents); errors name `path` as `load`'s name the file. Its size
        is bounded (a keyframe a second for hours fits), and so is its nesting: TOML's parser recurses."""
        data = parse_toml(text, path, "a schedule", MAX_SCHEDULE_CHARS)
        frames = data.get("keyframe")
        if not isinstance(frames, list) or not frames:
            raise UserError(f"{path} has no [[keyframe]] tables")
        keyframes = [_keyframe(k, path) for k in frames]
        for a, b in zip(keyframes, keyframes[1:]):
            if b.time <= a.time:
                raise UserError(f"{path}: keyframe times must increase ({b.time:g} s comes after {a.time:g} s)")
        return cls(keyframes)

    def min_gap(self) -> float | None:
        gaps = [b - a for a, b in zip(self.times, self.times[1:]) if b > a]
        return min(gaps) if gaps else None

    def resolve(self, kind: str, net: Net, defaults: DreamSettings, cli_layers: str | None = None) -> Resolved:
        """Bind to `net`: every keyframe's layers become {layer: weight} for this net."""
        from mmdream.core.engine import parse_layers

        layer_dicts = []
        for k in self.keyframes:
            spec = k.get(kind, "layers")
            spec = cli_layers if spec is None else spec
            layer_dicts.append(parse_layers(None if spec is None else str(spec), net))
        return Resolved(self, kind, defaults, layer_dicts)


class Resolved:
    """A schedule bound to one net: `at(t)` gives the settings, strength and layer weights at time t."""

    def __init__(self, schedule: Schedule, kind: str, defaults: DreamSettings, layers: list[dict[str, float]]):
        self.schedule, self.kind, self.defaults, self.layers = schedule, kind, defaults, layers
        self.camera_defaults = dict(CAMERA)  # where no keyframe sets them (mmdream zoom puts its flags here)
        self.weight_defaults = {"strength": 1.0, "follow_weight": BY_NAME["follow_weight"].default,
                                "follow_threshold": BY_NAME["follow_threshold"].default}
        self.steer = None  # what the other net perceives, as this net's class target (mmdream.senses.steer)

    def follow(self, steer) -> Resolved:
        """Dream toward what the other net perceives (a mmdream.senses.steer.Steer), as hard as follow_weight says."""
        self.steer = steer
        return self

    def layer_union(self) -> dict[str, float]:
        """Every layer any keyframe uses (the dreamer is built once for all of them)."""
        out: dict[str, float] = {}
        for d in self.layers:
            for name, w in d.items():
                out.setdefault(name, w)
        return out

    def _value(self, i: int, key: str) -> Any:
        v = self.schedule.keyframes[i].get(self.kind, key)
        if v is None:
            if key in CAMERA:
                return self.camera_defaults[key]
            return self.weight_defaults[key] if key in WEIGHTS else getattr(self.defaults, key)
        return v

    def at(self, t: float) -> Moment:
        times = self.schedule.times
        j = bisect.bisect_right(times, t)
        if j == 0 or j == len(times):
            i = i2 = 0 if j == 0 else len(times) - 1
            a = 0.0
        else:
            i, i2 = j - 1, j
            span = times[i2] - times[i]
            a = (t - times[i]) / span if span > 0 else 1.0
        values = {}
        for key, typ in NUMBERS.items():
            v = (1 - a) * float(self._value(i, key)) + a * float(self._value(i2, key))
            values[key] = int(round(v)) if typ is int else v
        layers: dict[str, float] = {}
        for weight, d in ((1 - a, self.layers[i]), (a, self.layers[i2])):
            for name, w in d.items():
                if weight > 0:
                    layers[name] = layers.get(name, 0.0) + weight * w
        strength, follow, threshold = values.pop("strength"), values.pop("follow_weight"), values.pop("follow_threshold")
        target, confidence = self.steer.at(t, threshold) if self.steer is not None else (None, 0.0)
        camera = {key: (1 - a) * float(self._value(i, key)) + a * float(self._value(i2, key)) for key in CAMERA}
        style = next((k.get(self.kind, "style") for k in reversed(self.schedule.keyframes[: max(j, 1)])
                      if k.get(self.kind, "style") is not None), None)
        return Moment(replace(self.defaults, **values), strength, layers, style, camera, target, follow * confidence,
                      threshold)


def _keyframe(raw: dict, path: str | Path) -> Keyframe:
    if not isinstance(raw, dict) or "time" not in raw:
        raise UserError(f"{path}: every [[keyframe]] needs a time")
    unknown = set(raw) - KNOWN
    if unknown:
        raise UserError(f"{path}: unknown keyframe key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(KNOWN))}")
    values = {k: v for k, v in raw.items() if k not in KINDS and k != "time"}
    for d in (values, *(raw[k] for k in KINDS if isinstance(raw.get(k), dict))):
        if d.get("style", "none") not in STYLE_WHEN:
            raise UserError(f"{path}: style must be one of {', '.join(STYLE_WHEN)}, not {d['style']!r}")
    per_kind = {kind: dict(raw[kind]) for kind in KINDS if isinstance(raw.get(kind), dict)}
    typed = {**NUMBERS, **{key: float for key in CAMERA}}
    for d in (values, *per_kind.values()):
        for key, typ in typed.items():
            if key in d:
                try:
                    if isinstance(d[key], bool):
                        raise TypeError
                    d[key] = typ(d[key])
                except (TypeError, ValueError, OverflowError):
                    raise UserError(f"{path}: {key} must be a number, not {d[key]!r}") from None
                lo, hi, lo_open = RANGES[key]
                try:
                    check_number(key, d[key], lo, hi, lo_open)
                except UserError as e:
                    raise UserError(f"{path}: {e}") from None
    time = parse_time(raw["time"])
    if not math.isfinite(time) or time < 0:
        raise UserError(f"{path}: keyframe time {raw['time']!r:.60} must be a finite time from 0 on")
    return Keyframe(time, values, per_kind)
