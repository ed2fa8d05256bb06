"""What each image net dreams, side by side: one photo dreamed by every image net whose weights are here (the
offline ones always; keras.applications nets whose weights are in Keras' cache; any model files given), each at
its default layers with the same settings, into one contact sheet with the net's name and objective gain under
each picture.

    python scripts/gallery.py [PHOTO] [-o gallery.png] [--size 224] [--steps 10] [--nets a,b,...] [--extra mine.keras]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MEDIA = Path(os.environ.get("MMDREAM_MEDIA", ROOT.parent / "shared" / "media"))


def present_nets() -> list[str]:
    """Every registered image net that runs without a download, in the registry's order."""
    from mmdream.nets import specs

    return [s.name for s in specs("image") if s.offline()]


def sheet(tiles: list[tuple[str, np.ndarray]], path: Path, per_row: int = 6) -> None:
    """The dreams in rows of `per_row`, each with its caption strip under it, written atomically."""
    import cv2

    from mmdream.io_utils import atomic_output
    from mmdream.pipelines.film.encode import caption_strip

    per_row = min(per_row, len(tiles))
    h, w = tiles[0][1].shape[:2]
    cells = [np.vstack([cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA), caption_strip(text, w)])
             for text, img in tiles]
    blank = np.zeros_like(cells[0])
    rows = [np.hstack((cells[i:i + per_row] + [blank] * per_row)[:per_row]) for i in range(0, len(cells), per_row)]
    with atomic_output(path) as tmp:
        cv2.imwrite(str(tmp) + ".png" if not tmp.suffix else str(tmp), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", default=str(MEDIA / "images" / "chelsea.png"))
    parser.add_argument("-o", "--output", default="gallery.png")
    parser.add_argument("--size", type=int, default=224, help="long side of each dream (default 224)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--nets", help="comma-separated nets (default: every image net whose weights are here)")
    parser.add_argument("--extra", action="append", default=[], help="a model file of your own (repeatable)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import mmdream

    nets = (args.nets.split(",") if args.nets else present_nets()) + args.extra
    tiles = []
    for i, net in enumerate(nets, start=1):
        result = mmdream.dream_image(args.photo, net=net, max_size=args.size, steps=args.steps, octaves=3,
                                     precision="fp32")
        gain = result.figures["objective_gain"]
        tiles.append((f"{Path(net).stem} x{gain:.2f}", result.image))
        print(f"[{i}/{len(nets)}] {net}: objective gain {gain:.2f}, {result.figures['seconds']:.1f} s", flush=True)
    sheet(tiles, Path(args.output))
    print(f"{args.output}: {len(tiles)} nets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
