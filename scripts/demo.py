"""`make demo`: dream a procedural picture (works with nothing beside the checkout), then, when ../shared/media is
present, real photos, a sound and a 3 s dream film. Prints where every output went."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-output"
sys.path.insert(0, str(ROOT))

from mmdream.cli import main as mmdream  # noqa: E402
from mmdream.cli import quiet_native_logs  # noqa: E402


def procedural_picture(path: Path, h: int = 360, w: int = 540, seed: int = 1) -> None:
    """Soft sky gradient, hills and a few discs: enough structure for a net to find things in."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    img[..., 0] = 90 + 80 * y / h
    img[..., 1] = 140 + 60 * y / h
    img[..., 2] = 230 - 60 * y / h
    hills = h * (0.65 + 0.08 * np.sin(x / 47.0) + 0.05 * np.sin(x / 13.0 + 1.0))
    ground = y > hills
    img[ground] = np.stack([60 + 40 * np.sin(x / 9.0), 120 + 30 * np.cos(y / 7.0), 50 + 0 * x], -1)[ground]
    for _ in range(6):
        cy, cx, r = rng.uniform(0, h * 0.6), rng.uniform(0, w), rng.uniform(12, 40)
        disc = (y - cy) ** 2 + (x - cx) ** 2 < r * r
        img[disc] = rng.uniform(40, 255, 3)
    img += rng.normal(0, 6, img.shape)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)


def media_dir() -> Path | None:
    p = Path(os.environ.get("MMDREAM_MEDIA", ROOT.parent / "shared" / "media"))
    return p if p.is_dir() else None


def run(*argv: str) -> None:
    rc = mmdream(list(argv))
    if rc != 0:
        raise SystemExit(f"demo step failed: mmdream {' '.join(argv)}")


def main() -> int:
    quiet_native_logs(verbose="-v" in sys.argv)  # the demo's steps are CLI commands: as quiet as the command
    OUT.mkdir(exist_ok=True)
    outputs = []
    src = OUT / "procedural.png"
    procedural_picture(src)
    run("image", str(src), "-o", str(OUT / "procedural_dream.jpg"), "--report", str(OUT / "procedural_dream.json"))
    outputs.append(OUT / "procedural_dream.jpg")
    media = media_dir()
    if media is None:
        print("../shared/media not found: dreamed the procedural picture only")
    else:
        for name in ["sky1024px.jpg", "friends_by_Aitzol_Berasategi.jpg", "chelsea.png"]:
            photo = media / "images" / name
            if photo.exists():
                dst = OUT / f"{photo.stem}_dream.jpg"
                run("image", str(photo), "-o", str(dst), "--max-size", "512")
                outputs.append(dst)
        sound = media / "audio" / "music" / "sorohanro_-_solo-trumpet-06.hq.ogg"
        if sound.exists():
            dst = OUT / "trumpet_dream.wav"
            run("audio", str(sound), "-o", str(dst), "--plot", str(OUT / "trumpet_spectrograms.png"))
            outputs += [dst, OUT / "trumpet_spectrograms.png"]
        film = media / "video" / "big_buck_bunny_0_30.webm"
        if film.exists():  # a 3 s dream film, picture and sound under one schedule
            dst = OUT / "bunny_dream.mp4"
            run("video", str(film), "-o", str(dst), "--max-size", "320", "--end", "3", "--schedule",
                str(ROOT / "mmdream" / "schedules" / "film.toml"), "--preview", str(OUT / "bunny_sheet.png"),
                "--report", str(OUT / "bunny_dream.json"))
            outputs += [dst, OUT / "bunny_sheet.png"]
    print("\ndemo outputs:")
    for p in outputs:
        print(f"  {p}")
    print("\nthe same in a web page: `make studio` (or .venv/bin/mmdream serve), then open http://127.0.0.1:7860")
    return 0


if __name__ == "__main__":
    sys.exit(main())
