"""Measure each sound tagger's reference levels: every tag's mean probability over a reference set of music, the
level against which mmdream.senses.perceive.confidence judges whether a tag stands out.

The reference set is music nobody in the project chose for a test: the soundtracks of seven games Debian packages
(orchestral, electronic, ambient, adventure, arcade), fetched with `apt-get download`, five windows of each track at
10-90 % of its length; windows that are silent or steady (noise, hum: mmdream.pipelines.audio.hearing.steady) are
left out, as hearing leaves them out. Any folder of music can stand in (`--folder`).

    python scripts/ear_levels.py                     # Debian's packages -> mmdream/senses/levels.toml
    python scripts/ear_levels.py --folder ~/Music --nets MTT_musicnn --out /tmp/levels.toml

The file keeps the sections of nets it did not measure (yamnet's, which has no weights here).
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PACKAGES = ["asc-music", "singularity-music", "hyperrogue-music", "drascula-music", "warzone2100-music",
            "planetblupi-music-ogg", "fb-music-high"]
NETS = ["MTT_vgg", "MSD_vgg", "MTT_musicnn", "MSD_musicnn"]
AT = (0.1, 0.3, 0.5, 0.7, 0.9)
RATE = 22050
SUFFIXES = {".ogg", ".mp3", ".flac", ".wav", ".opus", ".m4a"}


def debian_music(folder: Path) -> list[Path]:
    """The packages' music files, downloaded and unpacked into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=folder, check=True, capture_output=True)
    for deb in folder.glob("*.deb"):
        subprocess.run(["dpkg", "-x", str(deb), str(folder / "files")], check=True)
    return music_in(folder / "files")


def music_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and "sound" not in p.parts[-2])


def windows(files: list[Path], seconds: float) -> list[np.ndarray]:
    """Mono windows of `seconds` at AT of each file's length, loud and not steady."""
    from mmdream.errors import UserError
    from mmdream.media.ffmpeg import ffmpeg_exe, probe
    from mmdream.pipelines.audio.hearing import SILENT_DBFS, steady

    out = []
    for path in files:
        try:
            length = probe(str(path)).duration or 0.0
        except UserError:
            continue
        if length < 2 * seconds:
            continue
        for at in AT:
            raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", f"{at * length:.3f}", "-t", f"{seconds}", "-i",
                                  str(path), "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"],
                                 capture_output=True).stdout
            x = np.frombuffer(raw, np.float32)[:, None]
            if len(x) < int(seconds * RATE):
                continue
            x = x[:int(seconds * RATE)]
            if 20 * np.log10(np.sqrt(np.mean(np.square(x))) + 1e-12) < SILENT_DBFS or steady(x, RATE):
                continue
            out.append(x)
    return out


def mean_probabilities(net_name: str, xs: list[np.ndarray]) -> dict[str, float]:
    from mmdream.core.engine import probabilities
    from mmdream.nets import load_net
    from mmdream.pipelines.audio.spectrum import analyse, linked, pad_frames

    net = load_net(net_name, sr=RATE)
    p = np.concatenate([probabilities(net, np.concatenate([pad_frames(linked(analyse(x - x.mean(0), RATE)).logmag)
                                                           for x in xs[i:i + 32]]))
                        for i in range(0, len(xs), 32)])
    return {c: float(v) for c, v in zip(net.classes, p.mean(axis=0))}


def toml_key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else '"' + name.replace('"', '\\"') + '"'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", help="a folder of music to measure on (default: Debian's game music)")
    parser.add_argument("--nets", default=",".join(NETS))
    parser.add_argument("--out", default=str(ROOT / "mmdream" / "senses" / "levels.toml"))
    args = parser.parse_args()
    import tomllib

    from mmdream.nets import load_net
    from mmdream.senses.perceive import window_seconds

    with tempfile.TemporaryDirectory() as tmp:
        files = music_in(Path(args.folder)) if args.folder else debian_music(Path(tmp))
        source = args.folder or f"the Debian packages {', '.join(PACKAGES)}"
        out = Path(args.out)
        kept = tomllib.loads(out.read_text()) if out.exists() else {}
        measured: dict[str, dict[str, float]] = {}
        for name in args.nets.split(","):
            xs = windows(files, window_seconds(load_net(name, weights="random", sr=RATE)))
            measured[name] = mean_probabilities(name, xs)
            print(f"{name}: {len(xs)} windows of {len(files)} files", flush=True)
    lines = ["# Each sound tagger's reference levels: a tag's mean probability over a reference set of music, the level",
             "# mmdream.senses.perceive.confidence measures a tag's standing from. Written by scripts/ear_levels.py",
             f"# on {datetime.date.today()} from {len(files)} files of {source} ({len(xs)} windows a net).",
             "# A net's \"*\" is the level of every tag it does not list; a section of \"*\" alone was not measured",
             "# (yamnet: no weights where this ran; AudioSet's classes are rare, and its score for one that is absent",
             "# stays below 0.05).", ""]
    for name, tags in {**kept, **measured}.items():
        lines.append(f"[{toml_key(name)}]")
        lines += [f"{toml_key(tag)} = {level:.4f}" for tag, level in tags.items()]
        lines.append("")
    out.write_text("\n".join(lines))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
