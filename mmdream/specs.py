"""Typed, frozen specs made from the option schema (mmdream.options): what a command was asked to do, each value
checked once, where it is made.

Every front end makes one the same way: the API from its keywords, the command line from its flags (through the
API), the studio from its widgets (through the API). A spec's fields are the command's API options, typed as the
schema declares them; an option not given takes the command's default (the net registry's for the nets). Making
one checks every value (its type, its range for this command, its choices, its characters) and the rules between
values (`RULES`); the first problem is a one-line UserError naming the option as the caller spells it. Code below
the API takes the spec, or the part of it that is its concern (`spec.concern("film")`), and checks nothing again.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from mmdream.checks import check_number, check_text
from mmdream.errors import OptionError, UserError
from mmdream.options import BY_NAME, COMMANDS, Option


class Spec:
    """The base of every command's spec (see `spec_class`): a frozen dataclass of the command's API options."""

    command: str = ""

    def concern(self, name: str) -> dict[str, Any]:
        """The values of one concern (the schema's group: "dream", "film", "sound", ...) by API name."""
        return {field: getattr(self, field) for field in CONCERNS[self.command].get(name, ())}

    def as_dict(self) -> dict[str, Any]:
        """Its values by name, as they are (a net already loaded stays that net)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def given(self) -> dict[str, Any]:
        """The values that differ from the command's defaults."""
        defaults = defaults_of(self.command)
        return {k: v for k, v in self.as_dict().items() if v is not defaults.get(k) and
                (isinstance(v, np.ndarray) or v != defaults.get(k))}

    def replace(self, **values: Any) -> Spec:
        """This spec with `values` changed, checked as any spec is."""
        return make_spec(self.command, {**self.as_dict(), **values})


def api_options(command: str) -> list[Option]:
    """The options a command's API takes, in the schema's order: its own and the targets of its switches, not the
    command line's own (--report, --backend, --value-range)."""
    out: dict[str, Option] = {}
    for names in COMMANDS[command].values():
        for name in names:
            o = BY_NAME[name]
            if o.front == "cli" or o.sets:
                continue
            out.setdefault(o.name, o)
    return list(out.values())


CONCERNS: dict[str, dict[str, tuple[str, ...]]] = {
    command: {concern: tuple(n for n in names if BY_NAME[n].front != "cli" and not BY_NAME[n].sets)
              for concern, names in sections.items()} for command, sections in COMMANDS.items()}


def net_default(command: str, name: str) -> str | None:
    """A net option's default: the registry's net of the modality the command dreams (a command named like a
    modality dreams it; every other, pictures), its style net for style transfer."""
    from mmdream.modality import MODALITIES
    from mmdream.nets.registry import DEFAULT_NET, DEFAULT_STYLE_NET

    if name == "audio_net":
        return DEFAULT_NET["audio"]
    if name == "image_net":
        return DEFAULT_NET["image"]
    if name == "base":
        return None  # the training modality's (DEFAULT_TRAIN_BASE), known when the kind is
    if command.startswith("style"):
        return DEFAULT_STYLE_NET
    return DEFAULT_NET[command if command in MODALITIES else "image"]


NETS = ("net", "audio_net", "image_net")


@functools.cache
def defaults_of(command: str) -> dict[str, Any]:
    return {o.name: (net_default(command, o.name) if o.name in NETS else o.default_for(command))
            for o in api_options(command)}


def type_of(o: Option, command: str) -> type:
    """An option's type in `command` (a switch there, whatever it is elsewhere: `mmdream live --audio`)."""
    return bool if command in o.switch_in else o.type


@functools.cache
def spec_class(command: str) -> type[Spec]:
    """The frozen dataclass of `command`'s API options, typed and defaulted as the schema says."""
    fields = []
    for o, default in zip(api_options(command), defaults_of(command).values()):
        typ = type_of(o, command)
        fields.append((o.name, typ if default is not None else typ | None, dataclasses.field(default=default)))
    name = "".join(part.title() for part in command.split()) + "Spec"
    cls = dataclasses.make_dataclass(name, fields, bases=(Spec,), frozen=True, namespace={"command": command})
    cls.__module__ = __name__
    cls.__doc__ = f"What `{command}` was asked to do (mmdream.specs)."
    return cls


def make_spec(command: str, values: Mapping[str, Any]) -> Spec:
    """`command`'s spec from `values` (API names; None: the default), every value and rule checked here once."""
    cls = spec_class(command)
    known = defaults_of(command)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UserError(f"unknown option(s) {', '.join(unknown)} for {command}; it takes {', '.join(known)}")
    given = {k: v for k, v in values.items() if v is not None}
    for name, value in given.items():
        try:
            given[name] = check_value(BY_NAME[name], value, command)
        except OptionError:
            raise
        except UserError as e:
            raise OptionError(name, str(e)) from None
    spec = cls(**given)
    for rule in RULES:
        rule(spec)
    return spec


def check_value(o: Option, value: Any, command: str) -> Any:
    """One value against its option: its type (an int may stand for a float), range, choices and characters. A
    file option may be given as a path or, where the pipeline takes one, an array in memory (a guide picture);
    a net option as a net already loaded (`mmdream.load_net`, as a notebook dreams many layers of one)."""
    if o.name in NETS and hasattr(value, "model") and hasattr(value, "layers"):
        return value
    if o.reads and isinstance(value, np.ndarray):
        return value
    if type_of(o, command) is bool:
        if not isinstance(value, bool):
            raise UserError(f"{o.name} must be True or False, not {value!r:.40}")
        return value
    if o.type in (int, float):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise UserError(f"{o.name} must be a number, not {value!r:.40}")
        if (rng := o.range_for(command)) is not None:
            check_number(o.name, value, *rng)
        elif isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"{o.name} must be a finite number, not {value}")
        if o.type is int:
            if value != int(value):
                raise UserError(f"{o.name} must be a whole number, not {value}")
            return int(value)
        return float(value)
    if o.type is str and not isinstance(value, str):
        if isinstance(value, os.PathLike):  # a file read or written, given as a Path
            return check_text(o.name, os.fspath(value), 4096)
        raise UserError(f"{o.name} must be text, not {type(value).__name__} {str(value)[:40]!r}")
    if o.choices and value not in o.choices:
        raise UserError(f"{o.name} must be one of {', '.join(o.choices)}, not {value!r:.40}")
    return check_text(o.name, value, 4096 if o.reads else 1000)


