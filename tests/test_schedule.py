"""The shared schedule: TOML keyframes, interpolation, depths that mean the same for picture and sound."""

from __future__ import annotations

import pytest

from mmdream.core.engine import DreamSettings
from mmdream.errors import UserError
from mmdream.schedule import Schedule, parse_time

FILM = """
[[keyframe]]
time = 0
layers = 0.2
strength = 0.5
octaves = 2
steps = 10

[[keyframe]]
time = "0:12"
layers = 0.9
strength = 1.5
octaves = 4
steps = 20
[keyframe.audio]
step_size = 0.1
"""


@pytest.fixture(scope="module")
def nets():
    from mmdream.nets import load_net

    return load_net("efficientnet_lite0"), load_net("MTT_vgg", sr=44100)


def test_times_parse():
    assert parse_time("1:02.5") == 62.5 and parse_time("1:00:00") == 3600 and parse_time(7) == 7.0
    with pytest.raises(UserError):
        parse_time("soon")


def test_keyframes_interpolate_and_depths_map_to_both_nets(tmp_path, nets):
    path = tmp_path / "film.toml"
    path.write_text(FILM)
    schedule = Schedule.load(path)
    image_net, audio_net = nets
    image = schedule.resolve("image", image_net, DreamSettings())
    audio = schedule.resolve("audio", audio_net, DreamSettings(step_size=0.05))

    start, mid, end = image.at(0.0), image.at(6.0), image.at(30.0)
    assert (start.settings.octaves, mid.settings.octaves, end.settings.octaves) == (2, 3, 4)
    assert (start.settings.steps, mid.settings.steps, end.settings.steps) == (10, 15, 20)
    assert start.strength == 0.5 and mid.strength == pytest.approx(1.0) and end.strength == 1.5
    # the depth picks the same relative depth of each net
    assert start.layers == {image_net.layer_at_depth(0.2): 1.0}
    assert end.layers == {image_net.layer_at_depth(0.9): 1.0}
    assert audio.at(0.0).layers == {audio_net.layer_at_depth(0.2): 1.0}
    assert audio.at(12.0).layers == {audio_net.layer_at_depth(0.9): 1.0}
    # half-way, the weight has moved half-way from the shallow layer to the deep one
    assert mid.layers[image_net.layer_at_depth(0.2)] == pytest.approx(0.5)
    assert mid.layers[image_net.layer_at_depth(0.9)] == pytest.approx(0.5)
    # per-kind override: the audio's step size follows its own table, the image keeps its default
    assert audio.at(12.0).settings.step_size == pytest.approx(0.1)
    assert audio.at(6.0).settings.step_size == pytest.approx(0.075)
    assert image.at(12.0).settings.step_size == pytest.approx(0.02)
    assert set(image.layer_union()) == {image_net.layer_at_depth(0.2), image_net.layer_at_depth(0.9)}


def test_schedule_errors_are_one_line(tmp_path):
    cases = {"no keyframes": "title = 'x'\n", "unknown": "[[keyframe]]\ntime = 0\nocatves = 3\n",
             "bad number": "[[keyframe]]\ntime = 0\nsteps = 'many'\n", "no time": "[[keyframe]]\nsteps = 3\n",
             "toml": "[[keyframe]\n"}
    for name, text in cases.items():
        path = tmp_path / f"{name}.toml"
        path.write_text(text)
        with pytest.raises(UserError) as e:
            Schedule.load(path)
        assert "\n" not in str(e.value), name


def test_a_dreamer_switches_layers_without_retracing(nets):
    """One dreamer is built for every layer of the schedule; moving weight between layers must not retrace."""
    import numpy as np

    from mmdream.core.engine import Dreamer, Objective

    net = nets[0]
    a, b = net.layer_at_depth(0.2), net.layer_at_depth(0.9)
    d = Dreamer(net, Objective({a: 1.0, b: 1.0}))
    x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)
    d.set_layer_weights({a: 1.0})
    only_a = d.score(x)
    d.set_layer_weights({b: 1.0})
    only_b = d.score(x)
    d.set_layer_weights({a: 0.5, b: 0.5})
    both = d.score(x)
    assert both == pytest.approx((only_a + only_b) / 2, rel=1e-4) and only_a != pytest.approx(only_b)
    d.dream(x[0], DreamSettings(octaves=1, steps=1))
    d.set_layer_weights({a: 1.0})
    d.dream(x[0], DreamSettings(octaves=1, steps=1))
    assert d.traces() == 1
