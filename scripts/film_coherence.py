"""Acceptance figures in one run: a coherent film versus independent per-frame processing.

Dream mode (issue 4): on the first 3 s of big_buck_bunny_0_30.webm at 320 px wide (efficientnet_lite0 + MTT_vgg),
renders the film twice with the same settings, once with flow coherence and once with every frame dreamed from
scratch, and prints: streams and durations of the output, the image objective gain, and the flicker (mean
absolute difference between each output frame and the flow-warped previous output frame) of each, and their
ratio. Style mode (issue 5): the same comparison for `mmdream style video` with Starry_Night.jpeg, with the
style loss in place of the gain.

    python scripts/film_coherence.py [--mode dream|style] [--seconds 3] [--size 320] [--json out.json]
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


def render(command: list[str], src: Path, out: Path, seconds: float, size: int, *extra: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from mmdream.cli import main

    report = out.with_suffix(".json")
    argv = [*command, str(src), "-o", str(out), "--max-size", str(size), "--end", str(seconds),
            "--report", str(report), *extra]
    if main(argv) != 0:
        raise SystemExit(f"mmdream {' '.join(argv)} failed")
    return json.loads(report.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["dream", "style"], default="dream")
    ap.add_argument("--style", default="Starry_Night.jpeg", help="style image (in the media images folder)")
    ap.add_argument("--clip", default="big_buck_bunny_0_30.webm")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--json")
    args = ap.parse_args()
    src = MEDIA / "video" / args.clip
    if not src.exists():
        raise SystemExit(f"missing {src}; set MMDREAM_MEDIA")
    from mmdream.media.ffmpeg import probe

    if args.mode == "dream":
        command, extra, score = ["video"], [], "objective_gain"
    else:
        command, score = ["style", "video"], "style_loss"
        extra = ["--style", str(MEDIA / "images" / args.style), "--net", "efficientnet_lite0"]
    with tempfile.TemporaryDirectory() as tmp:
        film = render(command, src, Path(tmp) / "film.mp4", args.seconds, args.size, *extra)
        info = probe(str(Path(tmp) / "film.mp4"))
        classic = render(command, src, Path(tmp) / "classic.mp4", args.seconds, args.size, *extra, "--no-flow",
                         "--no-audio")
    frame = 1 / film["fps"]
    figures = {
        "clip": args.clip, "seconds": args.seconds, "size": list(info.video_size), "fps": film["fps"],
        "has_video": info.has_video, "has_audio": info.has_audio, "output_duration_s": info.duration,
        "duration_error_frames": abs(info.duration - args.seconds) / frame,
        "film": {k: film[k] for k in (f"{score}_mean", "flicker_mean", "frames_per_second", "cold_frames")},
        "independent": {k: classic[k] for k in (f"{score}_mean", "flicker_mean", "frames_per_second")},
    }
    figures["flicker_ratio"] = film["flicker_mean"] / classic["flicker_mean"]
    figures["speed_ratio"] = film["frames_per_second"] / classic["frames_per_second"]
    print(f"output: video={info.has_video} audio={info.has_audio} {info.video_size[0]}x{info.video_size[1]} "
          f"{info.duration:.3f} s (input segment {args.seconds:g} s, error {figures['duration_error_frames']:.2f} "
          f"frames)")
    print(f"{'':14s}{score:>16s}{'flicker':>9s}{'frames/s':>10s}")
    for name in ("film", "independent"):
        f = figures[name]
        print(f"{name:14s}{f[f'{score}_mean']:16.3f}{f['flicker_mean']:9.2f}{f['frames_per_second']:10.2f}")
    print(f"flicker ratio film/independent = {figures['flicker_ratio']:.3f} (bar: <= 0.5); "
          f"{score} {figures['film'][f'{score}_mean']:.3f}; speed x{figures['speed_ratio']:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    ok = info.has_video and figures["duration_error_frames"] <= 1 and figures["flicker_ratio"] <= 0.5
    if args.mode == "dream":
        ok = ok and info.has_audio and figures["film"]["objective_gain_mean"] >= 1.5
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
