"""Peak memory of `mmdream audio` on 10 s versus 180 s of the same music: long audio must stream.

Each run is a fresh subprocess; its peak RSS comes from wait4(). Steps are few because memory does not depend on
them. Prints the figures and the ratio (issue 3's bar: 180 s <= 1.5x the peak of 10 s).

    python scripts/audio_memory.py [--seconds 10 180] [--steps 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
MEDIA = Path(os.environ.get("MMDREAM_MEDIA", ROOT.parent / "shared" / "media"))
SOURCE = MEDIA / "audio" / "music" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"


def looped_copy(seconds: float, dst: Path) -> None:
    """The source looped to `seconds` (stereo, its own rate), written as wav."""
    sys.path.insert(0, str(ROOT))
    from mmdream.media.audio_source import load_whole

    x, sr = load_whole(str(SOURCE), end=60)
    reps = int(np.ceil(seconds * sr / len(x)))
    sf.write(dst, np.tile(x, (reps, 1))[: int(seconds * sr)], sr, subtype="PCM_16")


def peak_rss_mb(argv: list[str]) -> tuple[float, float]:
    """Run a command; (peak RSS in MB, wall seconds)."""
    import time

    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, nargs="+", default=[10, 180])
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    if not SOURCE.exists():
        raise SystemExit(f"missing {SOURCE}; set MMDREAM_MEDIA")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in args.seconds:
            src, dst = Path(tmp) / f"in{seconds:g}.wav", Path(tmp) / f"out{seconds:g}.wav"
            looped_copy(seconds, src)
            mb, wall = peak_rss_mb([sys.executable, "-m", "mmdream", "audio", str(src), "-o", str(dst),
                                    "--steps", str(args.steps)])
            rows.append({"seconds": seconds, "peak_rss_mb": round(mb, 1), "wall_s": round(wall, 1)})
            print(f"{seconds:6g} s of audio: peak RSS {mb:7.1f} MB ({wall:.0f} s wall)", flush=True)
    ratio = rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    print(f"peak RSS {rows[-1]['seconds']:g} s / {rows[0]['seconds']:g} s = {ratio:.3f} (bar: <= 1.5)")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": rows, "ratio": ratio}, indent=2))
    sys.exit(0 if ratio <= 1.5 else 1)


if __name__ == "__main__":
    main()
