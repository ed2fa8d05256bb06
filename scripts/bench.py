"""mmdream's speed in one run on this machine, as ratios: nothing here compares with figures taken elsewhere.

- film throughput (and the bound: frames/s if a frame cost only its warm steps, timed in the same run, and the
  film's share of it): frames/s of the `mmdream video` renderer (flow-carried dreams; decode, flow and writing in
  background threads; work folder, H.264 encoding and mux included) versus the classic per-frame recipe of DeepDream
  video tools (every frame dreamed independently: 4 octaves x1.4, 10 steps, same net, layers, step size and
  precision), each with its objective gain and flicker, on 20 s of big_buck_bunny_0_30.webm (2 s with --quick)
  cropped to 3:2 at 540x360 and at 320 px. Both are timed after one warm-up step at every octave, so tracing is in
  neither figure. The film renders as `mmdream video` does without --report (the objective measured on first frames
  and cuts alone); the bench scores every 8th frame it handed out after the render.
- precision per net: one dream step of each net (320x480) in fp32 and in bf16, timed in this run, beside the
  choice `--precision auto` made for that net (measured once per net, CPU and TensorFlow version, and cached).
- step efficiency: GFLOP/s of the engine's gradient step (2x the forward FLOPs of the truncated model's conv
  and dense layers: the forward plus the gradient with respect to the input) over the matmul peak in the same
  precision measured just before and after it, the median of paired rounds.
- start-up: `mmdream image chelsea.png` at defaults, its wall time less its dream time less `import tensorflow`'s.
- audio real-time factor of `mmdream audio` at default settings on 60 s of music (the dream from decoding to the
  written file; the whole command, with net loading and the before/after measurement, is reported beside it).
- peak RSS for 10, 60 and 180 s of input (film and audio, each a fresh process); the objective gain of bf16
  against fp32.
- `--cluster` (alone, about 25 minutes): the Ray cluster render's scaling: `--workers 2` against `--workers 1`,
  one TensorFlow thread and one core per worker (every process of a render confined to its cores), the same film
  split the same way (frames/s from each render's report, and the whole command's time), and whether the films
  are the same frames; efficientnet_lite0 on a minute at 540 px and InceptionV3 (random weights) on the same minute
  at 320 px, three rounds each of one worker then two, the median ratio (the host's speed drifts).
  Beside it, what this host's two cores give two machines that share nothing: two independent one-machine renders
  at once, a core each, against one alone (two cores of one host share its memory bus, two nodes do not).

    python scripts/bench.py [--quick] [--json bench.json]   # --quick: lite0 only, fewer frames, < 2 min
- `--zoom` (alone, about 4 minutes): `mmdream zoom` on a photo, efficientnet_lite0: 10 s at 320 px with a dreamed
  soundtrack (the objective gain of every 8th frame over its moved input, flicker), the picture alone at 320 px in
  fp32 and in bf16 (frames/s from the report, the whole command's time), and a minute at 160 px (saturation and
  detail energy of the last 10 s against the first 10 s).

- `--follow` (alone, about 3 minutes): the film renderer on 20 s of bbb at 540 px with lite0, plain and following
  a class target on every frame, alternated; and the hearing pass against the plain render's time.

- `--backends` (alone, about 5 minutes): `mmdream video` on 5 s of bbb at 540 px with each net, on TensorFlow
  and on JAX (`--backend`), fp32, back to back: frames/s and objective gain, JAX over TensorFlow.

- `--live` (alone, about a minute): `mmdream live --realtime` on 20 s of big_buck_bunny (24 fps) at 320 px with
  efficientnet_lite0, without and with `--audio`: frames in and out, how many were dreamed and carried, latency
  per frame (p50, p95, max); with `--audio`, the sound chunks dreamed and their latency.

    python scripts/bench.py --cluster [--json cluster.json]
    python scripts/bench.py --zoom [--json zoom.json]
    python scripts/bench.py --live [--json live.json]
    python scripts/bench.py --film [--json film.json]     # the film rows alone, both nets, about 6 minutes
    python scripts/bench.py --startup [--json startup.json]
    python scripts/bench.py --follow [--json follow.json]   # what --follow costs the film, about 3 minutes
    python scripts/bench.py --backends [--json backends.json]   # JAX against TensorFlow on this CPU
    python scripts/bench.py --host-pipeline [--json host.json]   # the 1080p film's host side, under a minute
    python scripts/bench.py --against ../before [--json against.json]   # against `git worktree add ../before REV`
    python scripts/bench.py --gpu --json gpu.json   # on a GPU machine (see README)

- `--host-pipeline` (alone, under a minute): 3 s of bbb scaled to 1920x1080 rendered by the film renderer with a
  dream step that costs nothing (a bench-only stand-in handing each frame on), against its host bound:
  min(1 / the slowest stage's seconds a frame, cores / all stages' CPU seconds a frame), with decoding, the optical
  flow and encoding each timed alone in the same run; beside it, each stage's time inside the film (its report).

- `--against CHECKOUT` (alone, about 7 minutes): this checkout's `mmdream video` against another checkout's (a `git
  worktree` of an earlier revision) in this environment, lite0 and InceptionV3 at 540 px: frames/s on 5 s of bbb,
  the two in turn three times (the order alternating), the median ratio; and whether 2 s with its soundtrack at
  `--threads 1` comes out as the same bytes from both.

- `--gpu`: on a GPU, the film rows (lite0 at 540 px, InceptionV3 at 1080p, then the other two), audio's real-time
  factor on 60 s of music (twice: the first compiles), the style of a 1024 px photo (twice) and `mmdream live` at
  1280x720 (twice), on JAX, then eager PyTorch's beside them; each part in a process of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import IO

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import mmdream  # noqa: E402, F401, I001 - MMDREAM_BACKEND chooses Keras' backend here, before anything imports Keras

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
MEDIA = Path(os.environ.get("MMDREAM_MEDIA", ROOT.parent / "shared" / "media"))
CLIP = MEDIA / "video" / "big_buck_bunny_0_30.webm"
MUSIC = MEDIA / "audio" / "music" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"
CLASSIC = {"octaves": 4, "octave_scale": 1.4, "steps": 10}


# ---- inputs -------------------------------------------------------------------------------------------------
def film_clip(dst: Path, start: float, seconds: float, loops: int = 0, full_hd: bool = False) -> Path:
    """bbb from `start`, cropped to 3:2 and scaled to 540x360 (DeepDreamVideo's frame size), or scaled to 1920x1080,
    near-lossless."""
    from mmdream.media.ffmpeg import ffmpeg_exe

    loop = ["-stream_loop", str(loops)] if loops else []
    frame = "scale=1920:1080:flags=bicubic" if full_hd else "crop=1080:720,scale=540:360"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *loop, "-i", str(CLIP), "-ss", str(start), "-t", str(seconds),
                    "-vf", frame, "-c:v", "libx264", "-crf", "14", "-preset", "veryfast",
                    "-c:a", "aac", str(dst)], check=True)
    return dst


def _cpu_seconds() -> float:
    """This process's CPU seconds and its finished children's (ffmpeg's decoding and encoding)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_frames(work: Callable[[], int]) -> tuple[int, float, float]:
    """`work()`'s count of frames, the wall seconds it took and its CPU seconds (see `_cpu_seconds`)."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    n = work()
    return n, time.perf_counter() - wall, _cpu_seconds() - cpu


def host_pipeline(tmp: Path, seconds: float = 3.0) -> dict:
    """The 1080p film with a dream step that costs nothing (a bench-only stand-in: each frame handed on as it came),
    so what is left is the host's work: the render's frames/s against its host bound, min(1 / the slowest stage's
    seconds a frame, cores / the CPU seconds a frame of all stages), each stage timed alone in this run."""
    from mmdream.media.ffmpeg import probe, read_video_frames
    from mmdream.media.flow import FlowEstimator
    from mmdream.pipelines.film import FilmOptions, SoundPlan, dream_film
    from mmdream.pipelines.film.workfolder import WorkFolder

    clip = film_clip(tmp / "hd.mp4", 0.0, seconds, full_hd=True)
    info = probe(str(clip))
    size, fps = info.video_size, info.fps

    def costless(i, frame, prev_in, prev_out, motion, strength):
        return frame, {"frame": i, "time": i / fps, "cold": motion is None}

    film = dream_film(str(clip), str(tmp / "hd-dream.mp4"), costless, SoundPlan(),
                      FilmOptions(max_size=max(size), soundtrack="none", measure_every=0), {"bench": time.time()})
    stages: dict[str, dict] = {}

    def timed(name: str, work: Callable[[], int]) -> None:
        n, wall, cpu = timed_frames(work)
        stages[name] = {"wall_ms": 1000 * wall / n, "cpu_ms": 1000 * cpu / n}

    frames: list[np.ndarray] = []

    def decode() -> int:
        frames.extend(read_video_frames(str(clip), size, fps, 0.0, None))
        return len(frames)

    timed("decode", decode)

    def flow() -> int:
        estimator = FlowEstimator()
        for prev, frame in zip(frames, frames[1:]):
            estimator.motion(prev, frame)
        return len(frames) - 1

    def encode() -> int:
        work = WorkFolder(tmp / "alone.mp4", {"bench": "encode"})
        work.root.mkdir(parents=True, exist_ok=True)
        with work.encoding(size, fps):
            for i, frame in enumerate(frames):
                work.save(i, frame, {"frame": i, "cold": i == 0})
        return len(frames)

    timed("flow", flow)
    timed("encode", encode)
    cores = os.cpu_count() or 1
    slowest = max(v["wall_ms"] for v in stages.values())
    bound = min(1000 / slowest, 1000 * cores / sum(v["cpu_ms"] for v in stages.values()))
    rate = film["frames"] / film["frames_seconds"]
    return {"size": list(size), "frames": film["frames"], "frames_per_s": round(rate, 2),
            "host_bound_frames_per_s": round(bound, 2), "share_of_bound": round(rate / bound, 3),
            "stages_alone": {k: {m: round(v, 2) for m, v in row.items()} for k, row in stages.items()},
            "stages_in_the_film": film["stages"], "cores": cores}


def decode_pair(clip: Path, batch: int = 8) -> dict:
    """The clip decoded to RGB by the film's frame source (ffmpeg on the host's cores, frames in host memory) and by
    NVDEC (PyNvVideoCodec, frames in the device's memory handed to the backend through DLPack): frames/s and the
    host's CPU ms a frame for each, and how far NVDEC's last frame is from the frame source's (their YUV-to-RGB
    conversions differ). NVDEC goes behind the frame source only where it wins at 1080p; where it cannot run
    (no wheel, no driver, no decoder) the row says why."""
    from mmdream.media.ffmpeg import probe, read_video_frames

    info = probe(str(clip))
    last: list[np.ndarray] = []

    def decode() -> int:
        n = 0
        for frame in read_video_frames(str(clip), info.video_size, info.fps, 0.0, None):
            last[:], n = [frame], n + 1
        return n

    rows: dict = {"size": list(info.video_size), "cpu": _decode_rate(*timed_frames(decode))}
    try:
        rows["nvdec"] = nvdec_decode(clip, last[0] if last else None, batch)
    except Exception as e:  # noqa: BLE001 - a measurement: what stopped it is the row
        rows["nvdec"] = {"error": f"{type(e).__name__}: {e}"[:800]}
    if "frames_per_s" in rows["nvdec"]:
        rows["nvdec_over_cpu"] = round(rows["nvdec"]["frames_per_s"] / rows["cpu"]["frames_per_s"], 2)
    return rows


def _decode_rate(frames: int, seconds: float, cpu: float) -> dict:
    return {"frames": frames, "frames_per_s": round(frames / seconds, 1),
            "cpu_ms_per_frame": round(1000 * cpu / max(frames, 1), 2)}


def nvdec_decode(clip: Path, reference: np.ndarray | None, batch: int) -> dict:
    """`clip` through NVDEC, RGB in device memory, each frame copied into a backend array on the device (NVDEC's
    surfaces are reused), the last one brought back to compare with `reference`."""
    import keras
    import PyNvVideoCodec as nvc

    if keras.backend.backend() == "torch":
        import torch

        def on_device(frame):
            return torch.from_dlpack(frame).clone()
    else:
        import jax
        import jax.numpy as jnp

        def on_device(frame):
            return jnp.array(jax.dlpack.from_dlpack(frame), copy=True)

    last: list[np.ndarray] = []

    def decode() -> int:
        decoder = nvc.SimpleDecoder(str(clip), gpu_id=0, use_device_memory=True,
                                    output_color_type=nvc.OutputColorType.RGB)
        total, n, on = len(decoder), 0, None
        while n < total and (frames := decoder.get_batch_frames(min(batch, total - n))):
            for frame in frames:
                on, n = on_device(frame), n + 1
        if on is not None:
            last[:] = [keras.ops.convert_to_numpy(on)]  # waits for the device's copies
        return n

    row = _decode_rate(*timed_frames(decode))
    picture = last[0] if last else None
    if picture is not None and reference is not None and picture.shape == reference.shape:
        row["mean_abs_diff_last_frame"] = round(float(np.abs(picture.astype(np.float32) - reference).mean()), 2)
    else:
        row["shape"] = None if picture is None else list(picture.shape)
    return row


def music_clip(dst: Path, seconds: float) -> Path:
    """The music looped to `seconds`, as wav (ffmpeg alone: the parent stays small, see `memory`)."""
    from mmdream.media.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-stream_loop", "-1", "-i", str(MUSIC), "-t", str(seconds),
                    str(dst)], check=True)
    return dst


# ---- machine and engine -------------------------------------------------------------------------------------
def forward_flops(dreamer, shape: tuple[int, int]) -> float:
    """FLOPs (2 per multiply-add) of one forward pass of the truncated model at `shape`, layer by layer, from the
    layers' output shapes (Keras infers them without computing: any backend, any size)."""
    import keras

    weighted = [layer for layer in dreamer.features.layers if isinstance(
        layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D | keras.layers.Dense)]
    probe = keras.Model(dreamer.features.input, [layer.output for layer in weighted])
    outs = probe.compute_output_spec(keras.KerasTensor((1, *shape, dreamer.features.input.shape[-1])))
    total = 0.0
    for layer, out in zip(weighted, outs):
        positions = np.prod(out.shape[1:-1]) if len(out.shape) > 2 else 1
        total += 2.0 * positions * np.prod(layer.kernel.shape)
    return total


def frame_flops(dreamer, shape: tuple[int, int], settings) -> float:
    """FLOPs of dreaming one frame of `shape` with `settings`: per step a forward pass and the gradient back to the
    input (about as much again), at each octave's shape."""
    return sum(2 * forward_flops(dreamer, octave) * settings.steps for octave in dreamer.octaves(shape, settings))


def matmul_peak_gflops(precision: str, rounds: int = 5) -> float:
    """The best achieved GFLOP/s of square matmuls on Keras' backend's device: on a GPU 8192-wide, 20 queued
    back to back and one number fetched, on a CPU one 2048-wide."""
    from mmdream.core.backend import on_gpu
    from mmdream.pipelines.precision import matmul_gflops

    n, queued = (8192, 20) if on_gpu() else (2048, 1)
    return matmul_gflops(precision, n, rounds, queued)


def step_efficiency(net_name: str, precision: str, matmul_n: int, shape=(512, 512), rounds: int = 9) -> dict:
    """The step's GFLOP/s over the matmul peak, in paired rounds: a matmul, the step (best of two), a matmul.
    Each round's ratio uses the peak measured around its own step and the median round is reported: on a shared
    host the peak drifts between 150 and 300 GFLOP/s within a minute, so best-of figures taken apart would pair
    a quiet moment on one side with a busy one on the other."""
    import tensorflow as tf

    from mmdream.core.engine import Dreamer, Objective
    from mmdream.nets import load_net
    from mmdream.pipelines.precision import matmul_timer

    net = load_net(net_name, weights=_weights(net_name), precision=precision)
    d = Dreamer(net, Objective(dict(net.default_layers)))
    x = tf.random.stateless_uniform((1, *shape, 3), (3, 4), -1, 1)
    matmul = matmul_timer(precision, matmul_n)
    flops = 2 * forward_flops(d, shape)

    def step() -> float:
        t0 = time.perf_counter()
        d.step(x, (3, 5), 0.02).numpy()
        return time.perf_counter() - t0

    step()
    rows = []  # (step GFLOP/s, peak around it, step seconds)
    for _ in range(rounds):
        before, seconds, after = matmul(), min(step(), step()), matmul()
        rows.append((flops / seconds / 1e9, (before + after) / 2, seconds))
    rows.sort(key=lambda r: r[0] / r[1])
    ratios = [g / p for g, p, _ in rows]
    mid = len(rows) // 2
    gflops, peak, seconds = rows[mid]
    return {"net": net_name, "layers": net.default_layers, "shape": list(shape), "precision": precision,
            "step_s": round(seconds, 4), "gflop_per_step": round(flops / 1e9, 2), "peak_gflops": round(peak, 1),
            "gflops": round(gflops, 1), "efficiency": round(ratios[mid], 3), "rounds": rounds,
            "efficiency_quartiles": [round(ratios[len(rows) // 4], 3), round(ratios[(3 * len(rows)) // 4], 3)],
            "best_step_s": round(min(r[2] for r in rows), 4), "best_peak_gflops": round(max(r[1] for r in rows), 1)}


def _weights(net_name: str) -> str:
    """ImageNet weights where available offline, else random ones (fine for timing), seeded so that runs
    dream the same net."""
    import keras

    from mmdream.nets import specs

    spec = next(s for s in specs() if s.name == net_name)
    if spec.offline():
        return "imagenet"
    keras.utils.set_random_seed(0)
    return "random"


# ---- film ---------------------------------------------------------------------------------------------------
def film_pair(net_name: str, clip: Path, size: int, frames: int, classic_frames: int, precision: str,
              tmp: Path, tile_size: int | None = None) -> dict:
    """mmdream's film renderer against the classic per-frame recipe on the same frames (`tile_size`: the dream's
    --tile-size, None: the default)."""
    from mmdream.media.ffmpeg import even_size, probe, read_video_frames
    from mmdream.media.picture import to_dream_space
    from mmdream.nets import load_net
    from mmdream.pipelines.film import FILM_DEFAULTS, Dreaming, FilmOptions, FrameDreamer, SoundPlan, dream_film
    from mmdream.plan import build_plan

    net = load_net(net_name, weights=_weights(net_name), precision=precision)
    info = probe(str(clip))
    fps = info.fps
    # as `mmdream video` renders without --report: the objective is measured on the first frame and cuts alone; the
    # bench measures every 8th frame after the render, on the frames it handed out
    opts = FilmOptions(max_size=size, end=frames / fps, soundtrack="none", measure_every=0)
    dreamer, plan = build_plan("image", net, FILM_DEFAULTS, {"tile_size": tile_size})
    defaults = plan.at(0.0).settings  # as `mmdream video` takes them: on a GPU a frame's gradient is one call
    dims = even_size(*info.video_size, size)
    warm_up = np.zeros((dims[1], dims[0], 3), np.float32)
    dreamer.dream(warm_up, replace(defaults, steps=1))  # every octave's shape: oneDNN sets up per shape
    dreamer.score(warm_up)
    FrameDreamer(Dreaming(dreamer, plan), opts, fps).compile_continuing(dims)  # the device's carry and picture
    kept: dict[int, np.ndarray] = {}

    def render(name: str, **more) -> dict:  # this film, rendered by mmdream's film renderer
        frame_fn = ThreadTimed(FrameDreamer(Dreaming(dreamer, plan), opts, fps))
        film = dream_film(str(clip), str(tmp / f"{name}-{net_name}-{size}.mp4"), frame_fn, SoundPlan(), opts,
                          {"bench": time.time()}, **more)
        return {**film, "network_thread": frame_fn.figures()}

    film = render("film", on_frame=lambda i, rgb: kept.update({i: rgb} if i % 8 == 0 else {}))
    film_fps = film["frames"] / film["seconds"]  # frames, work folder, encoding, mux: the whole render
    # the host's threads (MMDREAM_BENCH_PROFILE=1): the film as it ran before 2026-11-27 (OpenCV on every core,
    # four flows, flicker on the writer's thread, three frames behind); then once more as the first (a later film
    # of a process ran faster on the H100 whichever way: a warm-up)
    looked = {"opencv_own_threads_4_flows": film_again(
                  lambda: render("opencv_own"), opencv_beside_the_network=contextlib.nullcontext,
                  flow_workers=lambda: 4, flicker_workers=lambda: 0, writer_depth=lambda: 3),
              "again": film_again(lambda: render("again"))} if os.environ.get("MMDREAM_BENCH_PROFILE") else {}
    film_gains = [dreamer.score(to_dream_space(kept[i])) / dreamer.score(to_dream_space(frame))
                  for i, frame in enumerate(read_video_frames(str(clip), dims, fps, 0.0, frames / fps)) if i in kept]
    warm = replace(defaults, octaves=opts.warm_octaves, steps=opts.warm_steps or 1)
    frame = np.random.default_rng(0).uniform(-1, 1, (dims[1], dims[0], 3)).astype(np.float32)
    step_s = []
    for _ in range(5):  # the network's own limit: one warm frame's steps, nothing else, timed in this run
        t0 = time.perf_counter()
        dreamer.dream(frame, warm, strength=opts.warm_strength)
        step_s.append(time.perf_counter() - t0)
    bound_fps = 1 / float(np.median(step_s))
    device_s = device_frame_seconds(dreamer, frame, warm, opts.warm_strength)
    flops = frame_flops(dreamer, (dims[1], dims[0]), warm)  # a continuing frame's dream
    peak = matmul_peak_gflops(precision)

    warm_s = [r["seconds"] for r in film["per_frame"] if not r["cold"]]
    row = {"net": net_name, "size": list(dims), "precision": precision, "tile_size": defaults.tile_size,
           "frames": film["frames"], "cold_frames": film["cold_frames"],
           "frame_fn_ms_median": round(1000 * float(np.median(warm_s)), 2) if warm_s else None,
           "first_frames_ms": first_frames_ms(film),
           "mmdream": {"frames_per_s": round(film_fps, 3), "objective_gain": round(float(np.mean(film_gains)), 3),
                       "flicker": round(film["flicker_mean"], 3)},
           "bound_frames_per_s": round(bound_fps, 2), "share_of_bound": round(film_fps / bound_fps, 3),
           "stages": film.get("stages"), "waiting_for_the_writer": film.get("waiting_for_the_writer"),
           "net_busy_share": film.get("net_busy_share"),
           "phases_s": {k: round(v, 3) for k, v in film["phases_s"].items()},
           # the step near the hardware: a continuing frame's FLOPs at the step's and at the film's rate, over a
           # matmul's FLOP/s on the same device in this run
           "gflop_per_frame": round(flops / 1e9, 2), "matmul_peak_gflops": round(peak, 1),
           "step_share_of_matmul": round(flops * bound_fps / 1e9 / peak, 4),
           "device_frame_ms": round(1000 * device_s, 2), "device_share_of_matmul": round(flops / device_s / 1e9 / peak, 4),
           "film_share_of_matmul": round(flops * film_fps / 1e9 / peak, 4),
           "network_thread": film["network_thread"],
           **looked}
    return {**row, **classic_recipe(dreamer, clip, dims, fps, classic_frames, defaults, film_fps,
                                    float(np.mean(film_gains)), film["flicker_mean"])} if classic_frames else row


def film_again(render: Callable[[], dict], **policy: Callable) -> dict:
    """The film once more (`render`), warm; `policy`: functions of mmdream.pipelines.film.frames replaced for this
    film (the host's threads). Its frames/s, stages and the network thread's CPU."""
    from mmdream.pipelines.film import frames

    before = {name: getattr(frames, name) for name in policy}
    for name, fn in policy.items():
        setattr(frames, name, fn)
    try:
        film = render()
    finally:
        for name, fn in before.items():
            setattr(frames, name, fn)
    return {"frames_per_s": round(film["frames"] / film["seconds"], 3), "stages": film.get("stages"),
            "waiting_for_the_writer": film.get("waiting_for_the_writer"),
            "net_busy_share": film.get("net_busy_share"), "phases_s": film.get("phases_s"),
            "network_thread": film["network_thread"], "first_frames_ms": first_frames_ms(film)}


def first_frames_ms(film: dict, count: int = 8) -> list[float]:
    """The first frames' dream milliseconds: where a process's first film parts from a later one (a first call of
    a program, a pool's start) it shows here, not in the medians."""
    return [round(1000 * row["seconds"], 1) for row in film["per_frame"][:count]]


class ThreadTimed:
    """A film's frame function with its thread's CPU seconds counted beside its wall seconds: where they part, the
    network's thread waited for a core or for the interpreter, not for its own work."""

    def __init__(self, frame_fn) -> None:
        self.frame_fn, self.stage, self.cpu, self.wall, self.calls = frame_fn, frame_fn.stage, 0.0, 0.0, 0

    def __call__(self, *args):
        c, w = time.thread_time(), time.perf_counter()
        try:
            return self.frame_fn(*args)
        finally:
            self.cpu += time.thread_time() - c
            self.wall += time.perf_counter() - w
            self.calls += 1

    def figures(self) -> dict:
        n = max(self.calls, 1)
        return {"cpu_ms_per_frame": round(1000 * self.cpu / n, 2), "wall_ms_per_frame": round(1000 * self.wall / n, 2)}


def device_frame_seconds(dreamer, frame: np.ndarray, warm, strength: float, queued: int = 10) -> float:
    """A continuing frame's dream where the frame already is on the dream's device and stays there: `queued` of them
    back to back, one number fetched at the end (the median of three such runs), so neither the transfers nor the
    host's wait between calls are in it, as they are in the step bound."""
    from mmdream.core import backend

    x = backend.tensor(frame)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(queued):
            y = dreamer.dream(x, warm, strength=strength, on_device=True)
        float(backend.array(y[0, 0, 0]))
        runs.append((time.perf_counter() - t0) / queued)
    return float(np.median(runs))


def classic_recipe(dreamer, clip: Path, dims: tuple[int, int], fps: float, frames: int, defaults, film_fps: float,
                   film_gain: float, film_flicker: float) -> dict:
    """The classic per-frame recipe on the film's first `frames` frames, beside the film's figures."""
    from mmdream.core.engine import DreamSettings
    from mmdream.media.ffmpeg import read_video_frames
    from mmdream.media.flow import FlowEstimator, flicker
    from mmdream.media.picture import from_dream_space, to_dream_space

    classic = DreamSettings(**CLASSIC, tile_size=defaults.tile_size)
    dreamer.dream(np.zeros((dims[1], dims[0], 3), np.float32), replace(classic, steps=1))  # its shapes compiled
    rows, prev_in, prev_out, flow = [], None, None, FlowEstimator()
    spent = 0.0
    for i, frame in enumerate(read_video_frames(str(clip), dims, fps, 0.0, frames / fps)):
        t0 = time.perf_counter()
        dreamed = from_dream_space(dreamer.dream(to_dream_space(frame), replace(classic, seed=i)))
        spent += time.perf_counter() - t0
        row = {"objective_gain": dreamer.score(to_dream_space(dreamed)) / dreamer.score(to_dream_space(frame))}
        if prev_in is not None:
            row["flicker"] = flicker(prev_out, dreamed, flow.motion(prev_in, frame))
        rows.append(row)
        prev_in, prev_out = frame, dreamed
    classic_fps = len(rows) / spent  # dreaming alone: decoding and encoding are not even counted
    classic_gain = float(np.mean([r["objective_gain"] for r in rows]))
    classic_flicker = float(np.mean([r["flicker"] for r in rows[1:]]))
    return {"classic_frames": len(rows),
            "classic": {"frames_per_s": round(classic_fps, 3), "objective_gain": round(classic_gain, 3),
                        "flicker": round(classic_flicker, 3)},
            "speed_ratio": round(film_fps / classic_fps, 2), "gain_ratio": round(film_gain / classic_gain, 3),
            "flicker_ratio": round(film_flicker / classic_flicker, 3)}


# On a GPU each part runs in a fresh process per backend (Keras takes its backend once per process), so a failing or
# slow part costs only itself: the lent machine's time is short. JAX: the compiled dream; torch: the eager path.
GPU_PARTS = {
    "jax": ["film:efficientnet_lite0:540", "film:inception_v3:1920", "audio", "style", "live:1280",
            "film:inception_v3:540", "film:efficientnet_lite0:1920", "decode:1920"],
    "torch": ["film:efficientnet_lite0:540", "film:inception_v3:1920", "audio", "style", "live:1280"],
}


# A GPU part's name may end in one of these, for XLA's flags: `noautotune`, cuDNN's heuristics pick the convolution
# algorithms instead of timing them; `graphs`, the kinds of call XLA can record into CUDA graphs (command buffers)
# recorded however short a run of them is (XLA's default: five), `nographs` none: a continuing frame is hundreds of
# small kernels, and the network's thread launches what no graph holds one by one.
XLA_VARIANTS = {"noautotune": "--xla_gpu_autotune_level=0",
                "graphs": "--xla_gpu_enable_command_buffer=FUSION,CUBLAS,CUBLASLT,CUDNN,CUSTOM_CALL "
                          "--xla_gpu_graph_min_graph_size=1",
                "nographs": "--xla_gpu_enable_command_buffer="}


def gpu_bench(tmp: Path, out: Path, seconds: float, parts: list[str], part_timeout: float, classic: int = 3) -> dict:
    """Each of `parts` ("backend/part", see GPU_PARTS) in its own process (`--gpu-part`), written to `out` as it
    is done; a part that fails or outlasts `part_timeout` is recorded with its last lines, and the run goes on.
    `classic`: the classic recipe's frames beside each compiled film (0: none; its pyramid compiles for minutes).
    Eager PyTorch's films are a second long (a 1080p frame takes it about a second)."""
    clips = {size: film_clip(tmp / f"clip{size}.mp4", 2.0, seconds, full_hd=size == 1920) for size in (540, 1920)}
    result: dict = {"seconds": seconds, "parts": []}
    for backend, part in (p.split("/", 1) for p in parts):
        env = {**os.environ, "MMDREAM_BACKEND": backend}
        if part.rsplit(":", 1)[-1] in XLA_VARIANTS:  # the part with XLA told otherwise (see XLA_VARIANTS)
            part, variant = part.rsplit(":", 1)
            env["XLA_FLAGS"] = " ".join(filter(None, [os.environ.get("XLA_FLAGS", ""), XLA_VARIANTS[variant]]))
        clip = clips[int(part.rsplit(":", 1)[1])] if part.startswith(("film", "decode")) else CLIP
        part_json = tmp / f"{backend}-{part.replace(':', '-')}.json"
        cmd = [sys.executable, str(Path(__file__)), "--gpu-part", part, "--json", str(part_json), "--clip", str(clip),
               "--classic", "0" if backend == "torch" else str(classic), "--frames", "24" if backend == "torch" else "0"]
        t0 = time.perf_counter()
        log = out.with_name(f"{out.stem}-{len(result['parts'])}.log")  # its stderr whole (JAX_LOG_COMPILES=1: compiles)
        with log.open("w") as err:
            failed = run_part(cmd, env, err, part_timeout) != 0
        tail = ("" if time.perf_counter() - t0 < part_timeout else f"timed out after {part_timeout:g} s: ") + \
            log.read_text()[-1500:]
        row = {"backend": backend, "part": part, "xla_flags": env.get("XLA_FLAGS", ""),
               "command_s": round(time.perf_counter() - t0, 1)}
        row.update({"error": tail} if failed or not part_json.exists() else json.loads(part_json.read_text()))
        result["parts"].append(row)
        out.write_text(json.dumps(result, indent=2))
        print(json.dumps(row)[:1500], flush=True)
    return result


def run_part(cmd: list[str], env: dict, err: IO, timeout: float) -> int | None:
    """`cmd`'s exit status (None: it outlasted `timeout`), run in a session of its own whose every process is killed
    when it ends: a part's own commands (live's `mmdream live`) must not outlive it and hold the GPU's memory and the
    host's cores while the next part is timed."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT, start_new_session=True)
    try:
        status: int | None = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        status = None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return status


def gpu_part(part: str, clip: Path, classic: int, frames: int, tmp: Path) -> dict:
    """One part of the GPU bench, in this process's backend: a film row, the audio real-time factor on 60 s of
    music, image style transfer of a 1024 px photo (first run with compiling, then warm), live at a size, or the
    film's decoding against NVDEC."""
    from mmdream.pipelines.precision import auto_precision

    kind, *args = part.split(":")
    if kind == "live":  # processes of their own, which must find the GPU's memory free: this one does not touch it
        # the first fills the compilation cache (a performer's rehearsal), the second is the performance
        return {"first": live_bench(tmp, seconds=10.0, size=int(args[0]), src=clip),
                **live_bench(tmp, seconds=10.0, size=int(args[0]), src=clip)}
    row: dict = {"device": _device()}
    if kind == "film":
        name, size = args[0], int(args[1])
        frames = frames or int(probe_seconds(clip) * 24)
        row.update(film_pair(name, clip, size, frames, classic, auto_precision(name), tmp))
    elif kind == "audio":  # twice: the first compiles (and fills the compilation cache), the second reads it
        music = music_clip(tmp / "music.wav", 60.0)
        row.update({"first": audio_rtf(music, tmp), **audio_rtf(music, tmp)})
    elif kind == "style":
        row.update(style_runs(tmp))
    elif kind == "host":  # the 1080p film's host side on this machine's cores, the dream costing nothing
        row.update(host_pipeline(tmp))
    elif kind == "decode":  # the film's frame source against NVDEC, on the clip of that size
        row.update(decode_pair(clip))
    return row


def probe_seconds(clip: Path) -> float:
    from mmdream.media.ffmpeg import probe

    return float(probe(str(clip)).duration)


def style_runs(tmp: Path, runs: int = 2, size: int = 1024) -> dict:
    """`mmdream style image` of a 1024 px photo (sky1024px.jpg, Starry Night's style) at --max-size 1024, `runs`
    times in this process: the first compiles, the later ones are warm. Keras' ImageNet weights where cached,
    else random (the time is the same)."""
    from mmdream.cli import main
    from mmdream.nets.registry import DEFAULT_STYLE_NET

    rows = []
    for i in range(runs):
        report = tmp / f"style{i}.json"
        t0 = time.perf_counter()
        if main(["style", "image", str(MEDIA / "images" / "sky1024px.jpg"), "--style",
                 str(MEDIA / "images" / "Starry_Night.jpeg"), "-o", str(tmp / f"style{i}.png"), "--max-size", str(size),
                 "--weights", _weights(DEFAULT_STYLE_NET), "--report", str(report)]) != 0:
            raise SystemExit("mmdream style image failed")
        r = json.loads(report.read_text())
        rows.append({"command_s": round(time.perf_counter() - t0, 2), "seconds": r.get("seconds"),
                     "size": r.get("size"), "style_loss_drop": round(r["style_loss_drop"], 2)})
    return {"net": DEFAULT_STYLE_NET, "runs": rows}


def _device() -> str:
    """The device the film rows ran on, and the Keras backend that drove it (as every report says it)."""
    import keras

    from mmdream.core.backend import describe

    d = describe()
    return f"{d['device']}, Keras {keras.__version__} on {d['name']} {d['version']}"


def film_rows(tmp: Path, nets: list[str], seconds: float, classic: int) -> list[dict]:
    """`film_pair` for each net at 540 px, and for the first at 320 px too, at the precision `auto` takes."""
    from mmdream.pipelines.precision import auto_precision

    clip = film_clip(tmp / "clip540.mp4", 2.0, seconds)  # after the opening fade from black
    sizes = [540, 320]
    return [film_pair(name, clip, size, int(seconds * 24), classic, auto_precision(name), tmp)
            for name in nets for size in (sizes if name == nets[0] else sizes[:1])]


# ---- audio, memory, precision -------------------------------------------------------------------------------
def audio_rtf(src: Path, tmp: Path) -> dict:
    from mmdream.cli import main

    report = tmp / "rtf.json"
    t0 = time.perf_counter()
    if main(["audio", str(src), "-o", str(tmp / "rtf.wav"), "--report", str(report)]) != 0:
        raise SystemExit("mmdream audio failed")
    command_s = time.perf_counter() - t0
    r = json.loads(report.read_text())
    host_s = min(audio_host_seconds(src, tmp) for _ in range(2))
    return {"seconds_of_sound": round(r["duration_s"], 2), "compute_s": round(r["seconds"], 2),
            "rtf": round(r["seconds"] / r["duration_s"], 3), "objective_gain": round(r["objective_gain"], 3),
            "command_s": round(command_s, 2), "command_rtf": round(command_s / r["duration_s"], 3),
            "host_s": round(host_s, 2), "host_rtf": round(host_s / r["duration_s"], 3),
            "host_share": round(host_s / r["seconds"], 3)}


def audio_host_seconds(src: Path, tmp: Path) -> float:
    """The audio dream's pipeline with a dream that costs nothing (a bench-only stand-in: each chunk analysed and
    resynthesised unchanged), so what is left is the host's work: decoding, DC, the chunks on their threads, the
    cross-fades, the raw file, the mastering; its seconds, as the dream's report counts them."""
    from mmdream.pipelines.audio.spectrum import analyse, linked, resynthesise
    from mmdream.pipelines.audio.stream import chunks_on_threads, stream_through

    def make_process(info):
        def unchanged(k: int, chunk: np.ndarray) -> np.ndarray:
            spec = analyse(chunk, info.audio_rate)
            return resynthesise(spec, np.zeros_like(linked(spec).logmag), info.audio_rate).astype(np.float32)
        return unchanged

    return stream_through(str(src), str(tmp / "host.wav"), make_process, map_chunks=chunks_on_threads)["seconds"]


def memory(tmp: Path, lengths: list[float]) -> dict:
    """Peak RSS of fresh `mmdream audio` and `mmdream video` processes on 10/60/180 s of input, two at a time
    (each process's own peak; only the wall time is shared). Work per second is cut down (1 step; the film at
    2 frames/s and 96 px) because memory does not depend on it. Runs first: a forked child's peak RSS starts at
    its parent's, so the parent must not have loaded TF."""
    from concurrent.futures import ThreadPoolExecutor

    from audio_memory import peak_rss_mb  # scripts/ is on sys.path when a script runs

    mm = [sys.executable, "-m", "mmdream"]
    runs = {}
    with ThreadPoolExecutor(2) as pool:
        for seconds in lengths:
            s = f"{seconds:g}"
            wav = music_clip(tmp / f"m{s}.wav", seconds)
            runs["audio", s] = pool.submit(peak_rss_mb, mm + ["audio", str(wav), "-o", str(tmp / f"m{s}.out.wav"),
                                                              "--steps", "1"])
            film = film_clip(tmp / f"f{s}.mp4", 2.0, seconds, loops=int(seconds // 28) + 1)
            runs["film", s] = pool.submit(peak_rss_mb, mm + ["video", str(film), "-o", str(tmp / f"f{s}.out.mp4"),
                                                             "--fps", "2", "--max-size", "96", "--steps", "1",
                                                             "--octaves", "1"])
    out = {"audio": {}, "film": {}}
    for (kind, s), run in runs.items():
        out[kind][s] = round(run.result()[0], 1)
    for kind in ("audio", "film"):
        vals = out[kind]
        out[f"{kind}_ratio"] = round(vals[f"{lengths[-1]:g}"] / vals[f"{lengths[0]:g}"], 3)
    return out


def precision_gain(size: int = 320) -> dict:
    """The objective gain of one photo dreamed in bf16 and in fp32, both measured by the fp32 net."""
    from mmdream.core.engine import Dreamer, DreamSettings, Objective
    from mmdream.media.picture import read_image, resize, to_dream_space
    from mmdream.nets import load_net
    from mmdream.pipelines.image import working_size

    rgb = read_image(MEDIA / "images" / sorted(os.listdir(MEDIA / "images"))[0]).rgb
    x = resize(to_dream_space(rgb), working_size(rgb.shape[:2], size))
    out, secs = {}, {}
    fp32 = None
    for precision in ("fp32", "bf16"):
        net = load_net("efficientnet_lite0", precision=precision)
        d = Dreamer(net, Objective(dict(net.default_layers)))
        d.dream(x, DreamSettings(octaves=1, steps=1))
        t0 = time.perf_counter()
        dreamed = d.dream(x, DreamSettings())
        secs[precision] = time.perf_counter() - t0
        fp32 = fp32 or d
        out[precision] = fp32.score(dreamed) / fp32.score(x)
    return {"fp32_gain": round(out["fp32"], 3), "bf16_gain": round(out["bf16"], 3),
            "bf16_over_fp32_gain": round(out["bf16"] / out["fp32"], 3),
            "bf16_speedup": round(secs["fp32"] / secs["bf16"], 3)}


# ---- report -------------------------------------------------------------------------------------------------
def cluster_scaling(tmp: Path, net: str = "efficientnet_lite0", seconds: float = 60.0, size: int = 540,
                    max_segment: int = 150, runs_wanted: tuple[str, ...] = ("one_worker_one_core",
                                                                            "two_workers_two_cores",
                                                                            "one_worker_two_cores"),
                    rounds: int = 1) -> dict:
    """`mmdream video --workers 2` against `--workers 1`, one TensorFlow thread per worker, on the same film
    (a minute: a render's fixed costs, start-up and the last segment alone, weigh on a film's scaling as they
    would not on a feature).

    A cluster grows by machines: a worker comes with its cores. So the scaling figure gives each worker one core:
    the one-worker render (head, Ray, worker, ffmpeg: every process) is confined to one core, the two-worker render
    to two. Beside it, the one-worker render with both cores (its helpers then run on the second core for free).

    This host's speed drifts from minute to minute, so the one- and two-worker renders alternate for `rounds`
    rounds; the speedup is the median of the rounds' ratios, each of two renders minutes apart."""
    from mmdream.media.ffmpeg import frame_checksums

    clip = film_clip(tmp / "cluster.mp4", 0.0, seconds, loops=int(seconds // 30))  # bbb is 30 s long
    cores = sorted(os.sched_getaffinity(0))[:2]
    runs, digests = {}, {}
    plan = [("one_worker_one_core", 1, cores[:1]), ("two_workers_two_cores", 2, cores)] * rounds
    for name, workers, on in [*plan, ("one_worker_two_cores", 1, cores)]:
        if name not in runs_wanted:
            continue
        out, rep = tmp / f"{name}.mp4", tmp / f"{name}.json"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mmdream", "video", str(clip), "-o", str(out), "--max-size", str(size),
                        "--workers", str(workers), "--threads", "1", "--max-segment", str(max_segment),
                        "--net", net, "--weights", _weights(net), "--report", str(rep)], check=True, cwd=ROOT, capture_output=True,
                       preexec_fn=lambda on=on: os.sched_setaffinity(0, on))
        wall = time.perf_counter() - t
        report = json.loads(rep.read_text())
        runs.setdefault(name, []).append({"workers": workers, "cores": len(on), "frames": report["frames"],
                                          "frames_per_s": round(report["frames_per_second"], 2),
                                          "command_s": round(wall, 1), "segments": len(report["segments"]),
                                          "processes": len({s["worker"]["pid"] for s in report["segments"]})})
        digests[name, len(runs[name])] = tuple(frame_checksums(out, "v"))
    ones, twos = runs["one_worker_one_core"], runs["two_workers_two_cores"]
    shared = runs.get("one_worker_two_cores", [None])[0]
    pair = two_renders_at_once(clip, net, size, cores)
    ratios = [two["frames_per_s"] / one["frames_per_s"] for one, two in zip(ones, twos)]
    commands = [one["command_s"] / two["command_s"] for one, two in zip(ones, twos)]
    last_two = twos[-1]["frames_per_s"]
    return {"net": net, "film": f"bbb looped to {seconds:g} s at {size} px, --max-segment {max_segment}",
            "runs": runs, "speedup": round(float(np.median(ratios)), 2), "round_speedups": [round(r, 2) for r in ratios],
            "two_renders_at_once": pair, "command_speedup": round(float(np.median(commands)), 2),
            "speedup_over_one_worker_with_both_cores": shared and round(last_two / shared["frames_per_s"], 2),
            "same_frames": len(set(digests.values())) == 1}


def two_renders_at_once(clip: Path, net: str, size: int, cores: list[int], seconds: float = 20.0) -> dict:
    """What this host's two cores give two machines that share nothing: a one-machine render (no Ray) of the
    film's first `seconds` on one core alone, then two of it at once, a core each (frames/s summed over the pair
    against the one alone). Nodes of a real cluster share nothing; two cores of one host share its caches and
    memory bus, which a memory-bound net feels."""
    def render(core: int, tag: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "mmdream", "video", str(clip), "-o", str(clip.parent / f"{tag}.mp4"),
                                 "--end", str(seconds), "--max-size", str(size), "--threads", "1", "--net", net,
                                 "--weights", _weights(net), "--report", str(clip.parent / f"{tag}.json")],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: os.sched_setaffinity(0, [core]))

    def rate(tag: str) -> float:
        return json.loads((clip.parent / f"{tag}.json").read_text())["frames_per_second"]

    if render(cores[0], "alone").wait():
        raise SystemExit("the one-core render alone failed")
    pair = [render(core, f"pair{core}") for core in cores]
    if any(p.wait() for p in pair):
        raise SystemExit("the two one-core renders at once failed")
    alone, both = rate("alone"), [rate(f"pair{core}") for core in cores]
    return {"seconds": seconds, "alone_frames_per_s": round(alone, 2), "pair_frames_per_s": [round(b, 2) for b in both],
            "ratio": round(sum(both) / alone, 3)}


def backends_film(tmp: Path, seconds: float = 5.0, size: int = 540,
                  nets: tuple[str, ...] = ("efficientnet_lite0", "inception_v3")) -> list[dict]:
    """`mmdream video` on JAX and on TensorFlow (a fresh process each, `--backend`), both nets, the same film and
    seed, fp32: frames/s and the mean objective gain from each report, JAX over TensorFlow. Each net's two renders
    run back to back, so the host's drift weighs on both alike."""
    clip = film_clip(tmp / "backends.mp4", 2.0, seconds)
    rows = []
    for net in nets:
        row: dict = {"net": net, "size": size, "seconds": seconds}
        for backend in ("tensorflow", "jax"):
            rep = tmp / f"{net}-{backend}.json"
            subprocess.run([sys.executable, "-m", "mmdream", "video", str(clip), "-o", str(tmp / f"{net}-{backend}.mp4"),
                            "--max-size", str(size), "--net", net, "--weights", _weights(net), "--precision", "fp32",
                            "--no-audio", "--backend", backend, "--report", str(rep)],
                           check=True, cwd=ROOT, capture_output=True)
            r = json.loads(rep.read_text())
            row[backend] = {"frames_per_s": round(r["frames_per_second"], 2),
                            "gain": round(r["objective_gain_mean"], 3), "frames": r["frames"]}
        row["jax_over_tensorflow"] = round(row["jax"]["frames_per_s"] / row["tensorflow"]["frames_per_s"], 3)
        row["gain_jax_over_tensorflow"] = round(row["jax"]["gain"] / row["tensorflow"]["gain"], 3)
        rows.append(row)
    return rows


def live_bench(tmp: Path, seconds: float = 20.0, size: int = 320, audio: bool = False, src: Path = CLIP) -> dict:
    """`mmdream live --realtime` on a 24 fps clip, a fresh process; figures from its report."""
    rep = tmp / "live.json"
    subprocess.run([sys.executable, "-m", "mmdream", "live", str(src), "--realtime", "--seconds", str(seconds),
                    "--max-size", str(size), "-o", str(tmp / "live.mp4"), "--report", str(rep),
                    *(["--audio"] if audio else [])], check=True, cwd=ROOT, capture_output=True, stdin=subprocess.DEVNULL)
    r = json.loads(rep.read_text())
    late = [row["latency_s"] for row in r["per_frame"]]
    return {"clip": src.name, "seconds": seconds, "size": r["size"], "fps": r["fps"],
            **{k: r[k] for k in ("frames_in", "frames_out", "dreamed_frames", "carried_frames")},
            **{k: round(r[k], 4) for k in ("latency_p50_s", "latency_p95_s", "latency_max_s")},
            "latency_first_5s_mean": round(float(np.mean(late[: int(5 * r["fps"])])), 4),
            "latency_last_5s_mean": round(float(np.mean(late[-int(5 * r["fps"]):])), 4),
            "dream_seconds_mean": r["dream_seconds_mean"] and round(r["dream_seconds_mean"], 4),
            "warm_steps": sorted({d["steps"] for d in r["per_dream"] if not d["cold"]}),
            **{k: r[k] for k in ("audio_chunks", "audio_dreamed_chunks", "audio_latency_p95_s") if k in r},
            "ran_on": r["backend"], "first_dream_s": r["first_dream_s"], "by_second": live_by_second(r)}


def live_by_second(report: dict) -> list[dict]:
    """A live report second by second of input: its frames' mean and largest latency, how each was shown, and the
    dreams of those frames (mean seconds, the flow they waited for, steps and scales): where a session's slow
    frames come from (on the H100 at 1280x720, the first seconds)."""
    per = max(1, round(report["fps"]))
    dreams = {d["frame"]: d for d in report["per_dream"]}
    rows = []
    for start in range(0, len(report["per_frame"]), per):
        frames = report["per_frame"][start:start + per]
        mine = [dreams[f["frame"]] for f in frames if f["frame"] in dreams]
        late = [f["latency_s"] for f in frames]
        shown = {k: sum(f["shown"] == k for f in frames) for k in ("dreamed", "carried", "raw")}
        rows.append({"second": start // per, "latency_mean_s": round(float(np.mean(late)), 4),
                     "latency_max_s": round(max(late), 4), **shown,
                     "dream_s_mean": round(float(np.mean([d["seconds"] for d in mine])), 4) if mine else None,
                     "flow_s_mean": round(float(np.mean([d["flow_s"] for d in mine])), 4) if mine else None,
                     "steps": sorted({d["steps"] for d in mine}), "scales": sorted({d["scale"] for d in mine})})
    return rows


def startup(tmp: Path, runs: int = 5) -> dict:
    """`mmdream image chelsea.png` at defaults, a fresh process each time: its wall time less the dream's (as it
    prints it) less a bare `import tensorflow`'s, timed in turn with it; the median of `runs` pairs."""
    photo = MEDIA / "images" / "chelsea.png"
    rows = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, capture_output=True)
        tf_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "mmdream", "image", str(photo), "-o", str(tmp / "startup.png")],
                              check=True, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        dream = float(done.stdout.rsplit("dreamed in ", 1)[1].split()[0])
        rows.append({"command_s": round(wall, 3), "dream_s": dream, "import_tensorflow_s": round(tf_s, 3),
                     "startup_s": round(wall - dream - tf_s, 3)})
    return {"runs": rows, **{f"{k}_median": round(float(np.median([r[k] for r in rows])), 3)
                             for k in ("command_s", "dream_s", "import_tensorflow_s", "startup_s")}}


def zoom_bench(tmp: Path, photo: Path = MEDIA / "images" / "flower.jpg") -> dict:
    """`mmdream zoom` runs, each a fresh process timed whole; figures from their reports."""
    runs = {}
    for name, extra in (("320px_10s_dreamed_sound", ["--max-size", "320", "--seconds", "10", "--audio", str(MUSIC)]),
                        ("320px_10s_fp32", ["--max-size", "320", "--seconds", "10", "--precision", "fp32"]),
                        ("320px_10s_bf16", ["--max-size", "320", "--seconds", "10", "--precision", "bf16"]),
                        ("160px_60s", ["--max-size", "160", "--seconds", "60"])):
        rep = tmp / f"{name}.json"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mmdream", "zoom", str(photo), "-o", str(tmp / f"{name}.mp4"),
                        "--report", str(rep), *extra], check=True, cwd=ROOT, capture_output=True)
        wall = time.perf_counter() - t
        r = json.loads(rep.read_text())
        runs[name] = {"frames": r["frames"], "frames_per_s": round(r["frames_per_second"], 2),
                      "command_s": round(wall, 1),
                      "objective_gain_every_8th": {k: r[f"objective_gain_{k}"] and round(r[f"objective_gain_{k}"], 3)
                                                   for k in ("min", "mean")},
                      "objective_gain_vs_moved_every_8th": {
                          k: r[f"objective_gain_vs_moved_{k}"] and round(r[f"objective_gain_vs_moved_{k}"], 3)
                          for k in ("min", "mean")},
                      "first_frame_gain": round(r["first_frame_gain"], 3),
                      "flicker_mean": r["flicker_mean"] and round(r["flicker_mean"], 2),
                      "stability": {k: {m: round(v, 3) for m, v in d.items()} if isinstance(d, dict) else d
                                    for k, d in r["stability"].items()}}
    return {"photo": photo.name, "net": "efficientnet_lite0", "runs": runs}


def against(tmp: Path, other: Path, seconds: float = 5.0, size: int = 540, rounds: int = 3,
            nets: tuple[str, ...] = ("efficientnet_lite0", "inception_v3")) -> dict:
    """This checkout's film renderer against another checkout's (`other`, e.g. a `git worktree` of an earlier
    revision), in this environment: each `mmdream video` a fresh process with its checkout first on PYTHONPATH.
    Speed: the same `seconds` of bbb at `size` px (no soundtrack), the two in turn `rounds` times, the order
    alternating, frames/s from each report; the ratio is the median of the rounds' (this over other), so the host's
    drift weighs on both alike. Bytes: 2 s with its soundtrack at `--threads 1`, each once: the two files' SHA-256
    and each stream's frame checksums."""
    import hashlib

    from mmdream.media.ffmpeg import frame_checksums

    speed_clip, bytes_clip = film_clip(tmp / "against.mp4", 2.0, seconds), film_clip(tmp / "bytes.mp4", 2.0, 2.0)
    checkouts = {"this": ROOT, "other": other.resolve()}

    def render(which: str, net: str, clip: Path, out: Path, *flags: str) -> dict:
        rep = out.with_suffix(".json")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(checkouts[which]),
                                                                          os.environ.get("PYTHONPATH")]))}
        done = subprocess.run([sys.executable, "-m", "mmdream", "video", str(clip), "-o", str(out), "--max-size",
                               str(size), "--net", net, "--weights", _weights(net), "--report", str(rep), *flags],
                              cwd=checkouts[which], env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{which} ({checkouts[which]}): {done.stderr.strip().splitlines()[-1:]}")
        return json.loads(rep.read_text())

    rows = []
    for net in nets:
        fps: dict[str, list[float]] = {"this": [], "other": []}
        for r in range(rounds):
            for which in ("this", "other") if r % 2 == 0 else ("other", "this"):
                rep = render(which, net, speed_clip, tmp / f"{which}-{net}.mp4", "--no-audio")
                fps[which].append(rep["frames_per_second"])
        ratios = [a / b for a, b in zip(fps["this"], fps["other"])]
        films = {w: tmp / f"{w}-{net}-bytes.mp4" for w in checkouts}
        for which, out in films.items():
            render(which, net, bytes_clip, out, "--threads", "1")
        same_streams = all(frame_checksums(films["this"], s) == frame_checksums(films["other"], s) for s in ("v", "a"))
        digests = {w: hashlib.sha256(f.read_bytes()).hexdigest() for w, f in films.items()}
        rows.append({"net": net, "size": size, "seconds": seconds,
                     "frames_per_s": {w: [round(v, 3) for v in vs] for w, vs in fps.items()},
                     "round_ratios": [round(v, 3) for v in ratios], "ratio": round(float(np.median(ratios)), 3),
                     "same_bytes": digests["this"] == digests["other"], "same_streams": same_streams})
    return {"other": str(checkouts["other"]), "rows": rows}


def follow_cost(tmp: Path, seconds: float = 20.0, size: int = 540, rounds: int = 4) -> dict:
    """What `--follow` costs the film: the same renderer on the same frames, plain and following a class target
    throughout (a sound heard as a dog all along: the most it can cost), alternated `rounds` times, frames/s from
    each render. This host's speed drifts by more than the cost between renders, so the figure to read is taken
    inside each followed render, where drift cancels: the continuing frames that took the class gradient (every
    FOLLOW_EVERY-th by frame index) against those that did not, interleaved. And the hearing pass
    (`mmdream.pipelines.audio.hearing.hear` of the soundtrack, default sound net) against the plain render's time."""
    from mmdream.nets import load_net
    from mmdream.pipelines.audio.hearing import hear
    from mmdream.pipelines.film import FILM_DEFAULTS, Dreaming, FilmOptions, FrameDreamer, SoundPlan, dream_film
    from mmdream.pipelines.film.frames import FOLLOW_EVERY
    from mmdream.plan import build_plan
    from mmdream.senses.perceive import Track
    from mmdream.senses.steer import steer

    clip = film_clip(tmp / "follow.mp4", 0.0, seconds)
    fps = 24.0
    opts = FilmOptions(max_size=size, soundtrack="none", measure_every=None)
    net = load_net("efficientnet_lite0")
    dreamer, plan = build_plan("image", net, FILM_DEFAULTS, {})
    sound_classes = ["dog", "cat"]
    track = Track("bench", sound_classes, [0.0], [[1.0, 0.0]])
    followed = build_plan("image", net, FILM_DEFAULTS, {})[1].follow(steer(track, net.name, net.classes, "image"))
    fps_of: dict[str, list[float]] = {"plain": [], "follow": []}
    inside: list[float] = []  # per followed render: mean frame time over that of the frames that did not follow
    for r in range(rounds):
        for name, p in (("plain", plan), ("follow", followed)) if r % 2 == 0 else (("follow", followed), ("plain", plan)):
            film = dream_film(str(clip), str(tmp / f"follow-{name}.mp4"), FrameDreamer(Dreaming(dreamer, p), opts, fps),
                              SoundPlan(), opts, {"bench": time.time()})
            fps_of[name].append(film["frames"] / film["seconds"])
            if name == "follow":
                warm = [(row["frame"], row["seconds"]) for row in film["per_frame"] if not row["cold"]]
                took = np.array([s for i, s in warm if i % FOLLOW_EVERY == 0])
                plain_frames = np.array([s for i, s in warm if i % FOLLOW_EVERY])
                inside.append(float(np.mean([s for _, s in warm]) / np.mean(plain_frames)))
                fps_of.setdefault("class_step_ms", []).append(1000 * float(np.median(took) - np.median(plain_frames)))
    t0 = time.perf_counter()
    hear(str(clip), "MTT_vgg")
    hear_s = time.perf_counter() - t0
    plain, follow = float(np.median(fps_of["plain"])), float(np.median(fps_of["follow"]))
    cost = 1 - 1 / float(np.median(inside))
    return {"seconds": seconds, "size": size, "renders": {k: [round(v, 3) for v in vs] for k, vs in fps_of.items()},
            "renders_follow_over_plain": round(follow / plain, 3),
            "interleaved_frame_time_ratio": [round(v, 3) for v in inside], "cost": round(cost, 3),
            "hearing_s_per_film_s": round(hear_s / seconds, 4),
            "hearing_share_of_plain_render": round(hear_s / (seconds * fps / plain), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="efficientnet_lite0 only, fewer frames (< 2 min)")
    ap.add_argument("--cluster", action="store_true", help="only the Ray cluster's scaling (about 25 min)")
    ap.add_argument("--zoom", action="store_true", help="only `mmdream zoom` (about 4 min)")
    ap.add_argument("--live", action="store_true", help="only `mmdream live --realtime` (under a minute)")
    ap.add_argument("--film", action="store_true", help="only the film rows, both nets (about 6 minutes)")
    ap.add_argument("--gpu", action="store_true", help="on a GPU: films, audio, style and live on JAX beside eager "
                    "PyTorch, each part in a process of its own (see README)")
    ap.add_argument("--gpu-seconds", type=float, default=5.0, help="--gpu: the films' length")
    ap.add_argument("--gpu-parts", help="--gpu: backend/part,... (default: every part of GPU_PARTS)")
    ap.add_argument("--part-timeout", type=float, default=240.0, help="--gpu: seconds a part may take")
    ap.add_argument("--gpu-classic", type=int, default=3, help="--gpu: the classic recipe's frames beside each JAX "
                    "film (0: none, which saves its pyramid's compiling)")
    ap.add_argument("--gpu-part", help=argparse.SUPPRESS)  # one part, in this process (what --gpu runs)
    ap.add_argument("--clip", help=argparse.SUPPRESS)
    ap.add_argument("--classic", type=int, default=3, help=argparse.SUPPRESS)
    ap.add_argument("--frames", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--startup", action="store_true", help="only `mmdream image`'s start-up (about a minute)")
    ap.add_argument("--follow", action="store_true", help="only what --follow costs the film (about 3 minutes)")
    ap.add_argument("--backends", action="store_true", help="only JAX against TensorFlow on this CPU (film, both "
                    "nets, about 5 minutes)")
    ap.add_argument("--host-pipeline", action="store_true", help="only the 1080p film's host stages with a dream that "
                    "costs nothing, against their bound (under a minute)")
    ap.add_argument("--against", type=Path, metavar="CHECKOUT", help="only this checkout's film against another's "
                    "(e.g. a git worktree of an earlier revision): frames/s, paired, and the same bytes? (about 7 "
                    "minutes)")
    ap.add_argument("--json", default="bench.json")
    args = ap.parse_args()
    if args.against:
        with tempfile.TemporaryDirectory(prefix="mmdream-bench-") as tmp:
            ag = against(Path(tmp), args.against)
        Path(args.json).write_text(json.dumps(ag, indent=2))
        for r in ag["rows"]:
            print(f"against {ag['other']}: {r['net']} film at {r['size']} px, {r['seconds']:g} s: frames/s this "
                  f"{r['frames_per_s']['this']}, other {r['frames_per_s']['other']}; this over other "
                  f"{r['ratio']}x (rounds {r['round_ratios']}); at --threads 1 with its sound, the same bytes: "
                  f"{'yes' if r['same_bytes'] else 'no'}, the same frames and samples: "
                  f"{'yes' if r['same_streams'] else 'no'}")
        return
    if args.host_pipeline:
        with tempfile.TemporaryDirectory(prefix="mmdream-bench-") as tmp:
            hp = host_pipeline(Path(tmp))
        Path(args.json).write_text(json.dumps(hp, indent=2))
        alone = ", ".join(f"{k} {v['wall_ms']:.1f} ms ({v['cpu_ms']:.1f} ms CPU)" for k, v in hp["stages_alone"].items())
        print(f"host pipeline, {'x'.join(map(str, hp['size']))} film, {hp['frames']} frames, a dream that costs nothing: "
              f"{hp['frames_per_s']} frames/s against a host bound of {hp['host_bound_frames_per_s']} "
              f"({100 * hp['share_of_bound']:.0f}%); each stage alone a frame: {alone}; {hp['cores']} cores")
        return
    if args.backends:
        with tempfile.TemporaryDirectory(prefix="mmdream-bench-") as tmp:
            rows = backends_film(Path(tmp))
        Path(args.json).write_text(json.dumps(rows, indent=2))
        for r in rows:
            print(f"backends, {r['net']} film at {r['size']} px, {r['seconds']:g} s, fp32: TensorFlow "
                  f"{r['tensorflow']['frames_per_s']} frames/s (gain {r['tensorflow']['gain']}), JAX "
                  f"{r['jax']['frames_per_s']} (gain {r['jax']['gain']}): JAX {r['jax_over_tensorflow']}x the "
                  f"frames/s, {r['gain_jax_over_tensorflow']}x the gain")
        return
    if args.follow:
        with tempfile.TemporaryDirectory(prefix="mmdream-bench-") as tmp:
            fc = follow_cost(Path(tmp))
        Path(args.json).write_text(json.dumps(fc, indent=2))
        print(f"--follow (following throughout, lite0 at {fc['size']} px, {fc['seconds']:g} s): frames/s cost "
              f"{100 * fc['cost']:.1f}% measured inside each render (whole renders, drift included: "
              f"{fc['renders_follow_over_plain']}x); hearing the soundtrack: "
              f"{fc['hearing_share_of_plain_render']}x the plain render's time")
        return
    if args.live:
        with tempfile.TemporaryDirectory(prefix="mmdream-bench-") as tmp:
            runs = {"pictures": live_bench(Path(tmp)), "with --audio": live_bench(Path(tmp), audio=True)}
        Path(args.json).write_text(json.dumps(runs, indent=2))
        for name, lv in runs.items():
            heard = (f"; sound: {lv['audio_dreamed_chunks']} of {lv['audio_chunks']} chunks dreamed, latency p95 "
                     f"{1000 * lv['audio_latency_p95_s']:.0f} ms") if "audio_chunks" in lv else ""
            print(f"live --realtime ({name}), {lv['clip']} {lv['seconds']:g} s at {lv['fps']:g} fps, "
                  f"{'x'.join(map(str, lv['size']))}: {lv['frames_out']} of {lv['frames_in']} frames written "
                  f"({lv['dreamed_frames']} dreamed, {lv['carried_frames']} carried); latency p50 "
                  f"{1000 * lv['latency_p50_s']:.0f} ms, p95 {1000 * lv['latency_p95_s']:.0f} ms, max "
                  f"{1000 * lv['latency_max_s']:.0f} ms; mean over the first 5 s "
                  f"{1000 * lv['latency_first_5s_mean']:.0f} ms, the last 5 s {1000 * lv['latency_last_5s_mean']:.0f} "
                  f"ms; a dream {lv['dream_seconds_mean']} s, warm steps (adapted) {lv['warm_steps']}{heard}")
        return
    if args.zoom:
        with tempfile.TemporaryDirectory(prefix="mmdream-bench-") as tmp:
            z = zoom_bench(Path(tmp))
        Path(args.json).write_text(json.dumps(z, indent=2))
        for name, run in z["runs"].items():
            stab = run["stability"]["ratio"]
            print(f"zoom {name}: {run['frames']} frames, {run['frames_per_s']} frames/s (command {run['command_s']} s); "
                  f"objective gain every 8th frame over its moved and guarded input min "
                  f"{run['objective_gain_every_8th']['min']} mean {run['objective_gain_every_8th']['mean']}, over "
                  f"the moved frame alone min {run['objective_gain_vs_moved_every_8th']['min']}; first frame "
                  f"{run['first_frame_gain']}; flicker {run['flicker_mean']}; last/first "
                  f"{run['stability']['window_s']} s: saturation x{stab['saturation']}, detail energy "
                  f"x{stab['detail_energy']}")
        return
    if not CLIP.exists():
        raise SystemExit(f"missing {CLIP}; set MMDREAM_MEDIA")
    if args.cluster:
        with tempfile.TemporaryDirectory(prefix="mmdream-bench-") as tmp:
            # lite0 is memory-bound (27 % of the matmul peak): two of it share the memory bus; InceptionV3 is not
            cs = [cluster_scaling(Path(tmp), runs_wanted=("one_worker_one_core", "two_workers_two_cores"), rounds=3),
                  cluster_scaling(Path(tmp), "inception_v3", 60.0, 320, runs_wanted=("one_worker_one_core",
                                                                                     "two_workers_two_cores"),
                                  rounds=3)]
        Path(args.json).write_text(json.dumps(cs, indent=2))
        for c in cs:
            for name, each in c["runs"].items():
                for run in each:
                    print(f"cluster, {c['net']}, {c['film']}: {name.replace('_', ' ')}: {run['frames_per_s']} "
                          f"frames/s, command {run['command_s']} s, {run['segments']} segments on "
                          f"{run['processes']} worker process(es)")
            shared = c["speedup_over_one_worker_with_both_cores"]
            pair = c["two_renders_at_once"]
            print(f"scaling, a core per worker: {c['speedup']}x frames/s, the median of rounds "
                  f"{c['round_speedups']} ({c['command_speedup']}x the command)"
                  + (f"; two workers over one worker given both cores: {shared}x" if shared else "")
                  + f"; same frames in every run: {c['same_frames']}")
            print(f"two independent one-core renders at once on this host ({pair['seconds']:g} s, no Ray): "
                  f"{pair['ratio']}x one alone (they share its caches and memory bus; two nodes would not)")
        return
    if args.startup:
        with tempfile.TemporaryDirectory(prefix="mmdream-bench-") as tmp:
            st = startup(Path(tmp))
        Path(args.json).write_text(json.dumps(st, indent=2))
        print_startup(st)
        return
    if args.gpu_part:
        with tempfile.TemporaryDirectory(prefix="mmdream-bench-") as tmp:
            row = gpu_part(args.gpu_part, Path(args.clip), args.classic, args.frames, Path(tmp))
        Path(args.json).write_text(json.dumps(row, indent=2))
        return
    if args.gpu:
        with tempfile.TemporaryDirectory(prefix="mmdream-bench-") as tmp:
            parts = args.gpu_parts.split(",") if args.gpu_parts else [f"{b}/{p}" for b, ps in GPU_PARTS.items()
                                                                       for p in ps]
            gpu_bench(Path(tmp), Path(args.json), args.gpu_seconds, parts, args.part_timeout, args.gpu_classic)
        return
    if args.film:
        with tempfile.TemporaryDirectory(prefix="mmdream-bench-") as tmp:
            films = film_rows(Path(tmp), ["efficientnet_lite0", "inception_v3"], 20.0, 8)
        Path(args.json).write_text(json.dumps(films, indent=2))
        print_films(films)
        return
    t_start = time.perf_counter()
    result: dict = {"quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="mmdream-bench-") as tmp:
        tmp = Path(tmp)
        sections = result["section_seconds"] = {}
        t = time.perf_counter()
        result["memory"] = memory(tmp, [10.0, 60.0, 180.0] if not args.quick else [10.0, 30.0])
        sections["memory"], t = round(time.perf_counter() - t, 1), time.perf_counter()
        from mmdream.pipelines.precision import auto_precision, dream_step_seconds, matmul_gflops

        nets = ["efficientnet_lite0"] if args.quick else ["efficientnet_lite0", "inception_v3"]
        precision = result["precision"] = {name: auto_precision(name) for name in nets}  # measured once, cached
        result["precision_per_net"] = [{"net": name, "auto": precision[name],
                                        **{f"{p}_step_s": round(dream_step_seconds(name, p), 4)
                                           for p in ("fp32", "bf16")}} for name in nets]  # again, in this run
        n = 2048 if args.quick else 4096
        result["matmul_gflops"] = {p: round(matmul_gflops(p, n, 3 if args.quick else 6), 1) for p in ("fp32", "bf16")}
        result["step"] = [step_efficiency(name, precision[name], n, rounds=5 if args.quick else 9) for name in nets]
        sections["matmul_and_step"], t = round(time.perf_counter() - t, 1), time.perf_counter()
        seconds, classic = (2.0, 3) if args.quick else (20.0, 8)  # the film: as long as the live bench's
        result["film"] = film_rows(tmp, nets, seconds, classic)
        sections["film"], t = round(time.perf_counter() - t, 1), time.perf_counter()
        result["audio"] = audio_rtf(music_clip(tmp / "music.wav", 10.0 if args.quick else 60.0), tmp)
        sections["audio"], t = round(time.perf_counter() - t, 1), time.perf_counter()
        t = time.perf_counter()
        result["startup"] = startup(tmp, 3 if args.quick else 5)
        sections["startup"], t = round(time.perf_counter() - t, 1), time.perf_counter()
    result["precision_check"] = precision_gain(256 if args.quick else 384)
    sections["precision"] = round(time.perf_counter() - t, 1)
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print_table(result)


def print_table(r: dict) -> None:
    mm = r["matmul_gflops"]
    print(f"\nmatmul peak: fp32 {mm['fp32']} GFLOP/s, bf16 {mm['bf16']} GFLOP/s")
    for p in r["precision_per_net"]:
        faster = "bf16" if p["bf16_step_s"] < p["fp32_step_s"] else "fp32"
        print(f"precision {p['net']}: a dream step (320x480) fp32 {p['fp32_step_s']} s, bf16 {p['bf16_step_s']} s "
              f"in this run: {faster} is faster; auto (measured once, cached) takes {p['auto']}")
    for s in r["step"]:
        print(f"step {s['net']:20s} {s['shape'][0]}x{s['shape'][1]} {s['gflop_per_step']:7.1f} GFLOP in "
              f"{s['step_s']:.3f} s = {s['gflops']:6.1f} GFLOP/s = {100 * s['efficiency']:.0f}% of the peak "
              f"measured around it ({s['peak_gflops']} GFLOP/s); median of {s['rounds']} paired rounds, "
              f"quartiles {'-'.join(f'{100 * q:.0f}%' for q in s['efficiency_quartiles'])}")
    print_films(r["film"])
    print_startup(r["startup"])
    a = r["audio"]
    print(f"\naudio: {a['compute_s']} s for {a['seconds_of_sound']} s of sound: real-time factor {a['rtf']} "
          f"(whole command with net loading and before/after measurement: {a['command_rtf']}); the host's part "
          f"alone (the dream costing nothing) {a['host_s']} s, {100 * a['host_share']:.0f}% of the dream's time"
          + ("; on --quick's 10 s the first chunk's tracing weighs more than on the full run's 60 s" if r["quick"] else ""))
    m = r["memory"]
    for kind in ("audio", "film"):
        print(f"peak RSS {kind:5s}: " + ", ".join(f"{k} s {v} MB" for k, v in m[kind].items())
              + f"; longest/shortest {m[kind + '_ratio']}")
    p = r["precision_check"]
    print(f"bf16 objective gain {p['bf16_gain']} vs fp32 {p['fp32_gain']} ({p['bf16_over_fp32_gain']}x); "
          f"bf16 speed-up {p['bf16_speedup']}x\nwhole run {r['seconds']} s: "
          + ", ".join(f"{k} {v} s" for k, v in r["section_seconds"].items()))


def print_startup(st: dict) -> None:
    print(f"start-up of `mmdream image chelsea.png` (median of {len(st['runs'])}): command {st['command_s_median']} s "
          f"- dream {st['dream_s_median']} s - `import tensorflow` {st['import_tensorflow_s_median']} s = "
          f"{st['startup_s_median']} s (each run: {', '.join(str(r['startup_s']) for r in st['runs'])})")


def print_films(films: list[dict]) -> None:
    print(f"\n{'film':30s}{'mmdream f/s':>12s}{'classic f/s':>12s}{'speed':>8s}{'gain':>14s}{'flicker':>16s}")
    for f in films:
        m, c = f["mmdream"], f["classic"]
        print(f"{f['net'] + ' ' + 'x'.join(map(str, f['size'])) + ' ' + f['precision']:30s}{m['frames_per_s']:12.2f}"
              f"{c['frames_per_s']:12.3f}{f['speed_ratio']:7.1f}x"
              f"{m['objective_gain']:6.2f}/{c['objective_gain']:<5.2f}{f['gain_ratio']:5.2f}x"
              f"{m['flicker']:6.2f}/{c['flicker']:<6.2f}{f['flicker_ratio']:4.2f}x"
              f"  bound {f['bound_frames_per_s']:.2f} f/s (one warm frame's steps alone): "
              f"{100 * f['share_of_bound']:.0f}% of it, {f['frames']} frames, {f['cold_frames']} cold")
        if f.get("stages"):  # where a frame's time went (the film's report): mean / p95 ms per stage
            spent = ", ".join(f"{k} {v['mean_ms']:.1f}/{v['p95_ms']:.1f}" for k, v in f["stages"].items())
            print(f"{'':30s}ms a frame (mean/p95): {spent}; the net busy {100 * f['net_busy_share']:.0f}% of the time")
        if f.get("phases_s"):  # the render's time: before the first frame, the frames, joining the pieces
            print(f"{'':30s}seconds: " + ", ".join(f"{k} {v:.3f}" for k, v in f["phases_s"].items()))


if __name__ == "__main__":
    main()

