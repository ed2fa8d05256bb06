"""Cross-modal dreams (issue 30): the shared label space, what the nets perceive, and the picture and the sound
each dreamed toward what the other holds, measured with the nets themselves on the written files."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, decoded_frames, run_mmdream

from mmdream.cli import main
from mmdream.nets.classes import FSDKAGGLE2018_LABELS, SOUND_VOCABULARIES, imagenet_classes
from mmdream.senses.links import TABLE, aliases, link_matrix, read_links
from mmdream.senses.perceive import Track
from mmdream.senses.steer import Steer

ANIMALS = ["cat", "cow", "dog", "duck", "frog", "horse", "owl", "pig", "rooster", "sheep"]
DOGS = slice(151, 269)  # ImageNet's dog breeds, Chihuahua .. Mexican hairless


# ---- the shared label space (no net) -------------------------------------------------------------------------
def test_every_link_names_a_class_of_its_vocabulary_and_of_imagenet():
    import tomllib

    table = tomllib.loads(TABLE.read_text())
    images = aliases(imagenet_classes())
    assert set(table) <= set(SOUND_VOCABULARIES) and len(table) == len(SOUND_VOCABULARIES)
    for section, rows in table.items():
        sounds = {s.lower().replace("_", " ") for s in SOUND_VOCABULARIES[section]}
        for sound, items in rows.items():
            assert sound.lower().replace("_", " ") in sounds, (section, sound)
            for item in items:
                assert all(end.lower() in images for end in item.split("..")), (section, sound, item)
    links = read_links()
    assert len(links["dog"]) == 118 and links["bark"] == links["dog"]  # the breeds, by ESC-50's and FSD's names
    recipe = tomllib.loads((ROOT / "datasets" / "fsdkaggle2018.toml").read_text())
    assert set(recipe["sort"]["classes"]) <= set(FSDKAGGLE2018_LABELS)


def test_link_matrix_joins_table_rows_and_same_named_classes():
    m = link_matrix(read_links(), ANIMALS, imagenet_classes())
    assert m.shape == (10, 1000)
    assert m[ANIMALS.index("dog"), DOGS].sum() == 118 and m[ANIMALS.index("dog")].sum() == 118
    assert m[ANIMALS.index("rooster"), 7] == 1  # ESC-50's rooster, AudioSet's "Chicken, rooster" aside
    assert m[ANIMALS.index("duck")].sum() == 2  # AudioSet's Duck (ESC-50 has none): the drake and the merganser
    pair = link_matrix(read_links(), ["beagle", "pug", "Rain"], ["pug", "beagle", "tabby"])  # retrained pairs
    assert pair.tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 0]]


@pytest.mark.parametrize(("row", "named"), [('dog = ["beagle", "flying saucer"]', "no image class 'flying saucer'"),
                                             ('dgo = ["beagle"]', "[ESC-50] has no sound class 'dgo'"),
                                             ('dog = ["pug..Chihuahua"]', "runs backwards")])
def test_a_bad_row_in_a_users_table_is_one_line_before_any_net(row, named, tmp_path, capsys):
    table = tmp_path / "links.toml"
    table.write_text(f"[ESC-50]\n{row}\n")
    photo = tmp_path / "p.png"
    import cv2

    cv2.imwrite(str(photo), np.zeros((32, 32, 3), np.uint8))
    sound = tmp_path / "s.wav"
    sf.write(sound, np.zeros(8000, np.float32), 8000)
    assert main(["image", str(photo), "-o", str(tmp_path / "o.png"), "--sound", str(sound),
                 "--links", str(table)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and named in err and err.startswith("mmdream: error:"), err
    assert not (tmp_path / "o.png").exists()


def test_a_users_table_may_name_its_own_sound_net(tmp_path):
    table = tmp_path / "mine.toml"
    table.write_text('[animals]\nhorse = ["sorrel", "oxcart"]\n')
    links = read_links(str(table), {"animals": ANIMALS})
    assert links["horse"] == ["sorrel", "horse cart", "oxcart"]  # AudioSet's Horse (mmdream's table), then the user's
    m = link_matrix(links, ANIMALS, imagenet_classes())
    assert m[ANIMALS.index("horse"), [339, 603, 690]].tolist() == [1, 1, 1]  # sorrel, horse cart, oxcart


def test_steer_weights_the_linked_classes_by_confidence_and_lets_go_in_silence():
    track = Track("animals", ANIMALS, [0.0, 1.0, 2.0],
                  [[0.0] * 10, [0.8 if a == "dog" else 0.0 for a in ANIMALS], [0.0] * 10])
    steer = Steer(track, link_matrix(read_links(), ANIMALS, imagenet_classes()), imagenet_classes())
    assert steer.at(0.0) == (None, 0.0) and steer.at(2.0) == (None, 0.0)
    w, strength = steer.at(1.0)
    assert strength == pytest.approx(0.8) and w.sum() == pytest.approx(1.0)
    assert w[DOGS].sum() == pytest.approx(1.0) and w[DOGS].min() == pytest.approx(1 / 118)
    assert steer.at(0.5)[1] == pytest.approx(0.4)  # linear between windows


def test_a_schedules_follow_weight_scales_the_target_over_time(lite0, tmp_path):
    from mmdream.pipelines.film import FILM_DEFAULTS
    from mmdream.plan import build_plan

    schedule = tmp_path / "s.toml"
    schedule.write_text("[[keyframe]]\ntime = 0\nfollow_weight = 0\n[[keyframe]]\ntime = 2\nfollow_weight = 6\n")
    track = Track("animals", ANIMALS, [0.0], [[0.5 if a == "dog" else 0.0 for a in ANIMALS]])
    _, plan = build_plan("image", lite0, FILM_DEFAULTS, {"schedule": str(schedule)})
    plan.follow(Steer(track, link_matrix(read_links(), ANIMALS, lite0.classes), lite0.classes))
    assert [plan.at(t).follow for t in (0.0, 1.0, 2.0)] == pytest.approx([0.0, 1.5, 3.0])
    assert plan.at(1.0).target[DOGS].sum() == pytest.approx(1.0)


def test_a_dreamer_that_stops_following_dreams_exactly_as_one_that_never_followed(lite0):
    from mmdream.core.engine import Dreamer, DreamSettings, Objective

    x = np.random.default_rng(0).uniform(-1, 1, (48, 64, 3)).astype(np.float32)
    settings = DreamSettings(octaves=1, steps=2)
    never = Dreamer(lite0, Objective(dict(lite0.default_layers))).dream(x, settings)
    dreamer = Dreamer(lite0, Objective(dict(lite0.default_layers)))
    w = np.zeros(1000)
    w[DOGS] = 1
    dreamer.set_class_target(w, 4.0)
    followed = dreamer.dream(x, settings)
    dreamer.set_class_target(None)
    assert np.array_equal(dreamer.dream(x, settings), never)
    assert not np.allclose(followed, never)


# ---- arguments alone ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "named"), [([], "needs a soundtrack"),
                                             (["--follow", "picture"], "needs a soundtrack")])
def test_follow_on_a_silent_film_is_one_line(args, named, media, tmp_path, capsys):
    silent = media / "video" / "cockatoo_yuv420.mp4"  # no audio stream at all
    argv = ["video", str(silent), "-o", str(tmp_path / "o.mp4"), *(args or ["--follow", "sound"])]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and named in err, err


def test_follow_picture_with_the_soundtrack_kept_is_one_line(media, tmp_path, capsys):
    argv = ["video", str(media / "video" / "big_buck_bunny_0_30.webm"), "-o", str(tmp_path / "o.mp4"),
            "--follow", "both", "--keep-audio"]
    assert main(argv) == 2
    assert "drop --keep-audio" in capsys.readouterr().err


# ---- acceptance: a sound net that hears dogs, trained here (conftest's animals_net) ----------------------------
def _bark_film(media: Path, dst: Path) -> Path:
    """A held-still photo for 6 s over 2 s of silence, 2 s of the dog recording, 2 s of silence."""
    from mmdream.media.audio_source import open_source
    from mmdream.media.ffmpeg import ffmpeg_exe

    info, blocks = open_source(str(media / "audio" / "animals" / "dog.mp3"), 2.0, 2.5)
    dog = np.concatenate(list(blocks(1 << 16)))[: 2 * info.audio_rate]
    silence = np.zeros((2 * info.audio_rate, dog.shape[1]), np.float32)
    sound = dst.with_suffix(".wav")
    sf.write(sound, np.concatenate([silence, dog, silence]), info.audio_rate)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-loop", "1", "-i", str(media / "images" / "flower.jpg"),
                    "-i", str(sound), "-t", "6", "-r", "6", "-vf", "scale=320:-2", "-pix_fmt", "yuv420p",
                    "-c:v", "libx264", "-c:a", "aac", "-shortest", str(dst)], check=True)
    return dst


def test_a_film_that_follows_takes_its_thread_count(media, tmp_path):
    """Hearing is TensorFlow's work too: it comes after the render's threads are set (their first op), in a fresh
    process as a user runs it."""
    film = _bark_film(media, tmp_path / "bark.mp4")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_NUM_")}  # TensorFlow's own default: all cores
    done = run_mmdream("video", str(film), "-o", str(tmp_path / "o.mp4"), "--follow", "sound", "--threads", "1",
                       "--max-size", "64", "--end", "1", "--steps", "1", "--report", str(tmp_path / "o.json"), env=env)
    assert done.returncode == 0, done.stderr[-1000:]
    report = json.loads((tmp_path / "o.json").read_text())
    assert report["threads"] == 1  # the render's, measured after it ran: hearing did not take TensorFlow first
    assert report["follow"]["picture_follows_sound"][0]["weight"] == 0


def _strings(media: Path, dst: Path, start: float) -> Path:
    """4 s of the string orchestra from `start`, as a WAV: music with no animal in it."""
    from mmdream.media.audio_source import open_source

    info, blocks = open_source(str(media / "audio" / "music" / "Hungarian_Dance_number_5_string_orchestra.hq.ogg"),
                               4.0, start)
    sf.write(dst, np.concatenate(list(blocks(1 << 16))), info.audio_rate)
    return dst


def _dog_heard(net: Path, path: Path) -> float:
    """The animal net's mean "dog" over a sound (or a film's soundtrack)."""
    from mmdream.pipelines.audio.hearing import hear

    track = hear(str(path), str(net))
    return float(np.mean(np.asarray(track.values)[:, track.classes.index("dog")]))


def _dog_mass(net, rgb: np.ndarray) -> float:
    from mmdream.core.engine import probabilities
    from mmdream.media.picture import to_dream_space

    return float(probabilities(net, to_dream_space(rgb))[0][DOGS].sum())


@pytest.mark.xdist_group("animals")
def test_a_bark_grows_dogs_in_the_frames_while_it_lasts(animals_net, media, lite0, tmp_path):
    film = _bark_film(media, tmp_path / "bark.mp4")
    # Only the frames are measured: each film keeps the recording's soundtrack rather than dreaming it.
    common = ["--audio-net", str(animals_net), "--max-size", "224", "--keep-audio"]
    assert main(["video", str(film), "-o", str(tmp_path / "follow.mp4"), "--follow", "sound", *common,
                 "--report", str(tmp_path / "follow.json"), "--preview", str(tmp_path / "sheet.png")]) == 0
    assert main(["video", str(film), "-o", str(tmp_path / "plain.mp4"), *common]) == 0
    # The frames the report says followed the bark, and those before and after it (the bark is 2-4 s; hearing's
    # one-second windows carry it on a little): the dog classes' mass in each stretch, in both films.
    followed = [r["follow"] > 0 for r in json.loads((tmp_path / "follow.json").read_text())["per_frame"]]
    first, end = followed.index(True), len(followed) - followed[::-1].index(True)
    assert len(followed) == 36 and all(followed[first:end]) and first >= 6 and end <= 30, followed
    windows = {}
    for name in ("follow", "plain"):
        mass = np.array([_dog_mass(lite0, f) for f in decoded_frames(tmp_path / f"{name}.mp4")])
        assert len(mass) == 36
        windows[name] = [float(mass[a:b].mean()) for a, b in ((0, first), (first, end), (end, 36))]
    before, bark, after = windows["follow"]
    assert bark >= 2 * before and bark >= 2 * after, windows  # measured 0.22-0.27 against 0.04 and 0.02-0.03
    assert bark >= 2 * windows["plain"][1], windows  # measured 0.22-0.27 against 0.05-0.06
    rows = json.loads((tmp_path / "follow.json").read_text())["follow"]["picture_follows_sound"]
    assert [r["time"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert rows[0]["weight"] == rows[1]["weight"] == rows[5]["weight"] == 0  # silence: the plain dream
    assert all(r["weight"] > 0 and r["perceived"] and r["target"] for r in rows[2:4]), rows  # the bark's seconds
    assert "dog" in [name for name, _ in rows[3]["perceived"]], rows[3]
    import cv2

    sheet = cv2.imread(str(tmp_path / "sheet.png"))  # six frames, at 0, 1.2, 2.3, 3.5, 4.7 and 5.8 s
    captions = sheet[-22:].reshape(22, 6, -1, 3).max(axis=(0, 2, 3))  # the brightest caption pixel per frame
    assert captions.tolist() == [0, 0, 255, 255, 0, 0], captions  # captioned where the bark was followed


@pytest.mark.xdist_group("animals")
def test_the_spaniels_make_a_neutral_sound_more_dog(animals_net, media, tmp_path):
    neutral = _strings(media, tmp_path / "neutral.wav", start=10.0)
    spaniels = media / "images" / "friends_by_Aitzol_Berasategi.jpg"
    common = ["--net", str(animals_net)]
    assert main(["audio", str(neutral), "-o", str(tmp_path / "pic.wav"), "--picture", str(spaniels), *common,
                 "--report", str(tmp_path / "pic.json")]) == 0
    assert main(["audio", str(neutral), "-o", str(tmp_path / "plain.wav"), *common]) == 0

    start = _dog_heard(animals_net, neutral)
    rise_with, rise_without = _dog_heard(animals_net, tmp_path / "pic.wav") - start, _dog_heard(animals_net, tmp_path / "plain.wav") - start
    assert rise_with > 0.1 and rise_with >= 1.5 * rise_without, (start, rise_with, rise_without)  # +0.39, -0.02
    follow = json.loads((tmp_path / "pic.json").read_text())["follow"]
    assert follow["target"][0][0] == "dog" and "spaniel" in follow["perceived"][0][0], follow


@pytest.mark.xdist_group("animals")
def test_a_photo_dreamed_toward_a_bark(animals_net, media, lite0, tmp_path):
    from mmdream.media.picture import read_image

    film = _bark_film(media, tmp_path / "bark.mp4")
    photo = media / "images" / "flower.jpg"
    common = ["--max-size", "224"]
    assert main(["image", str(photo), "-o", str(tmp_path / "dog.png"), "--sound", str(film.with_suffix(".wav")),
                 "--audio-net", str(animals_net), *common, "--report", str(tmp_path / "dog.json")]) == 0
    assert main(["image", str(photo), "-o", str(tmp_path / "plain.png"), *common]) == 0
    followed, plain = (_dog_mass(lite0, read_image(tmp_path / n).rgb) for n in ("dog.png", "plain.png"))
    assert followed >= 2 * plain, (followed, plain)  # measured 0.77 against 0.05
    follow = json.loads((tmp_path / "dog.json").read_text())["follow"]
    assert follow["weight"] > 0 and follow["perceived"][0][0] == "dog", follow
    assert {"from": "dog", "classes": 118} in [{k: g[k] for k in ("from", "classes")}
                                               for g in follow["target_by_perceived"]], follow


@pytest.mark.xdist_group("animals")
def test_a_films_sound_follows_its_picture_with_follow_both(animals_net, media, tmp_path):
    """`video --follow both` on a still of the spaniels over strings: the soundtrack dreams toward what the picture
    shows (the animal net hears more dog in it than in the plain film's), and the report has both directions."""
    from mmdream.media.ffmpeg import ffmpeg_exe

    neutral, film = _strings(media, tmp_path / "neutral.wav", start=8.0), tmp_path / "spaniels.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-loop", "1", "-i",
                    str(media / "images" / "friends_by_Aitzol_Berasategi.jpg"), "-i", str(neutral), "-t", "4", "-r", "4",
                    "-vf", "scale=224:-2", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-c:a", "aac", "-shortest",
                    str(film)], check=True)
    common = ["--audio-net", str(animals_net), "--max-size", "96"]
    assert main(["video", str(film), "-o", str(tmp_path / "both.mp4"), "--follow", "both", "--ear", str(animals_net),
                 *common, "--report", str(tmp_path / "both.json")]) == 0
    assert main(["video", str(film), "-o", str(tmp_path / "plain.mp4"), *common]) == 0

    start = _dog_heard(animals_net, neutral)
    rise_with, rise_without = _dog_heard(animals_net, tmp_path / "both.mp4") - start, _dog_heard(animals_net, tmp_path / "plain.mp4") - start
    assert rise_with > 0.1 and rise_with >= 1.5 * rise_without, (start, rise_with, rise_without)
    follow = json.loads((tmp_path / "both.json").read_text())["follow"]
    heard = follow["sound_follows_picture"]
    assert follow["follow"] == "both" and "picture_follows_sound" in follow and len(heard) == 4, follow
    assert all(r["weight"] > 0 and "dog" in [name for name, _ in r["target"]] for r in heard), heard
