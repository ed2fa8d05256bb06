"""The option schema (mmdream.options) is the one declaration: the CLI's flags and defaults, the API's keyword
defaults, the range checks and the pipelines' defaults agree with it, option by option. (The studio's API defaults
are checked against it in tests/test_studio.py, on a running studio.)"""

from __future__ import annotations

import argparse
import inspect
import re

import pytest

from mmdream import api
from mmdream.cli import build_parser
from mmdream.options import (
    AUDIO_STYLE,
    BY_NAME,
    COMMANDS,
    DREAM_DEFAULTS,
    IMAGE_STYLE,
    OPTIONS,
    RANGES,
    commands_taking,
)

# Where each command's options land in the API: its function, then what it hands its **options to.
API = {
    "image": ["dream_image"], "audio": ["dream_audio"], "video": ["dream_video", "film_options", "build_plan"],
    "zoom": ["zoom", "build_plan"], "live": ["live", "build_plan"],
    "style": ["style_image", "style_audio", "style_video", "film_options"],
    "train": ["train_image", "train_audio", "TrainSettings"],
}
# Flags with no keyword of the same name: switches the CLI turns into an API value, and the CLI's own outputs.
CLI_ONLY = {"report", "plot", "no_flow", "keep_audio", "no_audio", "no_keys", "backend",
            "value_range"}  # the API takes it in the net's reference: net="plain.h5#range=0,1"
# Read by the API straight from the schema (precision, the style options, style_video's size and blend), or by
# the CLI from the net registry (a training base), or named otherwise in the API (--fine-tune: fine_tune_epochs;
# --weights random: tests only).
FROM_SCHEMA = {"precision", *IMAGE_STYLE, *AUDIO_STYLE, "blend", "max_size"}
ELSEWHERE = {("train", "base"), ("train", "fine_tune"), ("train", "weights")}


def _callables() -> dict:
    from mmdream.pipelines.film.options import film_options
    from mmdream.plan import build_plan
    from mmdream.train.retrain import TrainSettings

    return {"film_options": film_options, "TrainSettings": TrainSettings, "build_plan": build_plan,
            **{name: getattr(api, name) for names in API.values() for name in names if hasattr(api, name)}}


def _api_keywords(command: str, name: str, callables: dict, downstream: bool = True) -> list[inspect.Parameter]:
    """The keyword `name` of the command's API functions; where none has it, of the first function their
    **options reach. A dream setting left unset (None) is the pipeline's default (DREAM_DEFAULTS)."""
    takers = [(f, inspect.signature(callables[f]).parameters.get(name)) for f in API[command]]
    own = [p for f, p in takers if p is not None and hasattr(api, f)]
    if own or name in DREAM_DEFAULTS["image"]:
        return own or [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None)]
    return [p for _, p in takers if p is not None][:1] if downstream else []


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_cli_option_is_the_schemas():
    """Each command has exactly the schema's options, each with the schema's default, type and choices."""
    sub = _subparsers()
    for command, sections in COMMANDS.items():
        flags = {a.dest: a for a in sub[command]._actions if a.option_strings and a.dest not in ("help", "verbose",
                                                                                                  "output")}
        assert set(flags) == {n for names in sections.values() for n in names}, command
        for name, action in flags.items():
            if name in ("net", "audio_net", "image_net"):
                continue  # the net registry's (tests/test_nets.py)
            option = BY_NAME[name]
            assert action.default == option.default_for(command), (command, name)
            assert action.choices == (list(option.choices) if option.choices else None), (command, name)
            switch = option.type is bool or command in option.switch_in
            assert (action.nargs == 0) == switch and (switch or action.type is option.type), (command, name)


def test_every_api_default_is_the_schemas():
    callables = _callables()
    checked = 0
    for option in OPTIONS:
        for command in commands_taking(option.name):
            if command not in API or option.name in CLI_ONLY or (command, option.name) in ELSEWHERE:
                continue
            found = _api_keywords(command, option.name, callables, downstream=option.name not in FROM_SCHEMA)
            if not found and option.name in FROM_SCHEMA:
                continue
            assert found, f"{command}: no API keyword takes {option.name}"
            defaults = {p.default for p in found if p.default is not inspect.Parameter.empty}
            if option.name == "pan":  # the API takes the pair the CLI's "DX,DY" means
                defaults = {",".join(f"{v:g}" for v in d) for d in defaults}
            assert defaults <= {option.default_for(command)}, (command, option.name, defaults)
            checked += 1
    assert checked > 100


def test_ranges_and_pipeline_defaults_come_from_the_schema():
    from mmdream.checks import RANGES as CHECKED
    from mmdream.core.engine import DreamSettings
    from mmdream.pipelines.audio.block import AUDIO_DEFAULTS
    from mmdream.pipelines.film.options import FILM_DEFAULTS

    assert CHECKED is RANGES and set(RANGES) <= set(BY_NAME)
    for kind, settings in (("image", DreamSettings()), ("film", FILM_DEFAULTS), ("audio", AUDIO_DEFAULTS)):
        assert {k: getattr(settings, k) for k in DREAM_DEFAULTS[kind]} == DREAM_DEFAULTS[kind], kind
    for option in OPTIONS:  # a declared default lies in the declared range
        if option.range and isinstance(option.default, int | float) and not isinstance(option.default, bool):
            lo, hi, open_low = option.range
            assert (lo is None or option.default > lo or (option.default == lo and not open_low)) and \
                (hi is None or option.default <= hi), option.name


@pytest.mark.parametrize("command", ["image", "video", "zoom", "live", "style"])
def test_help_shows_each_commands_own_default(command, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert re.search(rf"default {BY_NAME['max_size'].default_for(command)}\b", shown), shown
