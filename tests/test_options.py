"""The option schema (mmdream.options) is the one declaration: every front end's names come from it (the CLI's flags,
the API's keywords, the studio's inputs and their sliders), every value is checked once, by the command's spec
(mmdream.specs), whichever front end made it, and the results every command gives back are typed, with one
summary that the command line prints and the studio shows."""

from __future__ import annotations

import argparse
import inspect
import re
import subprocess
import sys

import pytest
from conftest import ROOT, run_fresh

from mmdream import api
from mmdream.cli import POSITIONAL, build_parser, cli_sections
from mmdream.options import BY_NAME, COMMANDS, DREAM_DEFAULTS, KINDS, OPTIONS
from mmdream.specs import api_options, defaults_of, make_spec, spec_class

API = {"image": api.dream_image, "audio": api.dream_audio, "video": api.dream_video, "zoom": api.zoom,
       "live": api.live, "style image": api.style_image, "style audio": api.style_audio,
       "style video": api.style_video, "train": api.train_image, "explain": api.explain}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_front_ends_names_are_the_schemas():
    """The command line's flags of each command are its schema options that the command line takes (a family's,
    `style`, its members'); the API's keywords are its spec's fields, with their defaults; no hand-kept list of
    option names is left in the package."""
    sub = _subparsers()
    for command in {c.split()[0] for c in COMMANDS}:
        flags = {a.dest for a in sub[command]._actions if a.option_strings and a.dest not in ("help", "verbose",
                                                                                                "output")}
        members = KINDS.get(command, (command,))
        positional = {name for name, _ in POSITIONAL[command]}  # an option given as an argument (explain's net)
        expected = {n for m in members for names in COMMANDS[m].values() for n in names
                    if BY_NAME[n].front != "api"} - positional
        assert flags == expected, command
        assert set(flags) == {n for names in cli_sections(command).values() for n in names} - positional
    for command, fn in API.items():
        params = inspect.signature(fn).parameters
        fields = spec_class(command).__dataclass_fields__
        for o in api_options(command):
            if o.name in params and params[o.name].kind == inspect.Parameter.KEYWORD_ONLY:
                assert params[o.name].default == defaults_of(command)[o.name] == fields[o.name].default, (command,
                                                                                                         o.name)
            else:  # a positional input the function names itself (style transfer's style)
                assert o.name in params, (command, o.name)
    hand_kept = re.compile(r"^[A-Z_]+(FLAGS|KEYS|NAMES)\s*=\s*\(", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "mmdream").rglob("*.py") if hand_kept.search(p.read_text())]
    assert offenders == [], offenders


def test_the_studios_inputs_are_options_and_their_sliders_the_schemas(tmp_path):
    """Each option input of the built page (its real Gradio components) is an option of its command, and its slider
    or box spans what the schema declares for that command."""
    import gradio as gr

    from mmdream.studio import inputs
    from mmdream.studio.page import build_page
    from mmdream.studio.server import Studio

    expected: dict[str, set[tuple]] = {}
    for tab in (inputs.PICTURE, inputs.SOUND, inputs.FILM, inputs.STYLE_PICTURE, inputs.STYLE_SOUND, inputs.EXPLAIN):
        for name, field in tab.items():
            assert name in defaults_of(field.command), (field.command, name)  # an option of its command
            o = BY_NAME[name]
            if o.type in (int, float):
                lo, hi = (o.range_for(field.command) or (None, None, False))[:2]
                span = o.slider[:2] if o.slider else (lo, hi)
                if o.slider:
                    assert (lo is None or span[0] >= lo) and (hi is None or span[1] <= hi), name  # within range
                expected.setdefault(field.label, set()).add(tuple(float(v) if v is not None else None for v in span))
    page = build_page(Studio(tmp_path / "dreams", tmp_path / "private"))
    shown: dict[str, set[tuple]] = {}
    for block in page.blocks.values():
        if isinstance(block, gr.Slider | gr.Number) and block.label in expected:
            span = (block.minimum, block.maximum)
            shown.setdefault(block.label, set()).add(tuple(float(v) if v is not None else None for v in span))
    assert shown == expected


