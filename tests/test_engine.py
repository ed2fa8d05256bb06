"""The shared dream engine: pyramid, tiles, single trace, reproducibility, objectives."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import numpy as np
import pytest

from mmdream.core.engine import Dreamer, DreamSettings, Objective, octave_shapes, parse_layers
from mmdream.errors import UserError


def _photo(media, size=(192, 256)):
    from mmdream.media.picture import read_image, resize, to_dream_space

    return to_dream_space(resize(read_image(media / "images" / "coffee.png").rgb, size))


def test_octave_shapes_end_at_input_and_skip_tiny():
    shapes = octave_shapes((360, 540), 4, 1.4, 32)
    assert shapes[-1] == (360, 540) and len(shapes) == 4
    assert shapes[0] == (round(360 / 1.4**3), round(540 / 1.4**3))
    assert octave_shapes((40, 40), 6, 2.0, 32) == [(40, 40)]


def test_parse_layers_weights_depths_and_errors(lite0):
    assert parse_layers("block4c:1,block5c:1.5", lite0) == {"block4c": 1.0, "block5c": 1.5}
    assert parse_layers("1.0", lite0) == {"top": 1.0}
    assert parse_layers(None, lite0) == lite0.default_layers
    with pytest.raises(UserError, match="no dreamable layer"):
        parse_layers("mixed3", lite0)
    for number in ("3", "-0.5", "1.5:2"):  # a number that is no depth is said to be one, not looked up as a name
        with pytest.raises(UserError, match=r"a depth is a number from 0 \(the first dreamable layer\) to 1"):
            parse_layers(number, lite0)


def test_one_trace_serves_all_octaves_and_tiles(media, lite0):
    d = Dreamer(lite0, Objective({"block4c": 1.0}))
    x = _photo(media, (300, 420))
    # tile 128 forces several tiles of different shapes at every octave
    d.dream(x, DreamSettings(octaves=3, steps=2, tile_size=128))
    d.dream(_photo(media, (100, 140)), DreamSettings(octaves=2, steps=2))
    assert d.traces() == 2  # the tiled gradient once, the whole step once


def test_seed_makes_runs_reproducible(media, lite0):
    d = Dreamer(lite0, Objective({"block4c": 1.0}))
    x = _photo(media, (96, 128))
    s = DreamSettings(octaves=2, steps=3, seed=7)
    a, b = d.dream(x, s), d.dream(x, s)
    c = d.dream(x, DreamSettings(octaves=2, steps=3, seed=8))
    assert np.array_equal(a, b)
    assert np.abs(a - c).mean() > 1e-4


def test_tiled_dream_raises_objective_like_untiled(media, lite0):
    d = Dreamer(lite0, Objective({"block4c": 1.0, "block5c": 1.0}))
    x = _photo(media, (256, 320))
    before = d.score(x)
    tiled = d.score(d.dream(x, DreamSettings(octaves=2, steps=8, tile_size=160)))
    whole = d.score(d.dream(x, DreamSettings(octaves=2, steps=8)))
    assert tiled > 1.5 * before and whole > 1.5 * before
    assert 0.7 < tiled / whole < 1.3


def test_a_step_moves_its_step_size_however_small_the_gradient(media):
    """The gradient of a mean over a picture shrinks with its pixels; a net with random weights (InceptionV3's) has
    one far below 1e-8. Its normalised step still moves the picture `step_size` on average, tiled or untiled (an
    epsilon added to the norm once moved such a step a tenth as far, and an untiled 1080p frame a hundredth), so
    the two dreams raise the objective alike."""
    from mmdream.core import backend
    from mmdream.nets import load_net

    net = load_net("inception_v3", weights="random")
    d = Dreamer(net, Objective({"mixed3": 1.0}))
    x = _photo(media, (300, 420))
    assert np.abs(backend.array(d._grad(backend.tensor(x[None]))[1])).mean() < 1e-8  # the premise, measured
    moved = np.abs(backend.array(d.step(x[None], step_size=0.02)) - x).mean()
    assert 0.012 < moved <= 0.02, moved  # the mean |unit gradient| is 1, less what the clip at 4 takes
    before = d.score(x)
    settings = DreamSettings(octaves=1, steps=3, jitter=0)
    tiled = d.score(d.dream(x, replace(settings, tile_size=160)))
    whole = d.score(d.dream(x, replace(settings, tile_size=1024)))
    assert whole > 1.2 * before and 0.8 < tiled / whole < 1.25, (before, tiled, whole)


def test_a_picture_is_one_gradient_call_at_1080p_on_a_gpu_unless_a_tile_is_asked(lite0, monkeypatch):
    from mmdream.core import backend
    from mmdream.pipelines.film import FILM_DEFAULTS
    from mmdream.plan import build_plan

    def tile(**given) -> int:
        return build_plan("image", lite0, FILM_DEFAULTS, given)[1].at(0.0).settings.tile_size

    assert tile() == 512  # no GPU here
    monkeypatch.setattr(backend, "gpus_bf16", lambda: True)  # a GPU, as its device query would answer
    assert tile() == backend.GPU_TILE and tile(tile_size=384) == 384
    assert Dreamer._fits((1, 1080, 1920, 3), backend.GPU_TILE, (1, 2))


def test_channel_selection_raises_those_channels_most(media, lite0):
    import keras

    d = Dreamer(lite0, Objective({"block5c": 1.0}, channels={"block5c": [3, 17]}))
    x = _photo(media, (128, 160))
    out = d.dream(x, DreamSettings(octaves=2, steps=10))
    feats = keras.Model(lite0.model.input, lite0.model.get_layer("block5c").output)
    a0 = np.square(np.asarray(feats(x[None]))).mean(axis=(0, 1, 2))
    a1 = np.square(np.asarray(feats(out[None]))).mean(axis=(0, 1, 2))
    gain = a1 / (a0 + 1e-6)
    assert gain[[3, 17]].min() > np.median(gain)


def test_class_target_raises_that_logit(media, lite0):
    idx = lite0.class_index("goldfish")
    d = Dreamer(lite0, Objective({"block5c": 1.0}, target=idx))
    x = _photo(media, (160, 160))
    out = d.dream(x, DreamSettings(octaves=2, steps=10))
    before = float(np.asarray(lite0.model(x[None]))[0, idx])
    after = float(np.asarray(lite0.model(out[None]))[0, idx])
    assert after > before + 2.0


def test_guide_image_pulls_features_toward_the_guide(media, lite0):
    from mmdream.media.picture import read_image, resize, to_dream_space

    guide = to_dream_space(resize(read_image(media / "images" / "flower.jpg").rgb, (160, 224)))
    d = Dreamer(lite0, Objective({"block4c": 1.0}))
    d.set_guide(guide)
    x = _photo(media, (160, 224))
    out = d.dream(x, DreamSettings(octaves=2, steps=10))
    sim = lambda v: float(d.loss(np.asarray(v, np.float32)[None]))  # noqa: E731
    assert sim(out) > 1.3 * sim(x)


def test_guide_from_the_command_line_pulls_the_written_picture_toward_the_guide(media, lite0, tmp_path):
    """`mmdream image --guide`: the file written is nearer the guide's features than the plain dream's file."""
    from mmdream.cli import main
    from mmdream.media.picture import read_image, resize, to_dream_space

    size, photo, flower = (168, 224), media / "images" / "coffee.png", media / "images" / "flower.jpg"
    common = ["--net", "efficientnet_lite0", "--layers", "block4c:1", "--max-size", "224", "--octaves", "2",
              "--steps", "10", "--precision", "fp32"]
    assert main(["image", str(photo), "-o", str(tmp_path / "guided.png"), "--guide", str(flower), *common]) == 0
    assert main(["image", str(photo), "-o", str(tmp_path / "plain.png"), *common]) == 0
    d = Dreamer(lite0, Objective({"block4c": 1.0}))
    d.set_guide(to_dream_space(resize(read_image(flower).rgb, size)))

    def near(path) -> float:
        return float(d.loss(to_dream_space(resize(read_image(path).rgb, size))[None]))

    guided, plain, start = near(tmp_path / "guided.png"), near(tmp_path / "plain.png"), near(photo)
    assert guided > 1.3 * start and guided > 1.05 * plain, (guided, plain, start)  # the plain dream rises too


def test_composed_terms_are_dreamed_like_any_objective(media, lite0):
    from mmdream.core.objectives import channel, deepdream

    term = deepdream("block4c") + 0.2 * channel("block5c", 7)
    assert set(term.layers) == {"block4c", "block5c"}
    d = Dreamer(lite0, term)
    x = _photo(media, (128, 160))
    out = d.dream(x, DreamSettings(octaves=2, steps=8))
    assert d.score(out) > 1.5 * d.score(x)
    assert d.traces() == 1  # untiled: the whole step alone


def test_smoothing_runs_in_the_one_traced_step(media, lite0):
    d = Dreamer(lite0, Objective({"block4c": 1.0}))
    x = _photo(media, (128, 160))
    out = d.dream(x, DreamSettings(octaves=2, steps=6, smooth=1.5))
    plain = d.dream(x, DreamSettings(octaves=2, steps=6))
    assert d.traces() == 1  # smoothing no longer falls back to the tiled path, and shares the trace
    assert d.score(out) > 1.5 * d.score(x)
    # a smoothed gradient leaves less high-frequency change than the plain one
    hf = lambda v: float(np.abs(np.diff(v - x, axis=1)).mean())  # noqa: E731
    assert hf(out) < hf(plain)


def test_a_call_lends_its_dreamer_to_the_next_of_the_same_net_and_objective(media, lite0, tmp_path, monkeypatch):
    """A picture dreamed again with the same net and layers traces nothing and writes the same picture; a dreamer
    serves one call at a time; another objective, a class target's or a guided dream's, gets a dreamer of its own,
    and a guided one is not kept."""
    import mmdream
    from mmdream import plan as plans

    traced = []
    monkeypatch.setattr(Dreamer, "_trace", lambda self, _t=Dreamer._trace: traced.append(self) or _t(self))
    photo, picture = media / "images" / "chelsea.png", {"max_size": 64, "octaves": 1, "steps": 2, "measure": False}
    mmdream.dream_image(photo, tmp_path / "first.png", layers="block3b", **picture)
    first = len(traced)
    mmdream.dream_image(photo, tmp_path / "again.png", layers="block3b", **picture)
    assert len(traced) == first >= 1  # the second call's dreamer was the first's, traced already
    assert (tmp_path / "first.png").read_bytes() == (tmp_path / "again.png").read_bytes()

    mmdream.dream_image(photo, tmp_path / "deeper.png", layers="block5a", **picture)
    mmdream.dream_image(photo, tmp_path / "guided.png", layers="block3b", guide=photo, **picture)
    assert len(traced) == first + 2  # a dreamer for the other layers; the idle one traced again for its guide
    guided = traced[-1]
    assert guided is traced[0] and guided not in plans._IDLE.values()  # left guided: not lent to a later call
    mmdream.dream_image(photo, tmp_path / "plain.png", layers="block3b", **picture)
    assert len(traced) == first + 3  # a fresh dreamer, which dreams what the lent one did
    assert (tmp_path / "plain.png").read_bytes() == (tmp_path / "first.png").read_bytes()

    objective = {"layers": "block3b"}
    with plans.lent_plan("image", lite0, DreamSettings(), objective) as (a, _):
        with plans.lent_plan("image", lite0, DreamSettings(), objective) as (b, _):
            assert a is not b  # one call at a time
    with plans.lent_plan("image", lite0, DreamSettings(), {"layers": "block3b", "target": "goldfish"}) as (c, _):
        assert c not in (a, b)


def test_a_film_lends_its_dreamers_to_the_next_film_and_a_followed_one_leaves_no_target(media, tmp_path,
                                                                                      monkeypatch):
    """A film rendered again in the process takes the picture's and the sound's dreamers the first render gave
    back: nothing is traced and the film is the same bytes. A film that followed its sound gives its dreamers back
    with nothing of its following left in them: the plain film after it is the first one's bytes."""
    import mmdream
    from mmdream import plan as plans
    from mmdream.media.ffmpeg import ffmpeg_exe

    traced = []
    monkeypatch.setattr(Dreamer, "_trace", lambda self, _t=Dreamer._trace: traced.append(self) or _t(self))
    monkeypatch.setattr(plans, "_IDLE", type(plans._IDLE)())  # none lent by an earlier test of this process
    film = tmp_path / "strings.mp4"  # a still photo over a second of strings, which the ear hears
    subprocess.run([ffmpeg_exe(), "-v", "error", "-loop", "1", "-i", str(media / "images" / "sky1024px.jpg"),
                    "-ss", "5", "-i", str(media / "audio" / "music" / "Hungarian_Dance_number_5_string_orchestra.hq.ogg"),
                    "-t", "1", "-r", "12", "-vf", "scale=128:-2", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-c:a",
                    "aac", str(film)], check=True)
    common = {"max_size": 64, "octaves": 2, "steps": 2}
    first = mmdream.dream_video(film, tmp_path / "first.mp4", **common)
    kinds = sorted(d.net.kind for d in traced)
    assert kinds == ["audio", "image"] and first.figures["soundtrack"]["dream"]["seconds"] > 0
    assert sorted(d.net.kind for d in plans._IDLE.values()) == kinds  # both given back
    mmdream.dream_video(film, tmp_path / "again.mp4", **common)
    assert len(traced) == 2  # the second render's dreamers were the first's
    assert (tmp_path / "again.mp4").read_bytes() == (tmp_path / "first.mp4").read_bytes()

    followed = mmdream.dream_video(film, tmp_path / "followed.mp4", follow="sound", **common)
    assert any(row["follow"] > 0 for row in followed.figures["per_frame"]), followed.figures["per_frame"]
    mmdream.dream_video(film, tmp_path / "plain.mp4", **common)
    assert len(traced) == 2
    assert (tmp_path / "plain.mp4").read_bytes() == (tmp_path / "first.mp4").read_bytes()
