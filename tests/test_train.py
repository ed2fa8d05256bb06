"""Retraining: the split never leaks, and models trained on real material separate held-out data, dream, and
raise a target class's logit when a dream aims at it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mmdream.cli import main
from mmdream.errors import UserError
from mmdream.train.retrain import Example, clip_region, scan_classes, stratified_split


def _folders(tmp_path: Path, spec: dict[str, int], suffix: str = ".png") -> Path:
    for name, n in spec.items():
        (tmp_path / name).mkdir()
        for i in range(n):
            (tmp_path / name / f"{i:03d}{suffix}").write_bytes(b"x")
    return tmp_path


def test_split_is_stratified_disjoint_and_tail_holds_out_the_end(tmp_path):
    classes = scan_classes(_folders(tmp_path, {"a": 10, "b": 5, "c": 2}), {".png"})
    train, val = stratified_split(classes, 0.2, seed=1, mode="random")
    per_class = {lab: sum(e.label == lab for e in val) for lab in range(3)}
    assert per_class == {0: 2, 1: 1, 2: 1}
    assert not {e.path for e in train} & {e.path for e in val} and len(train) + len(val) == 17
    _, tail = stratified_split(classes, 0.2, seed=1, mode="tail")
    assert sorted(e.path.name for e in tail if e.label == 0) == ["008.png", "009.png"]
    assert stratified_split(classes, 0.2, seed=2, mode="random")[1] != val  # the seed matters


def test_a_class_with_one_image_or_one_class_is_an_error(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    with pytest.raises(UserError, match="at least two class sub-folders"):
        scan_classes(_folders(tmp_path / "x", {"only": 3}), {".png"})
    classes = scan_classes(_folders(tmp_path / "y", {"a": 3, "b": 1}), {".png"})
    with pytest.raises(UserError, match="class 'b' has one file"):
        stratified_split(classes, 0.2, 0, "random")
    _, val = stratified_split(classes, 0.2, 0, "random", split_single=True)
    assert Example(classes["b"][0], 1, "tail") in val


def test_one_clip_split_keeps_training_and_held_out_frames_apart():
    for frames in (40, 63, 140, 530):
        head, tail = clip_region(frames, "head", 62, 0.2), clip_region(frames, "tail", 62, 0.2)
        assert head[1] == tail[0] and head[0] == 0 and tail[1] == frames and head[1] > 0
        assert tail[1] - tail[0] == min(max(62, round(0.2 * frames)), frames // 2)


@pytest.mark.xdist_group("animals")  # conftest.animals_net, which tests/test_senses.py dreams with too
def test_audio_model_on_ten_animal_sounds_beats_chance_dreams_and_targets(animals, animals_net, tmp_path,
                                                                         monkeypatch):
    """Issue 6 acceptance: one-second windows, one held-out window per class (the end of each clip)."""
    models = animals_net.parent
    monkeypatch.setenv("MMDREAM_MODELS", str(models))
    card = json.loads((models / "animals.json").read_text())
    m = card["metrics"]
    assert card["base"] == "MTT_musicnn" and len(card["classes"]) == 10 and m["val_examples"] == 10
    assert m["chance"] == pytest.approx(0.1)
    assert m["val_accuracy"] >= 0.5, m["per_class_accuracy"]  # measured 0.7 (from the 9th epoch): seven of ten
    assert len(card["manifest"]["sha256"]) == 64 and card["manifest"]["files"] == 10
    assert json.loads((models / "train.json").read_text())["metrics"]["val_accuracy"] == m["val_accuracy"]

    cat = str(animals / "cat" / "cat.mp3")
    assert main(["audio", cat, "-o", str(tmp_path / "dog.wav"), "--net", "animals", "--target", "dog",
                 "--report", str(tmp_path / "dog.json")]) == 0
    targeted = json.loads((tmp_path / "dog.json").read_text())
    assert targeted["objective_change"] > 1.0, targeted  # the dog logit rises (measured +4.0)
    assert main(["audio", cat, "-o", str(tmp_path / "dream.wav"), "--net", str(models / "animals.keras"),
                 "--report", str(tmp_path / "dream.json")]) == 0
    assert json.loads((tmp_path / "dream.json").read_text())["objective_gain"] > 1.2


def test_image_model_on_frames_of_two_films_separates_held_out_frames_and_targets(media, tmp_path, monkeypatch,
                                                                                 capsys):
    """Issue 6 acceptance: frames of two videos, the last 20% of each film held out."""
    models = tmp_path / "models"
    monkeypatch.setenv("MMDREAM_MODELS", str(models))
    frames = tmp_path / "frames"
    videos = [str(media / "video" / v) for v in ("big_buck_bunny_0_30.webm", "cockatoo.mp4")]
    assert main(["datasets", "frames", *videos, "--out", str(frames), "--fps", "1", "--size", "160"]) == 0
    assert main(["train", "image", str(frames), "--name", "films", "--split", "tail", "--size", "128",
                 "--epochs", "4", "--fine-tune", "2", "--batch-size", "8"]) == 0
    card = json.loads((models / "films.json").read_text())
    m = card["metrics"]
    assert card["classes"] == ["big_buck_bunny_0_30", "cockatoo"] and m["val_examples"] == 9
    assert m["val_accuracy"] >= 0.85, m["confusion"]  # measured 1.0
    assert [h["phase"] for h in m["history"]][-1] == "fine-tune"

    capsys.readouterr()
    assert main(["models"]) == 0
    assert "films.keras" in capsys.readouterr().out
    assert main(["models", "films"]) == 0  # its card as the model's own page: provenance, accuracy, layers, classes
    page = capsys.readouterr().out
    assert f"validation accuracy {m['val_accuracy']:.3f} on 9 held-out" in page and card["manifest"]["sha256"][:16] in page
    assert "classes: big_buck_bunny_0_30, cockatoo" in page and f"layers: {', '.join(card['layers'])}" in page

    bunny = sorted((frames / "big_buck_bunny_0_30").glob("*.png"))[-1]  # held out
    out = tmp_path / "bird.png"
    assert main(["image", str(bunny), "-o", str(out), "--net", "films", "--target", "cockatoo", "--steps", "8",
                 "--octaves", "2", "--report", str(tmp_path / "bird.json")]) == 0
    targeted = json.loads((tmp_path / "bird.json").read_text())
    assert targeted["objective_after"] > targeted["objective_before"] + 1.0, targeted  # measured +3.3
    assert main(["image", str(bunny), "-o", str(tmp_path / "d.png"), "--net", "films", "--layers", "0.6",
                 "--steps", "8", "--octaves", "2", "--report", str(tmp_path / "d.json")]) == 0
    assert json.loads((tmp_path / "d.json").read_text())["objective_gain"] > 1.5


def _sound_classes(root: Path) -> Path:
    """Two classes of two short sounds each (a tone, a noise), and in the second a file named like a sound that is
    text, first by name, so `--split tail` trains on it and it is first read inside tf.data, mid-epoch."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(24000) / 16000
    for name, make in (("tone", lambda i: 0.3 * np.sin(2 * np.pi * (300 + 100 * i) * t)),
                       ("noise", lambda i: 0.1 * rng.standard_normal(len(t)))):
        (root / name).mkdir(parents=True)
        for i in range(2):
            sf.write(root / name / f"{i + 1}.wav", make(i).astype(np.float32), 16000)
    (root / "noise" / "0-bad.mp3").write_text("not a sound")
    return root


