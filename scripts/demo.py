"""`make demo`: dream a procedural picture (works with nothing beside the checkout), then, when ../shared/media is
present, real photos, a sound and a 3 s dream film. Prints where every output went."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-output"
sys.path.insert(0, str(ROOT))

from mmdream.cli import main as mmdream  # noqa: E402
from mmdream.cli import quiet_native_logs  # noqa: E402
from mmdream.media.procedural import procedural_picture  # noqa: E402


def media_dir() -> Path | None:
    p = Path(os.environ.get("MMDREAM_MEDIA", ROOT.parent / "shared" / "media"))
    return p if p.is_dir() else None


# librosa compiles its numba functions at the first STFT after an install and keeps them in its cache (about half a
# minute on a 2-core host, mostly one core): a process of its own does it while the pictures dream.
COMPILE_SOUND = "import numpy, librosa; librosa.istft(librosa.stft(numpy.zeros(4096, numpy.float32)))"


def sound_compiled_aside() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", COMPILE_SOUND], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(*argv: str) -> None:
    rc = mmdream(list(argv))
    if rc != 0:
        raise SystemExit(f"demo step failed: mmdream {' '.join(argv)}")


def main() -> int:
    quiet_native_logs(verbose="-v" in sys.argv)  # the demo's steps are CLI commands: as quiet as the command
    OUT.mkdir(exist_ok=True)
    media = media_dir()
    compiling = sound_compiled_aside() if media is not None else None
    outputs = []
    src = OUT / "procedural.png"
    procedural_picture(src)
    run("image", str(src), "-o", str(OUT / "procedural_dream.jpg"), "--report", str(OUT / "procedural_dream.json"))
    outputs.append(OUT / "procedural_dream.jpg")
    if media is None:
        print("../shared/media not found: dreamed the procedural picture only")
    else:
        for name in ["sky1024px.jpg", "friends_by_Aitzol_Berasategi.jpg", "chelsea.png"]:
            photo = media / "images" / name
            if photo.exists():
                dst = OUT / f"{photo.stem}_dream.jpg"
                run("image", str(photo), "-o", str(dst), "--max-size", "512")
                outputs.append(dst)
        compiling.wait()
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
