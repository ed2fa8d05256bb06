"""A continuing frame on the dream's device (mmdream.core.carry, what a GPU runs): the same carried frame as the
host's numpy and OpenCV, the same picture made of the dream, and a film dreamed so the same film as far as a net's
gradient allows, on TensorFlow and on JAX."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, script_module

# A film's first frames dreamed twice in one process, the carry on the host then on the device: the mean and the
# largest difference of their pixels (0..255), and each one's mean flicker.
FILM_BOTH_WAYS = """import sys
import numpy as np
from mmdream.media.ffmpeg import even_size, probe, read_video_frames
from mmdream.pipelines.film import FILM_DEFAULTS, Dreaming, FilmOptions, FrameDreamer
from mmdream.pipelines.film.frames import _decoded_with_motion
from mmdream.media.flow import flicker
from mmdream.plan import build_plan

src = sys.argv[1]
opts = FilmOptions(max_size=96, measure_every=None)
dreamer, plan = build_plan("image", "efficientnet_lite0", FILM_DEFAULTS, {"octaves": 2, "steps": 2})
frames = list(read_video_frames(src, even_size(*probe(src).video_size, 96), 24.0, 0.0, 0.5))
films = []
for on_device in (False, True):
    dream, prev_out, out = FrameDreamer(Dreaming(dreamer, plan), opts, 24.0, carry_on_device=on_device), None, []
    for i, frame, prev_in, motion in _decoded_with_motion(iter(frames), 0):
        prev_out = dream(i, frame, prev_in, prev_out, motion, 1.0)[0]
        out.append((prev_out, motion))
    films.append(out)