def test_a_file_that_is_not_a_sound_or_a_picture_stops_training_in_one_line(tmp_path):
    """A class folder's file that no reader can read is found inside tf.data, which wraps the error in its own with
    tracebacks: training stops with one line naming the file and status 2, writes no model, and its process ends
    (a fresh one, as a user runs it, within its time limit). The same for a picture."""
    from conftest import our_lines, run_fresh, run_here
    from PIL import Image

    models = tmp_path / "models"
    models.mkdir()
    env = {**os.environ, "MMDREAM_MODELS": str(models)}
    data = _sound_classes(tmp_path / "sounds")
    done = run_fresh("train", "audio", data, "--name", "s", "--epochs", "1", "--split", "tail", env=env, timeout=180)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert our_lines(done.stderr) == [f"mmdream: error: {data / 'noise' / '0-bad.mp3'} is not a media file ffmpeg "
                                      "can read"], done.stderr[-3000:]
    pictures = tmp_path / "pictures"
    for name, colour in (("red", (200, 30, 30)), ("blue", (30, 30, 200))):
        (pictures / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (48, 40), colour).save(pictures / name / f"{i + 1}.png")
    (pictures / "blue" / "0-bad.png").write_text("not a picture")
    done = run_here("train", "image", pictures, "--name", "p", "--epochs", "1", "--split", "tail", env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert our_lines(done.stderr) == [f"mmdream: error: {pictures / 'blue' / '0-bad.png'} is not a readable image "
                                      "(UnidentifiedImageError)"], done.stderr[-3000:]
    assert list(models.iterdir()) == []