# ---- rules between values ---------------------------------------------------------------------------------------
def _after_start(spec: Spec) -> None:
    start, end = getattr(spec, "start", None), getattr(spec, "end", None)
    if end is not None and end <= (start or 0.0):
        raise OptionError("end", f"end must come after start (got start {start:g}, end {end:g})", ("start",))


def _one_cluster(spec: Spec) -> None:
    if getattr(spec, "ray", None) is not None and getattr(spec, "workers", None) is not None:
        raise OptionError("ray", "ray joins a cluster and workers starts one here: give one of them, not both",
                          ("workers",))


def _grown_sound(spec: Spec) -> None:
    if getattr(spec, "audio_ouroboros", False) and not getattr(spec, "audio", None):
        raise OptionError("audio_ouroboros", "audio_ouroboros grows a sound: give audio a file, noise or sine")


RULES: tuple[Callable[[Spec], None], ...] = (_after_start, _one_cluster, _grown_sound)


def options_class(name: str, command: str, concerns: tuple[str, ...], extra: tuple[str, ...] = (),
                  internal: list | None = None, overrides: Mapping[str, Any] | None = None,
                  namespace: Mapping[str, Any] | None = None) -> type:
    """A pipeline's options as a (mutable) dataclass made from the schema: the fields of `command`'s `concerns`
    and `extra` options (nets aside), typed and defaulted as its spec's, then `internal` fields the pipeline
    sets itself ((name, type, dataclasses.field)); `overrides` retypes a field a pipeline holds parsed (a pan
    as its two numbers)."""
    fields_ = spec_class(command).__dataclass_fields__
    names = [n for concern in concerns for n in CONCERNS[command].get(concern, ()) if n not in NETS] + list(extra)
    made = [(n, (overrides or {}).get(n, fields_[n].type), dataclasses.field(default=defaults_of(command)[n]))
            for n in dict.fromkeys(names)]
    cls = dataclasses.make_dataclass(name, made + list(internal or []), namespace=dict(namespace or {}))
    return cls
