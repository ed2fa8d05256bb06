"""The dream on JAX's CPU backend (`--backend jax`) and on PyTorch's (`--backend torch`), so the paths a GPU
runs cannot rot: each case runs the real command in a process of JAX's (a picture and a sound in one of PyTorch's
too) and again on TensorFlow (in the test's own process), with the same seed, and compares what they measured;
those processes never import TensorFlow. The cases share one process per backend (conftest.CliProcess); what is
about a process's start (`auto`, the compilation cache, live) starts its own. Small sizes and few steps: XLA's CPU
convolutions are slower than oneDNN's, and each shape compiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, CliProcess, run_fresh, run_here

pytestmark = pytest.mark.xdist_group("jax")  # one process per backend for the module: its tests on one worker

# `mmdream ARGS` in this process's interpreter; then whether TensorFlow was ever imported, on stderr's last line.
RUN = """import runpy, sys
sys.argv = ["mmdream", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("mmdream", run_name="__main__")
except SystemExit as e:
    code = e.code or 0
print("tensorflow imported:", "tensorflow" in sys.modules, file=sys.stderr)
sys.exit(code)
"""


def on(backend: str, *argv) -> tuple[subprocess.CompletedProcess, bool]:
    """`mmdream ARGV --backend BACKEND`; the finished process and whether it imported TensorFlow."""
    env = _env_without_backend()
    done = subprocess.run([sys.executable, "-c", RUN, *map(str, argv), "--backend", backend], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=600)
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    return done, last.endswith("True")


def _env_without_backend(*more: str) -> dict[str, str]:
    """This environment without what chooses a backend (and `more`): each command names its own."""
    return {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "MMDREAM_BACKEND", *more)}


class Processes(dict):
    """backend -> the module's one process on it, started when a test first asks."""

    def __missing__(self, backend: str) -> CliProcess:
        self[backend] = CliProcess(_env_without_backend())
        return self[backend]


@pytest.fixture(scope="module")
def processes():
    started = Processes()
    yield started
    for proc in started.values():
        proc.close()


def dreamed_on_both(processes, tmp_path: Path, *argv, out: str, backends: tuple[str, ...] = ("jax",)
                    ) -> dict[str, dict]:
    """The same command on each of `backends` (each in its process) and on TensorFlow (in this one): each one's
    report, each of the others checked to have run without TensorFlow."""
    reports = {}
    for backend in (*backends, "tensorflow"):
        rep = tmp_path / f"{backend}.json"
        mine = (*argv, "-o", tmp_path / f"{backend}{out}", "--report", rep, "--backend", backend)
        if backend == "tensorflow":  # the reference: this process's own backend, its nets already built
            done, imported_tf = run_here(*mine), True
        else:
            done, imported_tf = processes[backend].run(*mine)
        assert done.returncode == 0, done.stderr[-2000:]
        reports[backend] = json.loads(rep.read_text())
        assert reports[backend]["backend"]["name"] == backend
        if backend != "tensorflow":
            assert not imported_tf, f"the {backend} run imported TensorFlow"
    return reports


def test_a_picture_dreams_on_jax_and_on_torch_without_tensorflow_and_gains_as_on_tensorflow(media, tmp_path, processes):
    reports = dreamed_on_both(processes, tmp_path, "image", media / "images" / "chelsea.png", "--max-size", "128",
                              "--octaves", "2", "--steps", "4", "--precision", "fp32", out=".png",
                              backends=("jax", "torch"))
    tf = reports["tensorflow"]["objective_gain"]
    for backend in ("jax", "torch"):
        gain = reports[backend]["objective_gain"]
        assert gain > 1.2 and abs(gain / tf - 1) <= 0.10, (backend, gain, tf)
        assert reports[backend]["backend"]["device"] == "cpu"


def test_a_film_dreams_on_jax_without_tensorflow_as_on_tensorflow(media, tmp_path, processes):
    reports = dreamed_on_both(processes, tmp_path, "video", media / "video" / "cockatoo.mp4", "--end", "1", "--fps", "6",
                              "--max-size", "96", "--no-audio", "--precision", "fp32", out=".mp4")
    jax, tf = reports["jax"], reports["tensorflow"]
    assert jax["frames"] == tf["frames"] == 6
    assert jax["objective_measured_frames"] == tf["objective_measured_frames"] > 0
    gain = jax["objective_gain_mean"], tf["objective_gain_mean"]
    assert gain[0] > 1.1 and abs(gain[0] / gain[1] - 1) <= 0.10, gain
    assert jax["flicker_mean"] <= 1.10 * tf["flicker_mean"] + 1e-3, (jax["flicker_mean"], tf["flicker_mean"])
    # The pixels themselves part: an ascent amplifies the backends' last-bit differences (8.8 of 255 apart here).


def test_a_sound_dreams_on_jax_and_on_torch_without_tensorflow_as_on_tensorflow(media, tmp_path, processes):
    reports = dreamed_on_both(processes, tmp_path, "audio", media / "audio" / "music" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg",
                              "--duration", "3", "--steps", "3", "--precision", "fp32", out=".wav",
                              backends=("jax", "torch"))
    tf = reports["tensorflow"]
    for backend in ("jax", "torch"):
        ours = reports[backend]
        assert ours["duration_s"] == pytest.approx(tf["duration_s"]) == pytest.approx(3.0, abs=0.05)
        assert ours["objective_gain"] > 1.1 and abs(ours["objective_gain"] / tf["objective_gain"] - 1) <= 0.10, (
            backend, ours["objective_gain"], tf["objective_gain"])
        assert abs(ours["output_loudness_lufs"] - tf["output_loudness_lufs"]) <= 0.5


def test_a_zoom_with_its_sound_dreams_on_jax_without_tensorflow_as_on_tensorflow(media, tmp_path, processes):
    reports = dreamed_on_both(processes, tmp_path, "zoom", media / "images" / "chelsea.png", "--seconds", "1", "--max-size", "96",
                              "--audio", "noise", "--precision", "fp32", out=".mp4")
    jax, tf = reports["jax"], reports["tensorflow"]
    assert jax["frames"] == tf["frames"] == 24
    gain = jax["objective_gain_vs_moved_mean"], tf["objective_gain_vs_moved_mean"]
    assert gain[0] > 1.05 and abs(gain[0] / gain[1] - 1) <= 0.10, gain


@pytest.mark.serial  # how many frames are dreamed in real time depends on the host's pace: alone on it
def test_live_dreams_on_jax_without_tensorflow_and_writes_every_frame(media, tmp_path):
    rep = tmp_path / "live.json"
    done, imported_tf = on("jax", "live", media / "video" / "cockatoo.mp4", "--realtime", "--seconds", "2",
                           "--max-size", "96", "--precision", "fp32", "--no-keys", "-o", tmp_path / "live.mp4",
                           "--report", rep)
    assert done.returncode == 0 and not imported_tf, done.stderr[-2000:]
    r = json.loads(rep.read_text())
    assert r["backend"]["name"] == "jax" and r["frames_out"] == r["frames_in"] >= 40
    assert r["dreamed_frames"] >= 5, (r["dreamed_frames"], r["carried_frames"])  # here 38 of 40; a slow host carries more


def test_style_of_a_picture_and_a_sound_on_jax_without_tensorflow_as_on_tensorflow(media, tmp_path, processes):
    pictures = dreamed_on_both(processes, tmp_path, "style", "image", media / "images" / "chelsea.png", "--style",
                               media / "images" / "Starry_Night.jpeg", "--net", "efficientnet_lite0", "--max-size",
                               "96", "--style-steps", "20", "--precision", "fp32", out=".png")
    sounds = dreamed_on_both(processes, tmp_path, "style", "audio", media / "audio" / "music" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg",
                             "--style", media / "audio" / "short" / "bell.oga", "--duration", "1",
                             "--audio-style-steps", "8", "--filters", "512", out=".wav")
    for reports in (pictures, sounds):
        drop = reports["jax"]["style_loss_drop"], reports["tensorflow"]["style_loss_drop"]
        assert drop[0] > 1.2 and abs(drop[0] / drop[1] - 1) <= 0.10, drop
    assert abs(sounds["jax"]["output_loudness_lufs"] - sounds["tensorflow"]["output_loudness_lufs"]) <= 0.5


STEP_TWICE = """
import mmdream  # MMDREAM_BACKEND chooses Keras' backend here, before Keras is imported
import keras, numpy as np
assert keras.backend.backend() == "jax", keras.backend.backend()
from mmdream.core import backend
from mmdream.core.engine import Dreamer, DreamSettings, Objective
from mmdream.nets import load_net
net = load_net("efficientnet_lite0", precision="fp32")  # its own weights: random ones dream alike at any layer
layers = list(net.default_layers)
d = Dreamer(net, Objective({layers[0]: 1.0, layers[-1]: 1.0}))
x = np.random.default_rng(0).uniform(-1, 1, (1, 96, 96, 3)).astype(np.float32)
s = DreamSettings(octaves=1, steps=2)
first = d.dream(x, s)
d.set_layer_weights({layers[-1]: 1.0})  # a schedule moving weight between layers: no recompile, a new dream
second = d.dream(x, s)
d.dream(x[:, :80, :88], s)  # a new shape: one more compile each, never more
print(backend.traces(d._grad, d._step), float(np.abs(first - second).mean()))
"""


# Before RUN: count the compilations JAX reads from its persistent cache, said on stderr's last line at exit.
COUNT_HITS = """import atexit, sys
import jax.monitoring
asked, hits = [], []
jax.monitoring.register_event_listener(lambda event, **_: (
    asked.append(event) if event == "/jax/compilation_cache/compile_requests_use_cache" else
    hits.append(event) if event == "/jax/compilation_cache/cache_hits" else None))
atexit.register(lambda: print("compiled, read from the cache:", len(asked), len(hits), file=sys.stderr))
"""


def test_what_jax_compiled_is_kept_and_a_later_process_reads_it_instead(media, tmp_path):
    """On a GPU a step compiles for many seconds per shape; the second process of the same dream reads every one of
    the first's compilations from mmdream's cache (xla/ under MMDREAM_CACHE), the small ones too (JAX keeps only
    those over a second by default), and dreams the same picture (from random weights: neither process imports
    TensorFlow)."""
    env = {**_env_without_backend("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"),
           "MMDREAM_CACHE": str(tmp_path / "cache")}
    runs = []
    for i in range(2):
        done = subprocess.run([sys.executable, "-c", COUNT_HITS + RUN, "image", str(media / "images" / "chelsea.png"), "-o",
                               str(tmp_path / f"{i}.png"), "--max-size", "96", "--octaves", "1", "--steps", "2",
                               "--weights", "random", "--precision", "fp32", "--backend", "jax"],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        asked, hits = map(int, done.stderr.strip().splitlines()[-1].split()[-2:])
        runs.append((asked, hits))
        # random weights seeded by Keras alone: TensorFlow, installed here, is never imported for them
        assert "tensorflow imported: False" in done.stderr, done.stderr[-2000:]
        if i == 0:
            kept = list((tmp_path / "cache" / "xla").iterdir())
    (asked_first, hits_first), (asked, hits) = runs
    assert hits_first == 0 and asked_first >= 2 and len(kept) >= asked_first, (runs, kept)  # each one written
    assert hits == asked == asked_first, runs  # every compilation read back: none compiled again
    assert (tmp_path / "0.png").read_bytes() == (tmp_path / "1.png").read_bytes()


def test_a_compiled_step_reads_new_layer_weights_and_compiles_once_per_shape():
    env = {**{k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}, "MMDREAM_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-c", STEP_TWICE], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    traces, moved = done.stdout.split()
    assert int(traces) == 2, traces  # the step at two shapes; the tile gradient never (the frames fit)
    assert float(moved) > 1e-3, moved  # the new weights were read, not the ones compiled in (TensorFlow: 0.02)


@pytest.mark.parametrize("env, flags, message", [
    ({"MMDREAM_BACKEND": "theano"}, [], "backend must be auto, tensorflow, jax, torch; not 'theano'"),
    ({}, ["--backend", "theano"], "argument --backend: invalid choice: 'theano'"),
])
def test_a_backend_that_is_not_one_is_refused_in_one_line(media, tmp_path, env, flags, message):
    done = run_fresh("image", media / "images" / "chelsea.png", "-o", tmp_path / "x.png", *flags, cwd=ROOT,
                     env={**os.environ, **env}, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and message in lines[-1], done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "x.png").exists()


def _cache_with_weights(folder: Path) -> Path:
    """An mmdream cache holding the converted offline weights and nothing measured."""
    from mmdream.nets.cache import cache_dir

    folder.mkdir()
    for weights in cache_dir().glob("*.npz"):
        (folder / weights.name).symlink_to(weights)
    return folder


def test_auto_times_the_named_net_on_each_backend_once_and_takes_the_fastest(media, tmp_path, monkeypatch):
    """On a CPU, `--backend auto --net NET` times one dream step of NET on every installed backend (each in a
    process of its own), caches the timings, and dreams on the fastest; the next run reads the cache and takes
    what it says (JAX, where the timings written are changed to say so: without importing TensorFlow)."""
    from mmdream.pipelines.backends import backend_key

    cache = _cache_with_weights(tmp_path / "cache")
    monkeypatch.setenv("MMDREAM_CACHE", str(cache))
    argv = ["image", media / "images" / "chelsea.png", "--net", "efficientnet_lite0", "--max-size", "64",
            "--octaves", "1", "--steps", "1", "--precision", "fp32"]
    done, _ = on("auto", *argv, "-o", tmp_path / "timed.png", "--report", tmp_path / "timed.json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.count("timing a dream step of efficientnet_lite0") == 1, done.stderr[-2000:]
    chosen = json.loads((tmp_path / "timed.json").read_text())["backend"]["name"]
    written = json.loads((cache / "backend.json").read_text())
    timed = written[backend_key("efficientnet_lite0")]
    steps = timed["step_s"]
    assert set(steps) >= {"tensorflow", "jax"} and all(s > 0 for s in steps.values()), timed
    assert chosen == min(steps, key=steps.get) == timed["choice"], (chosen, timed)

    # The next run: the cache as written, its timings changed so that JAX is the faster.
    timed.update(step_s={**steps, "tensorflow": 1.0, "jax": 0.5}, choice="jax")
    (cache / "backend.json").write_text(json.dumps(written))
    done, imported_tf = on("auto", *argv, "-o", tmp_path / "jax.png", "--report", tmp_path / "jax.json")
    assert done.returncode == 0 and not imported_tf, done.stderr[-2000:]
    assert "timing a dream step" not in done.stderr, done.stderr[-2000:]
    assert json.loads((tmp_path / "jax.json").read_text())["backend"]["name"] == "jax"


def test_a_class_is_explained_on_jax_and_on_torch_without_tensorflow_as_on_tensorflow(tmp_path, processes):
    """`mmdream explain` on each backend: the class picture is the class, top-1, with about the same objective."""
    reports = dreamed_on_both(processes, tmp_path, "explain", "efficientnet_lite0", "--class", "goldfish", "--steps", "24",
                              "--max-size", "96", "--precision", "fp32", out=".png", backends=("jax", "torch"))
    tf = reports["tensorflow"]["objectives"][0]
    for backend in ("jax", "torch"):
        ours = reports[backend]["objectives"][0]
        assert ours["top1"] and ours["probability"] > 0.5, (backend, ours)
        assert abs(ours["objective"] / tf["objective"] - 1) <= 0.25, (backend, ours["objective"], tf["objective"])
