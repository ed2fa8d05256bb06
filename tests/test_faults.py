"""The fault matrix: bad input, bad options and failing disks, each answered by exit 2 and exactly one stderr line
that names the cause; nothing partial at an output's name; the input unchanged (sha256). Rows that only check
arguments load no net. Kills, concurrent renders and fuzzing of the schedule parser and numeric options follow."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import pty
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import main_apart, png_header, run_fresh, run_mmdream, start_mmdream
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from mmdream.cli import main
from mmdream.media.ffmpeg import ffmpeg_exe

LEFTOVER_MARKS = (".partial", ".mmdream-tmp", ".mmdream-work", ".mmdream-lock")


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def _tone(path: Path, seconds: float, sr: int = 44100, channels: int = 1, level: float = 0.3) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    y = level * np.sin(2 * np.pi * 440 * t)
    sf.write(path, np.repeat(y[:, None], channels, axis=1).astype(np.float32), sr, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def files(media, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    Image.open(media / "images" / "chelsea.png").convert("RGB").resize((64, 48)).save(d / "photo.jpg")
    Image.new("RGB", (1, 1), (120, 30, 200)).save(d / "one.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)).save(d / "odd.png")
    shutil.copy(d / "photo.jpg", d / "ünïcødé 写真.jpg")
    shutil.copy(d / "one.png", d / "png_named.jpg")
    (d / "bomb.png").write_bytes(png_header(20000, 20000))
    (d / "text.jpg").write_text("not a picture")
    (d / "empty.jpg").write_bytes(b"")
    jpg = (media / "images" / "china.jpg").read_bytes()
    (d / "cut.jpg").write_bytes(jpg[: len(jpg) // 3])
    _tone(d / "tone.wav", 2.0)
    _tone(d / "short.wav", 0.01)
    _tone(d / "silent.wav", 1.0, level=0.0)
    _tone(d / "hi.wav", 1.0, sr=96000)
    _tone(d / "lo.wav", 1.0, sr=8000)
    _tone(d / "surround.wav", 1.0, channels=6)
    y = np.full((44100, 1), 0.1, np.float32)
    y[1000] = np.nan
    sf.write(d / "nan.wav", y, 44100, subtype="FLOAT")
    (d / "text.wav").write_text("not a sound")
    mp3 = (media / "audio" / "animals" / "dog.mp3").read_bytes()
    (d / "cut.mp3").write_bytes(mp3[: len(mp3) // 2])
    (d / "stereo.mp3").write_bytes(mp3)
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=24", "-f", "lavfi", "-i", "sine=f=330:sample_rate=44100",
            "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(d / "clip.mp4"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=24", "-frames:v", "1", "-c:v", "libx264", "-pix_fmt",
            "yuv420p", str(d / "one_frame.mp4"))
    _ffmpeg("-i", str(d / "clip.mp4"), "-an", "-c", "copy", str(d / "silent_film.mp4"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=24", "-f", "lavfi", "-i", "sine=f=330:sample_rate=44100",
            "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart",
            str(d / "whole.mp4"))
    whole = (d / "whole.mp4").read_bytes()
    (d / "cut.mp4").write_bytes(whole[: len(whole) // 2])  # its header says 3 s
    _ffmpeg("-i", str(d / "clip.mp4"), "-vn", "-c", "copy", str(d / "sound_only.m4a"))
    _ffmpeg("-display_rotation", "90", "-i", str(d / "clip.mp4"), "-c", "copy", str(d / "rotated.mp4"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=24", "-t", "1", "-vf", "setpts='PTS+0.02*random(0)/TB'",
            "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(d / "vfr.mkv"))
    (d / "text.mp4").write_text("not a film")
    (d / "sched_backwards.toml").write_text("[[keyframe]]\ntime = 5\n[[keyframe]]\ntime = 2\n")
    (d / "sched_unknown.toml").write_text("[[keyframe]]\ntime = 0\nwobble = 3\n")
    (d / "sched_bad.toml").write_text("[[keyframe]\ntime = 0\n")
    (d / "sched_empty.toml").write_text("title = 'nothing'\n")
    (d / "sched_negative.toml").write_text("[[keyframe]]\ntime = -1\n")
    (d / "sched_nan.toml").write_text("[[keyframe]]\ntime = 0\nstep_size = nan\n")
    (d / "sched_octaves.toml").write_text("[[keyframe]]\ntime = 0\noctaves = 0\n")
    (d / "sched_style.toml").write_text("[[keyframe]]\ntime = 0\nstyle = 'sideways'\n")
    (d / "sched_notime.toml").write_text("[[keyframe]]\nstrength = 2\n")
    (d / "sched_text.toml").write_text("[[keyframe]]\ntime = 'soon'\n")
    (d / "sched_zoom.toml").write_text("[[keyframe]]\ntime = 0\nzoom = 3\n")
    return d


# (id, argv with {in}/{out} placeholders, expected exit code, a piece of the one stderr line or None for success)
IMG, SND, FILM = "photo.jpg", "tone.wav", "clip.mp4"
TINY = ["--octaves", "1", "--steps", "1"]
ROWS = [
    # -- images: bad files
    ("image-missing", ["image", "nothere.jpg", "-o", "{out}/o.jpg"], 2, "no such file"),
    ("image-empty", ["image", "{in}/empty.jpg", "-o", "{out}/o.jpg"], 2, "is empty"),
    ("image-text", ["image", "{in}/text.jpg", "-o", "{out}/o.jpg"], 2, "is not a readable image"),
    ("image-truncated", ["image", "{in}/cut.jpg", "-o", "{out}/o.jpg", *TINY], 2, "is not a readable image"),
    ("image-wav-as-jpg", ["image", "{in}/text.wav", "-o", "{out}/o.jpg"], 2, "is not a readable image"),
    ("image-bomb", ["image", "{in}/bomb.png", "-o", "{out}/o.jpg"], 2, "above the 100 MP limit"),
    ("image-folder-input", ["image", "{in}", "-o", "{out}/o.jpg"], 2, "is a folder, not a file"),
    ("image-same-as-input", ["image", "{in}/photo.jpg", "-o", "{in}/photo.jpg"], 2, "is the input"),
    ("image-bad-suffix", ["image", "{in}/photo.jpg", "-o", "{out}/o.txt"], 2, "cannot write an image as .txt"),
    ("image-no-folder", ["image", "{in}/photo.jpg", "-o", "{out}/nope/o.jpg"], 2, "does not exist"),
    ("image-output-is-folder", ["image", "{in}/photo.jpg", "-o", "{out}/dir.jpg"], 2, "is a folder"),
    ("image-report-no-folder", ["image", "{in}/photo.jpg", "-o", "{out}/o.jpg", "--report", "{out}/nope/r.json"], 2,
     "does not exist"),
    ("image-guide-missing", ["image", "{in}/photo.jpg", "-o", "{out}/o.jpg", "--guide", "{in}/none.jpg"], 2,
     "no such file"),
    # -- images that work: 1x1, odd sizes, unicode, a PNG named .jpg
    ("image-1x1", ["image", "{in}/one.png", "-o", "{out}/o.png", *TINY], 0, None),
    ("image-odd", ["image", "{in}/odd.png", "-o", "{out}/o.png", *TINY], 0, None),
    ("image-unicode", ["image", "{in}/ünïcødé 写真.jpg", "-o", "{out}/ü 写.jpg", *TINY], 0, None),
    ("image-png-named-jpg", ["image", "{in}/png_named.jpg", "-o", "{out}/o.webp", *TINY], 0, None),
    ("image-bomb-allowed", ["image", "{in}/bomb.png", "-o", "{out}/o.jpg", "--max-pixels", "400000000"], 2,
     "is not a readable image"),
    # -- numeric options
    *[(f"image-{flag.strip('-')}-{value}", ["image", "{in}/photo.jpg", "-o", "{out}/o.jpg", flag, value], 2, want)
      for flag, value, want in [
          ("--octaves", "0", "--octaves must be at least 1"), ("--octaves", "99", "--octaves must be at least 1"),
          ("--steps", "-1", "--steps must be at least 0"), ("--step-size", "0", "--step-size must be above 0"),
          ("--step-size", "1e6", "at most 1"), ("--step-size", "nan", "must be a finite number"),
          ("--jitter", "-1", "--jitter must be"), ("--tile-size", "8", "--tile-size must be at least 32"),
          ("--strength", "-1", "--strength must be"), ("--strength", "inf", "must be a finite number"),
          ("--max-size", "-5", "--max-size must be at least 0"), ("--max-pixels", "0", "--max-pixels must be"),
          ("--seed", "-1", "--seed must be at least 0"), ("--octave-scale", "0.5", "--octave-scale must be"),
          ("--smooth", "-2", "--smooth must be")]],
    # -- sounds
    ("audio-missing", ["audio", "nothere.wav", "-o", "{out}/o.wav"], 2, "no such file"),
    ("audio-text", ["audio", "{in}/text.wav", "-o", "{out}/o.wav"], 2, "is not a media file"),
    ("audio-nan", ["audio", "{in}/nan.wav", "-o", "{out}/o.wav"], 2, "non-finite samples"),
    ("audio-image-input", ["audio", "{in}/photo.jpg", "-o", "{out}/o.wav"], 2, "has no audio stream"),
    ("audio-silent-film", ["audio", "{in}/silent_film.mp4", "-o", "{out}/o.wav"], 2, "has no audio stream"),
    ("audio-51-to-mp3", ["audio", "{in}/surround.wav", "-o", "{out}/o.mp3"], 2, ".mp3 holds at most 2 channels"),
    ("audio-bad-suffix", ["audio", "{in}/tone.wav", "-o", "{out}/o.aiff"], 2, "cannot write a sound as .aiff"),
    ("audio-same", ["audio", "{in}/tone.wav", "-o", "{in}/tone.wav"], 2, "is the input"),
    ("audio-noise-duration-0", ["audio", "noise", "--duration", "0", "-o", "{out}/o.wav"], 2,
     "--duration must be above 0"),
    ("audio-duration-negative", ["audio", "{in}/tone.wav", "--duration", "-1", "-o", "{out}/o.wav"], 2,
     "--duration must be above 0"),
    ("audio-loudness-positive", ["audio", "{in}/tone.wav", "--loudness", "5", "-o", "{out}/o.wav"], 2,
     "--loudness must be"),
    ("audio-ouroboros-0", ["audio", "{in}/tone.wav", "--ouroboros", "0", "-o", "{out}/o.wav"], 2,
     "--ouroboros must be at least 1"),
    ("audio-plot-no-folder", ["audio", "{in}/tone.wav", "-o", "{out}/o.wav", "--plot", "{out}/nope/p.png"], 2,
     "does not exist"),
    ("audio-huge-step", ["audio", "{in}/tone.wav", "-o", "{out}/o.wav", "--step-size", "1e6"], 2, "at most 1"),
    # -- sounds that work: 0.01 s, silence, 96 kHz, 8 kHz, 5.1 to flac, a video's sound
    ("audio-short", ["audio", "{in}/short.wav", "-o", "{out}/o.wav", "--steps", "1"], 0, None),
    ("audio-silent", ["audio", "{in}/silent.wav", "-o", "{out}/o.wav", "--steps", "1"], 0, None),
    ("audio-96k", ["audio", "{in}/hi.wav", "-o", "{out}/o.flac", "--steps", "1"], 0, None),
    ("audio-8k", ["audio", "{in}/lo.wav", "-o", "{out}/o.wav", "--steps", "1"], 0, None),
    ("audio-51-flac", ["audio", "{in}/surround.wav", "-o", "{out}/o.flac", "--steps", "1"], 0, None),
    ("audio-from-film", ["audio", "{in}/clip.mp4", "-o", "{out}/o.ogg", "--steps", "1"], 0, None),
    ("audio-truncated-mp3", ["audio", "{in}/cut.mp3", "-o", "{out}/o.wav", "--steps", "1"], 0, "truncated file"),
    # -- films
    ("video-missing", ["video", "nothere.mp4", "-o", "{out}/o.mp4"], 2, "no such file"),
    ("video-text", ["video", "{in}/text.mp4", "-o", "{out}/o.mp4"], 2, "is not a media file"),
    ("video-sound-only", ["video", "{in}/sound_only.m4a", "-o", "{out}/o.mp4"], 2, "has no video stream"),
    ("video-from-photo", ["video", "{in}/photo.jpg", "-o", "{out}/o.mp4", "--steps", "1"], 0, None),  # one frame
    ("video-bad-suffix", ["video", "{in}/clip.mp4", "-o", "{out}/o.gif"], 2, "cannot write a film as .gif"),
    ("video-same", ["video", "{in}/clip.mp4", "-o", "{in}/clip.mp4"], 2, "is the input"),
    ("video-start-past-end", ["video", "{in}/clip.mp4", "-o", "{out}/o.mp4", "--start", "9"], 2, "past the end"),
    ("video-end-before-start", ["video", "{in}/clip.mp4", "-o", "{out}/o.mp4", "--start", "0.5", "--end", "0.2"], 2,
     "--end must come after --start"),
    ("video-preview-no-folder", ["video", "{in}/clip.mp4", "-o", "{out}/o.mp4", "--preview", "{out}/no/s.png"], 2,
     "does not exist"),
    *[(f"video-{flag.strip('-')}-{value}", ["video", "{in}/clip.mp4", "-o", "{out}/o.mp4", flag, value], 2, want)
      for flag, value, want in [
          ("--fps", "0", "--fps must be above 0"), ("--fps", "-1", "--fps must be above 0"),
          ("--fps", "1e9", "--fps must be above 0 and at most 240"), ("--blend", "2", "--blend must be"),
          ("--cut", "-1", "--cut must be"), ("--start", "-1", "--start must be at least 0"),
          ("--max-size", "0", "--max-size must be at least 16"), ("--warm-steps", "-1", "--warm-steps must be"),
          ("--react", "-1", "--react must be"), ("--warm-octaves", "0", "--warm-octaves must be")]],
    *[(f"schedule-{name}", ["video", "{in}/clip.mp4", "-o", "{out}/o.mp4", "--schedule", f"{{in}}/sched_{name}.toml"],
       2, want) for name, want in [
          ("backwards", "keyframe times must increase"), ("unknown", "unknown keyframe key(s) wobble"),
          ("bad", "is not valid TOML"), ("empty", "has no [[keyframe]] tables"),
          ("negative", "must be a finite time from 0 on"), ("nan", "step_size must be a finite number"),
          ("octaves", "octaves must be at least 1"), ("style", "style must be one of"),
          ("notime", "needs a time"), ("text", "bad keyframe time")]],
    ("schedule-missing", ["image", "{in}/photo.jpg", "-o", "{out}/o.jpg", "--schedule", "{in}/none.toml"], 2,
     "no such schedule file"),
    ("schedule-folder", ["image", "{in}/photo.jpg", "-o", "{out}/o.jpg", "--schedule", "{in}"], 2,
     "is not a readable schedule"),
    # -- films that work: one frame, variable frame rate, a phone's rotation, no sound
    ("video-one-frame", ["video", "{in}/one_frame.mp4", "-o", "{out}/o.mp4", "--steps", "2"], 0, None),
    ("video-vfr", ["video", "{in}/vfr.mkv", "-o", "{out}/o.mkv", "--steps", "2", "--fps", "12"], 0, None),
    ("video-rotated", ["video", "{in}/rotated.mp4", "-o", "{out}/o.mp4", "--steps", "2", "--end", "0.25"], 0, None),
    ("video-no-sound", ["video", "{in}/silent_film.mp4", "-o", "{out}/o.mov", "--steps", "2", "--end", "0.25"], 0,
     None),
    ("video-truncated", ["video", "{in}/cut.mp4", "-o", "{out}/o.mp4", *TINY, "--max-size", "32"], 0,
     "truncated file"),
    # -- the zoom: its own options, checked before a net loads; a tiny one that works
    ("zoom-missing", ["zoom", "{in}/none.jpg", "-o", "{out}/o.mp4"], 2, "no such file"),
    ("zoom-text", ["zoom", "{in}/text.jpg", "-o", "{out}/o.mp4"], 2, "is not a readable image"),
    ("zoom-factor", ["zoom", "{in}/photo.jpg", "-o", "{out}/o.mp4", "--zoom", "3"], 2, "--zoom must be"),
    ("zoom-pan", ["zoom", "{in}/photo.jpg", "-o", "{out}/o.mp4", "--pan", "1,x"], 2, "pan must be two numbers"),
    ("zoom-seconds", ["zoom", "{in}/photo.jpg", "-o", "{out}/o.mp4", "--seconds", "0"], 2, "--seconds must be"),
    ("zoom-gif", ["zoom", "{in}/photo.jpg", "-o", "{out}/o.gif"], 2, "cannot write a film as .gif"),
    ("zoom-ouroboros-alone", ["zoom", "{in}/photo.jpg", "-o", "{out}/o.mp4", "--audio-ouroboros"], 2,
     "--audio-ouroboros grows a sound"),
    ("zoom-audio-text", ["zoom", "{in}/photo.jpg", "-o", "{out}/o.mp4", "--audio", "{in}/text.wav"], 2,
     "is not a media file"),
    ("zoom-schedule-zoom", ["zoom", "{in}/photo.jpg", "-o", "{out}/o.mp4", "--schedule", "{in}/sched_zoom.toml"], 2,
     "zoom must be at least 0.8 and at most 1.25"),
    ("zoom-tiny", ["zoom", "{in}/photo.jpg", "-o", "{out}/o.mp4", "--seconds", "0.25", "--max-size", "64", *TINY],
     0, None),
    # -- style and train options
    ("style-steps-0", ["style", "image", "{in}/photo.jpg", "--style", "{in}/odd.png", "-o", "{out}/o.png",
                       "--style-steps", "0"], 2, "--style-steps must be at least 1"),
    ("style-missing-style", ["style", "image", "{in}/photo.jpg", "--style", "{in}/none.png", "-o", "{out}/o.png"], 2,
     "no such file"),
    ("style-audio-text", ["style", "audio", "{in}/tone.wav", "--style", "{in}/text.wav", "-o", "{out}/o.wav"], 2,
     "is not a media file"),
    ("style-lr-0", ["style", "image", "{in}/photo.jpg", "--style", "{in}/odd.png", "-o", "{out}/o.png",
                    "--learning-rate", "0"], 2, "--learning-rate must be above 0"),
    ("train-epochs-0", ["train", "image", "{in}", "--epochs", "0"], 2, "--epochs must be at least 1"),
    ("train-batch-0", ["train", "audio", "{in}", "--batch-size", "0"], 2, "--batch-size must be at least 1"),
    ("train-val-1", ["train", "image", "{in}", "--val-fraction", "1"], 2, "--val-fraction must be"),
    ("train-not-a-folder", ["train", "image", "{in}/photo.jpg"], 2, "is not a folder of class sub-folders"),
]
SUCCESS_OUTPUTS = {"image-1x1": (1, 1), "image-odd": (7, 5), "video-rotated": (64, 96), "zoom-tiny": (64, 48)}


def _sha(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if any(m in p.name for m in LEFTOVER_MARKS)]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_fault_matrix(row, files, tmp_path, capsys):
    name, argv, code, want = row
    out = tmp_path / "out"
    out.mkdir()
    (out / "dir.jpg").mkdir()
    before = _sha(files)
    capsys.readouterr()
    rc = main([a.replace("{in}", str(files)).replace("{out}", str(out)) for a in argv])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == code, err
    if code == 2:
        assert len(err) == 1 and err[0].startswith("mmdream: error: "), err
        assert want is None or want in err[0], err
        assert sorted(p.name for p in out.iterdir()) == ["dir.jpg"], "an output appeared after an error"
    elif want is None:
        assert err == [], err
    else:
        assert len(err) == 1 and err[0].startswith("mmdream: warning: ") and want in err[0], err
    assert _leftovers(out) == [] and _sha(files) == before
    if code == 0:
        produced = next(p for p in out.iterdir() if p.name != "dir.jpg")
        _is_the_input_dreamed(produced, Path(argv[1].replace("{in}", str(files))), SUCCESS_OUTPUTS.get(name),
                              whole=want is None)


def test_a_report_is_standard_json_where_a_figure_is_not_finite(files, tmp_path, capsys):
    """Silence's loudness is -inf: the report says null, as standard JSON must (Python's -Infinity is refused by
    JavaScript's JSON.parse and by jq), and every other figure is as written; the summary says "silent" (it said
    -inf LUFS, true peak -240.0 dBFS), and a sound under BS.1770's gate is said to be."""
    from mmdream.results import level

    report = tmp_path / "r.json"
    assert main(["audio", str(files / "silent.wav"), "-o", str(tmp_path / "o.wav"), "--steps", "1",
                 "--report", str(report)]) == 0
    assert capsys.readouterr().out.rstrip().endswith(" Hz, silent")
    assert level(float("-inf"), -66.1) == "below -70 LUFS (BS.1770's gate), true peak -66.1 dBFS"
    assert level(-14.04, -1.0) == "-14.0 LUFS, true peak -1.0 dBFS" and level(None, None) == "silent"

    def refuse(constant: str):
        raise AssertionError(f"{constant} in the report")

    figures = json.loads(report.read_text(), parse_constant=refuse)
    assert figures["input_loudness_lufs"] is None and figures["output_loudness_lufs"] is None, figures
    assert figures["duration_s"] == pytest.approx(1.0, abs=0.01) and figures["sample_rate"] == 44100


