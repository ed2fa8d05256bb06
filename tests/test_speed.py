"""What the speed work relies on: half-size optical flow still finds the motion, the background decoder hands
errors over and stops, auto precision is a measured choice, and bf16 dreams as deep as fp32."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmdream.media.flow import FlowEstimator
from mmdream.pipelines.film import background

pytestmark = pytest.mark.serial  # auto precision compares speeds measured here: alone on the host


def test_flow_estimated_at_half_size_recovers_a_known_shift(media):
    import cv2

    rgb = cv2.cvtColor(cv2.imread(str(sorted((media / "images").glob("*.jp*g"))[0])), cv2.COLOR_BGR2RGB)
    frame = cv2.resize(rgb, (640, 400), interpolation=cv2.INTER_AREA)
    moved = np.roll(frame, (3, 6), axis=(0, 1))  # content moves 6 px right, 3 px down
    motion = FlowEstimator(max_side=320).motion(frame, moved)
    inner = motion.backward[40:-40, 40:-40]
    assert np.median(inner[..., 0]) == pytest.approx(-6, abs=0.5)
    assert np.median(inner[..., 1]) == pytest.approx(-3, abs=0.5)
    assert motion.consistent[40:-40, 40:-40].mean() > 0.9 and motion.change < 10


def test_background_iterator_keeps_order_raises_errors_and_stops():
    assert list(background(iter(range(50)), depth=3)) == list(range(50))

    def broken():
        yield 1
        raise ValueError("decoder failed")

    with pytest.raises(ValueError, match="decoder failed"):
        list(background(broken(), depth=2))
    endless = background(iter(range(10**9)), depth=2)
    next(iter(endless))
    endless.close()
    assert not endless.thread.is_alive()


@pytest.fixture(params=[None, "avx512"], ids=["without-bf16", "with-bf16"])
def cpu(request, tmp_path, monkeypatch) -> str | None:
    """Each host runs both paths: the CPU's bf16 as its flags would say (an AVX2 CPU emulates bf16: measured as
    one with AVX-512 BF16 would be, its speeds decide alike), in a cache of its own."""
    import mmdream.pipelines.precision as precision

    monkeypatch.setattr(precision, "cpu_bf16", lambda: request.param)
    monkeypatch.setenv("MMDREAM_CACHE", str(tmp_path))
    return request.param


def test_auto_precision_is_measured_once_and_cached(cpu, tmp_path):
    from mmdream.pipelines.precision import auto_precision

    choice = auto_precision()
    cache = tmp_path / "precision.json"
    if cpu is None:  # nothing to measure: fp32 without bf16 hardware, and nothing remembered
        assert choice == "fp32" and not cache.exists()
        return
    (key, entry), = json.loads(cache.read_text()).items()  # the choice follows the measured matmul speeds
    assert entry["bf16_gflops"] > 0 and entry["fp32_gflops"] > 0
    assert choice == ("bf16" if entry["bf16_gflops"] > 1.1 * entry["fp32_gflops"] else "fp32"), entry
    entry["choice"] = "bf16" if choice == "fp32" else "fp32"
    cache.write_text(json.dumps({key: entry}))
    assert auto_precision() == entry["choice"]  # read back, not measured again


def test_auto_precision_of_a_net_follows_its_own_dream_step(cpu, tmp_path):
    """Per net, `auto` is the precision whose dream step of that net measured faster (by 10 %: bf16 must earn it),
    not the matmul's; each net is measured once and remembered under its own key."""
    from mmdream.pipelines.precision import auto_precision

    choice = auto_precision("efficientnet_lite0")
    if cpu is None:
        assert choice == "fp32" and not (tmp_path / "precision.json").exists()
        return
    entries = json.loads((tmp_path / "precision.json").read_text())
    (key, entry), = [(k, v) for k, v in entries.items() if k.endswith("| efficientnet_lite0")]
    assert entry["fp32_step_s"] > 0 and entry["bf16_step_s"] > 0
    assert choice == ("bf16" if entry["bf16_step_s"] * 1.1 < entry["fp32_step_s"] else "fp32"), entry
    entries[key]["choice"] = "bf16" if choice == "fp32" else "fp32"
    (tmp_path / "precision.json").write_text(json.dumps(entries))
    assert auto_precision("efficientnet_lite0") == entries[key]["choice"]  # read back, not measured again
    assert len(json.loads((tmp_path / "precision.json").read_text())) == 1  # no matmul entry was needed


def test_bf16_dream_gains_within_5_percent_of_fp32(media):
    from mmdream.core.engine import Dreamer, DreamSettings, Objective
    from mmdream.media.picture import read_image, resize, to_dream_space
    from mmdream.nets import load_net

    rgb = read_image(sorted((media / "images").glob("*.jp*g"))[0]).rgb
    x = resize(to_dream_space(rgb), (160, 224))
    gains, judge = {}, None
    for precision in ("fp32", "bf16"):
        net = load_net("efficientnet_lite0", precision=precision)
        d = Dreamer(net, Objective(dict(net.default_layers)))
        judge = judge or d
        gains[precision] = judge.score(d.dream(x, DreamSettings(octaves=2, steps=8))) / judge.score(x)
    assert gains["fp32"] > 1.5
    assert gains["bf16"] == pytest.approx(gains["fp32"], rel=0.05)