def test_defaults_and_ranges_are_written_once():
    """A declared default lies in its range; a help text states no default (--help shows the schema's); the
    pipelines' dream defaults are the schema's."""
    from mmdream.core.settings import DreamSettings
    from mmdream.pipelines.audio.block import AUDIO_DEFAULTS
    from mmdream.pipelines.film.options import FILM_DEFAULTS

    for kind, settings in (("image", DreamSettings()), ("film", FILM_DEFAULTS), ("audio", AUDIO_DEFAULTS)):
        assert {k: getattr(settings, k) for k in DREAM_DEFAULTS[kind]} == DREAM_DEFAULTS[kind], kind
    for o in OPTIONS:
        for command in [c for c in COMMANDS if any(o.name in n for n in COMMANDS[c].values())]:
            default, rng = o.default_for(command), o.range_for(command)
            if rng and isinstance(default, int | float) and not isinstance(default, bool):
                lo, hi, open_low = rng
                assert (lo is None or default > lo or (default == lo and not open_low)) and \
                    (hi is None or default <= hi), (command, o.name)
            helps = [o.help or ""] + [v[1] or "" for v in o.per.values()]
            assert not any(re.search(r"\(default -?[0-9]", h) for h in helps), o.name


def _counting(monkeypatch) -> list[str]:
    """The names every value check is made for, from here on."""
    import mmdream.specs as specs

    seen: list[str] = []
    real = specs.check_value

    def counted(o, value, command):
        seen.append(o.name)
        return real(o, value, command)

    monkeypatch.setattr(specs, "check_value", counted)
    return seen


@pytest.mark.parametrize(("name", "bad", "words", "on_the_page"), [
    ("steps", -1, "steps must be", "steps per octave (first frame) must be"),
    ("follow", "sounds", "follow must be one of", "follow must be one of"),
    ("end", 0.5, "end must come after", "end (s, 0: to the end) must come after")])
def test_one_bad_value_is_checked_once_through_each_front_end(name, bad, words, on_the_page, monkeypatch, tmp_path,
                                                              capsys):
    """A bad value of `steps`, `follow` or the rule between `start` and `end`: one check, one line, whichever front
    end it came through: the command line, the API, the studio."""
    from mmdream.cli import main
    from mmdream.errors import UserError
    from mmdream.studio import requests
    from mmdream.studio.visitors import PageError, Studio

    values = {"start": 1.0, name: bad} if name == "end" else {name: bad}
    seen = _counting(monkeypatch)
    flags = [a for k, v in values.items() for a in (BY_NAME[k].flag, str(v))]
    assert main(["video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "o.mp4"), *flags]) == 2
    assert words in capsys.readouterr().err and seen.count(name) == 1, seen
    seen.clear()
    with pytest.raises(UserError, match=words):
        api.dream_video(tmp_path / "in.mp4", tmp_path / "o.mp4", **values)
    assert seen.count(name) == 1, seen
    seen.clear()
    studio = Studio(tmp_path / "dreams", tmp_path / "private")
    film = {"net": "efficientnet_lite0", "audio_net": "MTT_vgg", "max_size": 96, "start": values.get("start", 0.0),
            "end": values.get("end", 0.0), "schedule_text": None, "react": 0.0, "style": None,
            "steps": values.get("steps", 2), "follow": values.get("follow", "none")}
    with pytest.raises(PageError, match=re.escape(on_the_page)):
        next(requests.dream_film(studio, None, None, **film))
    assert seen.count(name) == 1, seen


def test_modalities_differ_on_their_object_not_in_branches():
    """What differs between a picture and a sound is read off mmdream.modality: at most four places in the package
    compare a kind with "image" or "audio"."""
    branch = re.compile(r"""(==|!=) ["'](image|audio)["']|["'](image|audio)["'] (==|!=)""")
    found = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "mmdream").rglob("*.py")
             for i, line in enumerate(p.read_text().splitlines(), 1) if branch.search(line)]
    assert len(found) <= 4, found


