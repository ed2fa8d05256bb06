"""Issue 4's acceptance figures in one run: the dream film versus independent per-frame dreaming.

On the first 3 s of big_buck_bunny_0_30.webm at 320 px wide (efficientnet_lite0 + MTT_vgg), renders the film
twice with the same settings, once with flow coherence and once with every frame dreamed from scratch, and
prints: streams and durations of the output, the image objective gain, and the flicker (mean absolute
difference between each output frame and the flow-warped previous output frame) of each, and their ratio.

    python scripts/film_coherence.py [--clip big_buck_bunny_0_30.webm] [--seconds 3] [--size 320] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEDIA = Path(os.environ.get("MMDREAM_MEDIA", ROOT.parent / "shared" / "media"))


def render(src: Path, out: Path, seconds: float, size: int, *extra: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from mmdream.cli import main

    report = out.with_suffix(".json")
    argv = ["video", str(src), "-o", str(out), "--max-size", str(size), "--end", str(seconds),
            "--report", str(report), *extra]
    if main(argv) != 0:
        raise SystemExit(f"mmdream {' '.join(argv)} failed")
    return json.loads(report.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default="big_buck_bunny_0_30.webm")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--json")
    args = ap.parse_args()
    src = MEDIA / "video" / args.clip
    if not src.exists():
        raise SystemExit(f"missing {src}; set MMDREAM_MEDIA")
    from mmdream.media import probe

    with tempfile.TemporaryDirectory() as tmp:
        film = render(src, Path(tmp) / "film.mp4", args.seconds, args.size)
        info = probe(str(Path(tmp) / "film.mp4"))
        classic = render(src, Path(tmp) / "classic.mp4", args.seconds, args.size, "--no-flow", "--no-audio")
    frame = 1 / film["fps"]
    figures = {
        "clip": args.clip, "seconds": args.seconds, "size": list(info.video_size), "fps": film["fps"],
        "has_video": info.has_video, "has_audio": info.has_audio, "output_duration_s": info.duration,
        "duration_error_frames": abs(info.duration - args.seconds) / frame,
        "film": {k: film[k] for k in ("objective_gain_mean", "objective_gain_min", "flicker_mean",
                                      "frames_per_second", "cold_frames")},
        "independent": {k: classic[k] for k in ("objective_gain_mean", "objective_gain_min", "flicker_mean",
                                                "frames_per_second")},
    }
    figures["flicker_ratio"] = film["flicker_mean"] / classic["flicker_mean"]
    figures["speed_ratio"] = film["frames_per_second"] / classic["frames_per_second"]
    print(f"output: video={info.has_video} audio={info.has_audio} {info.video_size[0]}x{info.video_size[1]} "
          f"{info.duration:.3f} s (input segment {args.seconds:g} s, error {figures['duration_error_frames']:.2f} "
          f"frames)")
    print(f"{'':14s}{'gain':>8s}{'min gain':>10s}{'flicker':>9s}{'frames/s':>10s}")
    for name in ("film", "independent"):
        f = figures[name]
        print(f"{name:14s}{f['objective_gain_mean']:8.2f}{f['objective_gain_min']:10.2f}{f['flicker_mean']:9.2f}"
              f"{f['frames_per_second']:10.2f}")
    print(f"flicker ratio film/independent = {figures['flicker_ratio']:.3f} (bar: <= 0.5); "
          f"gain {figures['film']['objective_gain_mean']:.2f} (bar: >= 1.5); speed x{figures['speed_ratio']:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    ok = (info.has_video and info.has_audio and figures["duration_error_frames"] <= 1
          and figures["flicker_ratio"] <= 0.5 and figures["film"]["objective_gain_mean"] >= 1.5)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