(host, device) = films
diff = [np.abs(a[0].astype(int) - b[0].astype(int)) for a, b in zip(host, device)]
flick = [np.mean([flicker(f[i - 1][0], f[i][0], f[i][1]) for i in range(1, len(f))]) for f in films]
print(len(host), float(np.mean(diff)), int(max(d.max() for d in diff)), *flick)
"""


def test_the_carry_on_the_device_is_the_hosts():
    from mmdream.core import backend
    from mmdream.core.carry import carried_on_device
    from mmdream.media.flow import Motion
    from mmdream.media.picture import dream_difference, to_dream_space
    from mmdream.pipelines.film.frames import carried, carried_dream

    rng = np.random.default_rng(3)
    h, w = 90, 160
    prev_in, prev_out, frame = (cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), np.uint8), (5, 5), 1.5)
                                for _ in range(3))
    backward = cv2.GaussianBlur(rng.normal(0, 30, (h, w, 2)).astype(np.float32), (21, 21), 6)
    backward[:4] += 40  # rows that sample from beyond the frame's edge: the border is replicated
    consistent = rng.uniform(0, 1, (h, w)).astype(np.float32)
    motion = Motion(backward, consistent)
    host = carried(to_dream_space(frame), motion.warp(dream_difference(prev_out, prev_in)), motion, 0.99)
    device = backend.array(carried_on_device(frame, prev_in, prev_out, backward, consistent, 0.99))
    assert device.shape == host.shape and np.abs(backward).max() > 10
    assert np.abs(device - host).max() < 1e-5, np.abs(device - host).max()
    # and a warp that ignored the flow would not be: the carry moved the detail
    still = carried(to_dream_space(frame), dream_difference(prev_out, prev_in), motion, 0.99)
    assert np.abs(still - host).mean() > 0.01
    # what a live writer shows for a frame without its own dream, carried on the device: the host's picture, to a
    # rounding's level
    shown = carried_dream(frame, prev_in, prev_out, motion, 0.99, on_device=True)
    assert shown.dtype == np.uint8 and shown.shape == (h, w, 3)
    assert np.abs(shown.astype(int) - carried_dream(frame, prev_in, prev_out, motion, 0.99).astype(int)).max() <= 1


def film_both_ways(backend: str, clip) -> tuple[int, float, int, float, float]:
    env = {**{k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}, "MMDREAM_BACKEND": backend}
    done = subprocess.run([sys.executable, "-c", FILM_BOTH_WAYS, str(clip)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    n, mean, worst, host_flicker, device_flicker = done.stdout.split()
    return int(n), float(mean), int(worst), float(host_flicker), float(device_flicker)


def test_a_film_carried_on_the_device_is_the_film_carried_on_the_host_on_tensorflow_and_jax(media):
    clip = media / "video" / "big_buck_bunny_0_30.webm"
    for backend in ("tensorflow", "jax"):
        n, mean, worst, host_flicker, device_flicker = film_both_ways(backend, clip)
        assert n == 12, n
        # The carries differ in a float's last bit (the operations' order); a ReLU net's gradient is piecewise
        # constant, so now and then a pixel's step turns (JAX: mean 0.37 of 255, a few pixels 30 off, for frames
        # until a cut restarts the dream). What a film is measured by stays.
        assert mean < 1.0, (backend, mean, worst)
        assert abs(device_flicker / host_flicker - 1) < 0.03, (backend, host_flicker, device_flicker)


def test_the_picture_made_on_the_device_is_the_hosts_and_nothing_non_finite_comes_back():
    from mmdream.core import backend
    from mmdream.core.carry import picture
    from mmdream.errors import UserError
    from mmdream.media.picture import from_dream_space

    x = np.random.default_rng(5).uniform(-1.2, 1.2, (40, 60, 3)).astype(np.float32)  # the clip's both ends too
    x[0, :4, 0] = [-1.0, 1.0, 0.0, 127.5 / 127.5 - 1]
    rgb = picture(backend.tensor(x))
    assert rgb.dtype == np.uint8 and np.array_equal(rgb, from_dream_space(x))
    x[7, 9, 1] = np.nan
    with pytest.raises(UserError, match="the dream became non-finite"):
        picture(backend.tensor(x))


def test_frames_sent_ahead_to_the_device_make_the_same_film(media):
    """Where the carry runs on the device, the flow's threads send each frame and its flow there ahead of the frame
    (FrameDreamer.stage): the same dreamed frames, byte for byte, as sending them on the frame's turn, with one flow
    thread and with three."""
    from mmdream.media.ffmpeg import even_size, probe, read_video_frames
    from mmdream.pipelines.film import FILM_DEFAULTS, Dreaming, FilmOptions, FrameDreamer
    from mmdream.pipelines.film.frames import _decoded_with_motion
    from mmdream.plan import build_plan

    src = str(media / "video" / "big_buck_bunny_0_30.webm")
    frames = list(read_video_frames(src, even_size(*probe(src).video_size, 96), 24.0, 2.0, 2.5))
    dreamer, plan = build_plan("image", "efficientnet_lite0", FILM_DEFAULTS, {"octaves": 2, "steps": 2})

    def film(workers: int, ahead: bool) -> tuple[list[np.ndarray], int]:
        dream = FrameDreamer(Dreaming(dreamer, plan), FilmOptions(max_size=96, measure_every=None), 24.0,
                             carry_on_device=True)
        out, prev_out, staged = [], None, 0
        for i, frame, prev_in, motion in _decoded_with_motion(iter(frames), 0, workers=workers,
                                                               stage=dream.stage if ahead else None):
            staged += motion is not None and motion.staged is not None
            prev_out = dream(i, frame, prev_in, prev_out, motion, 1.0)[0]
            out.append(prev_out)
        return out, staged

    plain, none_staged = film(1, False)
    assert len(plain) == 12 and none_staged == 0
    for workers in (1, 3):
        ahead, staged = film(workers, True)
        assert staged == 11, staged  # every frame after the first went ahead
        assert all(np.array_equal(a, b) for a, b in zip(plain, ahead)), workers


def test_a_continuing_frame_on_the_device_is_one_call_making_the_three_calls_picture(media, monkeypatch):
    """Where the dream allows (one octave at the frame's size, no tiles, no class target), a continuing frame is
    carried, dreamed and made the picture in one compiled call (Dreamer.dream_between): the same picture, to the
    last byte, as the carry, the dream and the picture called one after another; where it does not, the three."""
    from dataclasses import replace

    from mmdream.core import carry
    from mmdream.media.ffmpeg import even_size, probe, read_video_frames
    from mmdream.pipelines.film import FILM_DEFAULTS, Dreaming, FilmOptions, FrameDreamer
    from mmdream.pipelines.film.frames import _decoded_with_motion
    from mmdream.plan import build_plan

    src = str(media / "video" / "big_buck_bunny_0_30.webm")
    frames = list(read_video_frames(src, even_size(*probe(src).video_size, 96), 24.0, 2.0, 2.2))
    dreamer, plan = build_plan("image", "efficientnet_lite0", FILM_DEFAULTS, {"octaves": 2, "steps": 2})
    (_, first, *_), (i, frame, prev_in, motion), *_ = _decoded_with_motion(iter(frames), 0)
    film = FrameDreamer(Dreaming(dreamer, plan), FilmOptions(max_size=96, measure_every=None, warm_steps=2), 24.0)
    prev_out = film(0, first, None, None, None, 1.0)[0]
    settings = replace(film._warm(plan.at(i / 24).settings), seed=5)
    inputs = (frame, prev_in, prev_out, motion.backward, motion.consistent, 0.99)
    shape = frame.shape[:2]
    assert dreamer.one_call(shape, settings) and not dreamer.one_call(shape, replace(settings, octaves=2))
    assert not dreamer.one_call(shape, replace(settings, tile_size=8))  # tiled (the net's least tile is larger)

    one = carry.dream_carried(dreamer, inputs, settings, 1.0)
    assert isinstance(one, carry.Pictured) and len(dreamer.programs) == 1  # made the picture: one call did it all
    # the steps' rolls and the push are the call's: another seed or strength is another picture, the same call
    other = carry.picture_kept(carry.dream_carried(dreamer, inputs, replace(settings, seed=6), 3.0))[0]
    with monkeypatch.context() as m:
        m.setattr(dreamer, "one_call", lambda *_: False)  # as where the dream does not allow it
        three = carry.dream_carried(dreamer, inputs, settings, 1.0)
    assert not isinstance(three, carry.Pictured) and len(dreamer.programs) == 1
    one, three = carry.picture_kept(one)[0], carry.picture_kept(three)[0]
    assert np.array_equal(one, three), np.abs(one.astype(int) - three.astype(int)).max()
    assert np.abs(one.astype(int) - prev_out.astype(int)).mean() > 1  # a new frame, dreamed
    assert not np.array_equal(other, one) and len(dreamer.programs) == 1


def test_a_live_session_compiles_a_continuing_frames_device_calls_before_its_source_opens(media):
    """Where the carry runs on the device, `trace_and_time` (before a live source opens) compiles the calls a
    continuing frame makes there (carried, dreamed and made the picture in one, a program per step count the fit
    may choose) and those of a frame carried without a dream of its own (the carry, the picture), so the session's
    frames compile none, whatever steps the fit gives them; where it runs on the host, none of them is made at
    all. Fresh compiled functions (traces counted from 0), a cold frame and continuing ones of a real clip at full
    size, their warm steps each of the fitted counts in turn (as a GPU's fit moves them)."""
    from mmdream.core import backend, carry
    from mmdream.media.ffmpeg import even_size, probe, read_video_frames
    from mmdream.pipelines.film.frames import _decoded_with_motion
    from mmdream.pipelines.live.controls import FITTED_STEPS
    from mmdream.pipelines.live.session import trace_and_time
    from mmdream.pipelines.live.setup import live_frames, live_parts
    from mmdream.specs import make_spec

    src = str(media / "video" / "big_buck_bunny_0_30.webm")
    size = even_size(*probe(src).video_size, 96)
    frames = list(read_video_frames(src, size, 24.0, 2.0, 2.0 + (len(FITTED_STEPS) + 2) / 24))
    recipe, options = live_parts(make_spec("live", {"net": "efficientnet_lite0", "max_size": 96}))

    def traces() -> int:  # the carry and the picture (a frame carried without a dream) and a continuing frame's call
        return backend.traces(carry._compiled(), carry._compiled_picture(), *frame_fn.dreamer.programs.values())

    for on_device in (False, True):
        carry._compiled.cache_clear()
        carry._compiled_picture.cache_clear()
        frame_fn, _ = live_frames(recipe, options, 24.0)
        frame_fn.carry_on_device = on_device  # what a GPU sets
        frame_fn.opts.warm_scale = 1.0  # a continuing frame at full size: the frames the device carries
        trace_and_time(frame_fn, size)
        before = traces()
        assert before == (2 + len(FITTED_STEPS) if on_device else 0), (on_device, before)
        prev_out, rows = None, []
        for i, frame, prev_in, motion in _decoded_with_motion(iter(frames), 0):
            frame_fn.opts.warm_steps = FITTED_STEPS[(i - 1) % len(FITTED_STEPS)]  # what the fit sets
            prev_out, row = frame_fn(i, frame, prev_in, prev_out, motion, 1.0)
            rows.append(row)
        assert [r["cold"] for r in rows] == [True] + [False] * (len(frames) - 1)
        assert sorted({r["steps"] for r in rows[1:]}) == list(FITTED_STEPS), rows
        assert all(r["scale"] == 1.0 for r in rows[1:]), rows
        # on the device the frames used the calls compiled before them and compiled none; on the host none at all
        assert traces() == before, (on_device, traces(), before)


def test_a_films_continuing_programs_are_made_while_its_first_frame_dreams(media, tmp_path, monkeypatch):
    """Where the carry runs on the device (a GPU sets it; forced here), a film makes a continuing frame's programs
    (`compile_continuing`) on a thread of its own while its first frame, a cold one, dreams, and they are made
    before the second frame's turn; the film is the same bytes as one whose second frame made them at its turn."""
    import threading
    import time

    import mmdream
    from mmdream.core import backend
    from mmdream.pipelines.film import frames

    monkeypatch.setattr(backend, "on_gpu", lambda: True)
    made, turns = [], {}
    make, call = frames.FrameDreamer.compile_continuing, frames.FrameDreamer.__call__

    def timed_make(self, size, steps=()):
        start = time.perf_counter()
        make(self, size, steps)
        made.append((threading.current_thread().name, start, time.perf_counter()))

    def timed_call(self, i, *args):
        start = time.perf_counter()
        out = call(self, i, *args)
        turns.setdefault(i, (start, time.perf_counter()))
        return out

    monkeypatch.setattr(frames.FrameDreamer, "compile_continuing", timed_make)
    monkeypatch.setattr(frames.FrameDreamer, "__call__", timed_call)
    common = {"max_size": 96, "end": 0.5, "octaves": 2, "steps": 2, "soundtrack": "none"}
    clip = media / "video" / "big_buck_bunny_0_30.webm"
    ahead = mmdream.dream_video(clip, tmp_path / "ahead.mp4", **common)
    assert [r["cold"] for r in ahead.figures["per_frame"][:3]] == [True, False, False]
    assert len(made) == 1 and made[0][0].startswith("mmdream-compile"), made
    first_end, second_start = turns[0][1], turns[1][0]
    assert made[0][1] < first_end and made[0][2] <= second_start, (made, turns)  # beside the first, before the second

    monkeypatch.setattr(frames, "_continuing_made_ahead", lambda *_: None)  # made at the second frame's turn
    made.clear()
    mmdream.dream_video(clip, tmp_path / "at_its_turn.mp4", **common)
    assert not made and (tmp_path / "at_its_turn.mp4").read_bytes() == (tmp_path / "ahead.mp4").read_bytes()


def test_a_gpu_bench_part_takes_its_own_commands_with_it_when_it_outlasts_its_time(tmp_path):
    """A GPU part that runs out of time is killed with every process it started (live's `mmdream live` had held
    the GPU's memory and the host's cores through the parts timed after it); one that ends gives its status."""
    bench = script_module("bench")
    pid_file = tmp_path / "grandchild.pid"
    part = [sys.executable, "-c", "import subprocess, sys, time; "
            f"p = subprocess.Popen(['sleep', '60']); open({str(pid_file)!r}, 'w').write(str(p.pid)); "
            "time.sleep(60)"]
    with (tmp_path / "err.log").open("w") as err:
        t0 = time.monotonic()
        assert bench.run_part(part, dict(os.environ), err, timeout=3.0) is None
        assert time.monotonic() - t0 < 20
        grandchild = int(pid_file.read_text())
        for _ in range(50):  # reaped by init once its parent is gone
            try:
                if "State:\tZ" in Path(f"/proc/{grandchild}/status").read_text():
                    break
            except FileNotFoundError:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"the part's own command {grandchild} outlived it")
        assert bench.run_part([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), err, 30.0) == 3


def test_the_gpu_bench_times_the_frame_source_and_says_why_nvdec_could_not_run(media, tmp_path):
    """scripts/bench.py's decode part (run on a lent GPU against NVDEC): the film's frame source decodes every frame
    of the clip, timed; NVDEC's row is either every frame too, close to the frame source's picture, or the reason it
    could not run (here: PyNvVideoCodec is not installed), never a failed bench."""
    import importlib.util

    from mmdream.media.ffmpeg import probe

    bench = script_module("bench")

    clip = bench.film_clip(tmp_path / "clip.mp4", 2.0, 1.0)
    row = bench.decode_pair(clip)
    info = probe(str(clip))
    frames = round(info.duration * info.fps)
    assert row["size"] == [540, 360] and row["cpu"]["frames"] == frames == 24, row
    assert row["cpu"]["frames_per_s"] > 0 and row["cpu"]["cpu_ms_per_frame"] > 0, row
    if importlib.util.find_spec("PyNvVideoCodec") is None:
        assert row["nvdec"] == {"error": "ModuleNotFoundError: No module named 'PyNvVideoCodec'"}, row
    elif "error" not in row["nvdec"]:
        assert row["nvdec"]["frames"] == frames and row["nvdec"]["mean_abs_diff_last_frame"] < 8, row