def test_results_are_read_by_name_and_summarised_once():
    """No front end reads a result's figures by a string key: they read the typed results (mmdream.results), whose
    one summary() the command line prints and the studio shows."""
    reads = re.compile(r"""(figures|result|card|report)\[["']|\.figures\.get\(|\.figures\[""")
    found = [f"{p.relative_to(ROOT)}:{i}" for folder in ("cli", "studio") for p in (ROOT / "mmdream" / folder).rglob("*.py")
             for i, line in enumerate(p.read_text().splitlines(), 1) if reads.search(line)]
    assert found == [], found


def test_the_command_line_and_the_studio_show_the_same_summary(media, tmp_path, capsys, monkeypatch):
    from mmdream.cli import main
    from mmdream.studio import requests
    from mmdream.studio.visitors import Studio

    photo = media / "images" / "flower.jpg"
    made = []
    real = api.dream_image

    def keep(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(api, "dream_image", keep)
    monkeypatch.setattr("mmdream.dream_image", keep, raising=False)
    assert main(["image", str(photo), "-o", str(tmp_path / "o.png"), "--max-size", "64", "--octaves", "1",
                 "--steps", "1", "--report", str(tmp_path / "r.json")]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == f"{tmp_path / 'o.png'}: {made[-1].summary()}" and "objective" in printed
    studio = Studio(tmp_path / "dreams", tmp_path / "private")
    studio.outputs.mkdir()
    _, shown = requests.dream_picture(studio, str(photo), "efficientnet_lite0", [], 0.5, False, 1, 1, 1.0, 0, None,
                                      None, 64)
    assert shown == made[-1].summary() != ""


def test_video_help_is_grouped_by_concern_with_every_default_and_no_list_of_nets():
    done = run_fresh("video", "--help", env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"})
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and len(lines) <= 120, len(lines)
    groups = [ln[:-1] for ln in lines if ln and not ln.startswith(" ") and ln.endswith(":")]
    assert groups[:3] == ["positional arguments", "options", "film"] and \
        {"dream", "sound", "style", "senses (cross-modal)", "output"} <= set(groups), groups
    text = " ".join(done.stdout.split())
    for name in ("max_size", "blend", "cut", "follow_weight", "seed", "max_segment"):
        shown = defaults_of("video")[name]
        assert re.search(rf"{BY_NAME[name].flag} \S+ .*?\(default {shown:g}\)", text), name
    assert "inception_v3" not in text and "see `mmdream models`" in text


def test_a_film_that_follows_builds_each_net_once(media, tmp_path):
    """Hearing and the soundtrack's dream share the sound net, seeing and the frames the picture net: each is built
    once in the process (the count of nets built)."""
    code = f"""
import mmdream, mmdream.nets as nets
from pathlib import Path
src = Path({str(media / 'video' / 'big_buck_bunny_0_30.webm')!r})
mmdream.dream_video(src, {str(tmp_path / 'o.mp4')!r}, follow="both", max_size=48, end=0.5, steps=1, ear="MTT_vgg",
                    precision="fp32")
print(nets.builds)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.split()[-1] == "2", done.stdout  # lite0 and MTT_vgg, once each


def test_a_spec_is_frozen_typed_and_checked_where_it_is_made():
    from dataclasses import FrozenInstanceError

    from mmdream.errors import UserError

    spec = make_spec("video", {"max_size": 320.0, "follow": "sound", "steps": 3})
    assert (spec.max_size, type(spec.max_size), spec.blend, spec.soundtrack) == (320, int, 0.99, "dream")
    assert spec.concern("cluster") == {"ray": None, "workers": None, "max_segment": 300, "gpus_per_task": 0.0,
                                       "task_resources": None}
    with pytest.raises(FrozenInstanceError):
        spec.steps = 4
    for values, words in (({"steps": 2.5}, "steps must be a whole number"), ({"stepz": 2}, "unknown option"),
                          ({"max_size": 9000}, "max_size must be"), ({"ray": "auto", "workers": 2}, "not both")):
        with pytest.raises(UserError, match=words):
            make_spec("video", values)
    assert make_spec("image", {"max_size": 9000}).max_size == 9000  # a photo's own range