def _is_the_input_dreamed(produced: Path, src: Path, size: tuple[int, int] | None, whole: bool) -> None:
    """A success row's output opens as what its command makes of its input: a picture at the photo's size, a sound
    as long as the input's (`whole`: a truncated one is as long as what could be read), a film with a picture (upright: `size`) and the input's sound where it has one."""
    from mmdream.media.ffmpeg import probe

    if produced.suffix in (".png", ".jpg", ".webp"):
        assert Image.open(produced).size == Image.open(src).size
        return
    ours, theirs = probe(str(produced)), probe(str(src))
    assert ours.duration and ours.duration > 0, produced
    if produced.suffix in (".wav", ".flac", ".ogg"):
        assert ours.has_audio and not ours.has_video and ours.audio_channels == theirs.audio_channels
        assert not whole or abs(ours.duration - theirs.duration) <= 0.05 * theirs.duration + 0.05, (ours, theirs)
    else:
        assert ours.has_video and ours.has_audio == theirs.has_audio, (ours, theirs)
        assert size is None or ours.video_size == size, ours  # plays upright, as the input does


def test_a_listing_whose_reader_went_away_stops_without_a_traceback():
    """`mmdream models | head -1`: the pipe closes before the listing is written."""
    proc = subprocess.Popen([sys.executable, "-m", "mmdream", "models"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 141 and err == "", err


def test_a_missing_file_is_one_line_at_once_without_tensorflow(tmp_path):
    """At once: refused before TensorFlow, Keras or Ray is imported (what the process loaded, not how long it took,
    which measures the host: a bound of a second failed at 1.27 s on a host at a slow hour)."""
    p = run_fresh("image", tmp_path / "missing.jpg", "-o", tmp_path / "x.jpg", timeout=120)
    assert p.returncode == 2 and p.stderr.splitlines() == [f"mmdream: error: {tmp_path / 'missing.jpg'}: no such file"]
    code, loaded, stderr = main_apart("image", tmp_path / "missing.jpg", "-o", tmp_path / "x.jpg")
    assert code == 2 and loaded == set(), (code, loaded, stderr)
    code, loaded, stderr = main_apart("video", "x.mp4", "-o", "y.mp4", "--fps", "0", cwd=tmp_path)
    assert code == 2 and "tensorflow" not in loaded, (code, loaded, stderr)


def test_bf16_under_a_onednn_cap_below_avx512_is_one_line_and_auto_takes_fp32(files, tmp_path):
    """ONEDNN_MAX_CPU_ISA=AVX2 (what a cluster of mixed hosts sets for identical films) leaves TensorFlow's oneDNN
    no bf16 kernels: on a CPU with AVX-512 BF16 the first bf16 matmul killed the process (SIGSEGV). Asked for,
    bf16 is refused in one line; `auto` takes fp32 without measuring (nothing is written to the cache)."""
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "MMDREAM_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "x.png"
    p = run_mmdream("image", files / "photo.jpg", "-o", out, "--precision", "bf16", "--steps", "1", "--octaves", "1",
                    env=env)
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    assert p.stderr.splitlines() == ["mmdream: error: --precision bf16: ONEDNN_MAX_CPU_ISA=AVX2 leaves TensorFlow's "
                                     "oneDNN no bf16 kernels (they need AVX-512): use --precision fp32, or unset it"]
    assert not out.exists()
    code = ("from mmdream.pipelines.precision import auto_precision; "
            "print(auto_precision('efficientnet_lite0'), auto_precision())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert (done.returncode, done.stdout.split()) == (0, ["fp32", "fp32"]), done.stderr[-2000:]
    assert not (tmp_path / "cache" / "precision.json").exists()


def _fill(disk: Path) -> None:
    with open(disk / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass


@pytest.mark.parametrize("kind", ["image", "audio", "video"])
def test_full_disk_and_read_only_folder_are_one_line(files, tmpfs, kind):
    argv = {"image": ["image", files / IMG, *TINY], "audio": ["audio", files / SND, "--steps", "1"],
            "video": ["video", files / FILM, "--steps", "1", "--end", "0.5"]}[kind]
    suffix = {"image": ".jpg", "audio": ".wav", "video": ".mp4"}[kind]
    full, ro = tmpfs("full", "size=256k"), tmpfs("ro", "size=256k", "ro")
    _fill(full)
    before = _sha(files)
    p = run_mmdream(*argv, "-o", full / f"o{suffix}")
    lines = p.stderr.splitlines()
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"mmdream: error: no space left on {full}")
    left = sorted(x.name for x in full.iterdir())
    assert left == ["filler"], left  # no partial output, no temporaries, no work folder
    p = run_mmdream(*argv, "-o", ro / f"o{suffix}")
    assert p.returncode == 2 and p.stderr.splitlines() == [
        f"mmdream: error: output folder {ro} is read-only (writing {ro / f'o{suffix}'})"], p.stderr
    assert _sha(files) == before


def _kill_at(argv: list, moment: str, cwd: Path, env: dict) -> None:
    """SIGKILL a render during start-up (after 1 s of a fresh interpreter, before any net has run) or while it
    dreams (half a second after its first progress bar moved; stderr is a terminal so the bars are drawn: a
    process forked with the libraries loaded, as run_mmdream's), and check it was still running then: a fixed
    delay raced a fast host."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 0-column pty hides tqdm
    if moment == "start-up":
        proc = subprocess.Popen([sys.executable, "-m", "mmdream", *map(str, argv)], cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=follower)
    else:
        proc = start_mmdream(*argv, cwd=cwd, env=env, stderr=os.ttyname(follower))
    seen = bytearray()

    def drain() -> None:
        with contextlib.suppress(OSError):  # EIO once the terminal is closed on every side but this
            while chunk := os.read(leader, 4096):
                seen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    if moment == "start-up":
        time.sleep(1.0)
    else:
        deadline = time.monotonic() + 300
        while b"%|" not in seen and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    os.close(follower)  # open until the end: the forked child opens the terminal by its name, some time after
    reader.join(timeout=5)
    os.close(leader)
    assert alive, f"the render ended before the kill ({moment}): make it longer\n{seen.decode(errors='replace')[-800:]}"


@pytest.mark.parametrize("kind", ["image", "audio", "video", "style-video"])
def test_kill_9_leaves_nothing_at_the_output_and_the_rerun_cleans_up(files, media, tmp_path, kind):
    out = tmp_path / "out"
    out.mkdir()
    argv = {"image": ["image", media / "images" / "sky1024px.jpg", "-o", out / "o.jpg", "--max-size", "384"],
            "audio": ["audio", media / "audio" / "music" / "sorohanro_-_solo-trumpet-06.hq.ogg", "-o",
                      out / "o.wav", "--duration", "30", "--steps", "40"],
            "video": ["video", files / FILM, "-o", out / "o.mp4", "--steps", "2"],
            "style-video": ["style", "video", files / FILM, "--style", files / "odd.png", "-o", out / "o.mp4",
                            "--net", "efficientnet_lite0", "--style-steps", "4", "--end", "0.5"]}[kind]
    temporary = tmp_path / "tmp"  # the killed process's temporary folder: nothing may stay there either
    temporary.mkdir()
    for moment in ("start-up", "dreaming"):
        _kill_at(argv, moment, tmp_path, {**os.environ, "TMPDIR": str(temporary)})
        assert not (out / Path(argv[argv.index("-o") + 1]).name).exists()
        assert list(temporary.iterdir()) == [], (moment, list(temporary.iterdir()))
    shorter = {"image": ["--max-size", "96"], "audio": ["--duration", "2", "--steps", "2"], "video": ["--end", "0.5"],
               "style-video": []}[kind]  # the rerun cleans up whatever it is asked to dream
    p = run_mmdream(*argv, *shorter, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-1500:]
    assert [x.name for x in out.iterdir()] == [Path(argv[argv.index("-o") + 1]).name]  # leftovers removed


def test_a_second_render_of_one_output_is_refused_and_the_first_completes(media, tmp_path):
    src = media / "video" / "big_buck_bunny_0_30.webm"
    out = tmp_path / "o.mp4"
    first = start_mmdream("video", src, "-o", out, "--end", "10", "--max-size", "96", "--no-audio", "--steps", "2",
                          "--report", tmp_path / "r.json")
    rows = tmp_path / ".o.mmdream-work" / "frames.jsonl"
    for _ in range(1200):  # until the first render is dreaming frames
        if rows.exists() or first.poll() is not None:
            break
        time.sleep(0.05)
    assert first.poll() is None, "the first render ended before it was seen dreaming"
    first.send_signal(signal.SIGSTOP)  # held mid-render while the second tries, however fast the host
    try:
        second = run_mmdream("video", src, "-o", out, "--end", "3", "--max-size", "128", "--steps", "5")
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 2 and second.stderr.splitlines() == [
        f"mmdream: error: another mmdream is rendering {out} now (work folder {tmp_path / '.o.mmdream-work'}); "
        "wait for it to finish or choose another output"], second.stderr
    assert first.wait(timeout=600) == 0, first.communicate()[1][-1500:]
    report = json.loads((tmp_path / "r.json").read_text())
    from mmdream.media.ffmpeg import probe

    assert report["frames"] == 240 and abs(probe(str(out)).duration - 10.0) <= 1 / 24
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4", "r.json"]


# ---- fuzzing --------------------------------------------------------------------------------------------------
_values = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.text(max_size=8), st.just("0:12"))
_keyframe = st.dictionaries(st.sampled_from(["time", "octaves", "steps", "step_size", "strength", "octave_scale",
                                             "style", "layers", "wobble"]), _values, max_size=6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_keyframe, max_size=4))
def test_schedule_parser_answers_every_input_with_a_schedule_or_one_line(tmp_path, frames):
    from mmdream.errors import UserError
    from mmdream.schedule import Schedule

    def toml(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return json.dumps(v) if isinstance(v, str) else repr(v)

    path = tmp_path / "s.toml"
    path.write_text("".join("[[keyframe]]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in f.items())
                            for f in frames))
    try:
        schedule = Schedule.load(path)
    except UserError as e:
        assert "\n" not in str(e)
        return
    assert schedule.times == sorted(schedule.times) and all(math.isfinite(t) and t >= 0 for t in schedule.times)


NUMERIC_FLAGS = ["--octaves", "--steps", "--step-size", "--jitter", "--tile-size", "--strength", "--max-size",
                 "--seed", "--octave-scale", "--smooth", "--max-pixels"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(NUMERIC_FLAGS), st.one_of(st.integers(-10**12, 10**12), st.integers(10**308, 10**400),
                                                 st.floats(allow_nan=True, allow_infinity=True)))
@example("--max-pixels", 10**305)  # an integer a float can hold, in a range without a top: taken
@example("--max-pixels", 10**400)  # one beyond a float's range: refused
@example("--octaves", 0)
def test_numeric_options_are_checked_without_a_net(flag, value):
    """Any value of any numeric image option, as the command line parses it: the spec (mmdream.specs) accepts it
    within the option's range for the command, else refuses it in one line that names the flag."""
    from mmdream.cli import build_parser, given
    from mmdream.errors import OptionError
    from mmdream.options import BY_NAME
    from mmdream.specs import make_spec

    text = str(int(value)) if isinstance(value, float) and value.is_integer() and abs(value) < 1e15 else str(value)
    try:
        args = build_parser().parse_args(["image", "x.jpg", "-o", "y.jpg", flag, text])
    except SystemExit:  # argparse refuses a float for an int option: its own usage line, exit 2
        return
    name = flag[2:].replace("-", "_")
    number = getattr(args, name)
    lo, hi, lo_open = BY_NAME[name].range_for("image")
    try:
        as_float = float(number)
    except OverflowError:  # an integer beyond a float's range
        as_float = math.inf
    inside = math.isfinite(as_float) and (number > lo if lo_open else number >= lo) and (hi is None or number <= hi)
    try:
        spec = make_spec("image", given(args))
    except OptionError as e:
        line = e.spelled(flag)
        assert not inside and line.startswith(f"{flag} must") and "\n" not in line, (flag, number, line)
        return
    assert inside and getattr(spec, name) == number, (flag, number)


def test_a_dream_that_diverges_stops_before_writing(files, tmp_path, monkeypatch, capsys):
    """If the ascent ever produced NaN or Inf, the command stops with one line and writes nothing."""
    import mmdream.pipelines.audio.block as block

    monkeypatch.setattr(block, "resynthesise", lambda spec, *a, **k: np.full((spec.length, 1), np.nan, np.float32))
    capsys.readouterr()
    assert main(["audio", str(files / SND), "-o", str(tmp_path / "o.wav"), "--steps", "1"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert err == ["mmdream: error: the dreamed sound became non-finite (NaN or Inf); lower --step-size or "
                   "--strength"]
    assert list(tmp_path.iterdir()) == []


def test_the_step_is_bounded_whatever_the_library_caller_asks(lite0):
    from mmdream.core.engine import MAX_STEP, Dreamer, DreamSettings, Objective

    x = np.random.default_rng(0).uniform(-0.5, 0.5, (1, 40, 48, 3)).astype(np.float32)
    d = Dreamer(lite0, Objective(lite0.default_layers))
    out = d.dream(x, DreamSettings(octaves=1, steps=1, step_size=1e6, jitter=0, grad_clip=1.0))
    assert np.isfinite(out).all() and np.abs(out - x).max() <= MAX_STEP + 1e-5
