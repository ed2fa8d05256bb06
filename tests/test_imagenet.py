"""The keras.applications nets as a user with ImageNet weights in Keras' cache runs them: the weights here are the
random stand-ins of the `imagenet` fixture (tests/keras_cache.py), written under Keras' real file names, with only
Keras' md5 check patched. Nothing here skips: the model store is unreachable, the code paths are not."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run_mmdream
from PIL import Image

from mmdream.cli import main

APPS = {"inception_v3": ("InceptionV3", "inception_v3", 299), "vgg16": ("VGG16", "vgg16", 224),
        "vgg19": ("VGG19", "vgg19", 224)}


def _error_lines(p: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in p.stderr.splitlines() if ln.strip()]


@pytest.mark.parametrize("name", list(APPS))
def test_any_size_graph_gives_the_logits_of_keras_applications(imagenet, media, name):
    """Same weights file, same photo: mmdream's any-size net on [-1, 1] RGB and keras.applications on its own
    preprocess_input agree to 1e-5 (relative, fp32)."""
    import keras

    from mmdream.media.picture import read_image, resize, to_dream_space
    from mmdream.nets import load_net

    path = imagenet.ensure(name).models / f"{name}_weights_tf_dim_ordering_tf_kernels.h5"
    ctor, module, side = APPS[name]
    net = load_net(name, precision="fp32")
    reference = getattr(keras.applications, ctor)(include_top=True, weights=str(path), classifier_activation=None)
    rgb = resize(read_image(media / "images" / "chelsea.png").rgb, (side, side))
    preprocess = getattr(keras.applications, module).preprocess_input
    expected = np.asarray(reference(preprocess(rgb[None].astype(np.float32))))
    got = np.asarray(net.model(to_dream_space(rgb)[None]))
    assert expected.std() > 0  # weights that vary the logits: a mis-copied layer would show
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_inception_dreams_photos_films_and_tiny_inputs(imagenet, media, tmp_path):
    imagenet.ensure("inception_v3")
    rep = tmp_path / "r.json"
    gains = []
    for steps in ("1", "6"):  # six steps climb above one
        assert main(["image", str(media / "images" / "sky1024px.jpg"), "-o", str(tmp_path / "sky.jpg"), "--net",
                     "inception_v3", "--max-size", "192", "--steps", steps, "--report", str(rep)]) == 0
        gains.append(json.loads(rep.read_text())["objective_gain"])
    assert gains[1] > gains[0] > 1.0, gains
    # a 96x64 photo: every octave below InceptionV3's 75 px is dropped, or the photo is dreamed enlarged
    small = tmp_path / "small.png"
    Image.open(media / "images" / "chelsea.png").convert("RGB").resize((96, 64)).save(small)
    for extra in (["--target", "goldfish"], ["--layers", "mixed10"]):
        out = tmp_path / f"small_{extra[1]}.png"
        rises = []
        for steps in ("1", "4"):  # four steps climb above one
            assert main(["image", str(small), "-o", str(out), "--net", "inception_v3", "--steps", steps,
                         "--report", str(rep), *extra]) == 0
            r = json.loads(rep.read_text())
            rises.append(r["objective_after"] - r["objective_before"])
        assert Image.open(out).size == (96, 64)
        assert rises[1] > rises[0] > 0, (extra, rises)
    film, rep = tmp_path / "film.mp4", tmp_path / "film.json"
    assert main(["video", str(media / "video" / "big_buck_bunny_0_30.webm"), "-o", str(film), "--net",
                 "inception_v3", "--max-size", "160", "--end", "0.5", "--steps", "4", "--report", str(rep)]) == 0
    r = json.loads(rep.read_text())
    assert r["frames"] == 12 and r["objective_gain_mean"] > 1.0, r


def test_a_few_pixels_dream_with_every_net(imagenet, tmp_path):
    imagenet.ensure("inception_v3", "vgg16")
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (3, 5, 3), dtype=np.uint8)).save(tiny)
    for net, layers in [("inception_v3", "mixed10"), ("vgg16", "block5_pool"), ("efficientnet_lite0", "top")]:
        out = tmp_path / f"{net}.png"
        fp32 = ["--precision", "fp32"]  # auto's measurement of a net is tested on InceptionV3 and lite0
        assert main(["image", str(tiny), "-o", str(out), "--net", net, "--layers", layers, "--steps", "2", *fp32]) == 0
        assert main(["image", str(tiny), "-o", str(out), "--net", net, "--target", "goldfish", "--steps", "2",
                     *fp32]) == 0
        assert Image.open(out).size == (5, 3)


def test_style_image_with_its_default_vgg19(imagenet, media, tmp_path):
    imagenet.ensure("vgg19")
    out, rep = tmp_path / "styled.png", tmp_path / "r.json"
    assert main(["style", "image", str(media / "images" / "chelsea.png"), "--style",
                 str(media / "images" / "Starry_Night.jpeg"), "-o", str(out), "--max-size", "96",
                 "--style-steps", "30", "--precision", "fp32", "--report", str(rep)]) == 0
    r = json.loads(rep.read_text())
    assert r["net"] == "vgg19" and r["style_loss_drop"] > 1.5, r
    assert Image.open(out).size == Image.open(media / "images" / "chelsea.png").size


def _photo_classes(media: Path, root: Path) -> Path:
    """Two classes of crops from two real photos (a cat, a cup of coffee)."""
    rng = np.random.default_rng(0)
    for label, photo in (("cat", "chelsea.png"), ("coffee", "coffee.png")):
        rgb = np.asarray(Image.open(media / "images" / photo).convert("RGB"))
        (root / label).mkdir(parents=True)
        for i in range(6):
            y, x = rng.integers(0, rgb.shape[0] // 3), rng.integers(0, rgb.shape[1] // 3)
            Image.fromarray(rgb[y:y + 2 * rgb.shape[0] // 3, x:x + 2 * rgb.shape[1] // 3]).save(root / label / f"{i}.png")
    return root


def test_train_on_inception_then_target_it_in_a_new_process(imagenet, media, tmp_path, monkeypatch):
    imagenet.ensure("inception_v3")
    models = tmp_path / "models"
    monkeypatch.setenv("MMDREAM_MODELS", str(models))
    data = _photo_classes(media, tmp_path / "data")
    assert main(["train", "image", str(data), "--base", "inception_v3", "--name", "cups", "--size", "96",
                 "--epochs", "2", "--batch-size", "4"]) == 0
    card = json.loads((models / "cups.json").read_text())
    assert card["base"] == "inception_v3" and card["classes"] == ["cat", "coffee"]
    rep = tmp_path / "t.json"
    # Twenty steps (the default): on a random-weight base six moved the class's log-probability by -0.7 to +10,
    # twenty by +3 to +17 (three heads, six seeds each).
    p = run_mmdream("image", media / "images" / "chelsea.png", "-o", tmp_path / "cup.png", "--net", "cups", "--target",
             "coffee", "--max-size", "128", "--steps", "20", "--precision", "fp32", "--report", rep,
             env={**imagenet.env(), "MMDREAM_MODELS": str(models)})
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(rep.read_text())
    assert r["objective_change"] > 1.0, r

    # a trained model runs at the precision asked for, not the float32 it was saved with
    from mmdream.nets.trained import load_trained

    net = load_trained(models / "cups.keras", precision="bf16")
    assert net.model.get_layer("mixed3").compute_dtype == "bfloat16"
    assert net.model.output.dtype == "float32" and net.min_size == 75


def test_train_size_below_the_base_minimum_is_one_line(tmp_path):
    # a process of its own: in this one, whatever the libraries print on first loading would be caught with it
    p = run_mmdream("train", "image", tmp_path, "--base", "inception_v3", "--size", "64")
    assert p.returncode == 2 and _error_lines(p) == [
        "mmdream: error: --size 64 is below the 75 px inception_v3 takes; use --size 75 or more"]


# The notebook's cells are the same API calls for every net: `make test` runs it on lite0's real weights (the higher
# bar), `make test-slow` on the InceptionV3 stand-in too.
@pytest.mark.parametrize("net", ["efficientnet_lite0", pytest.param("inception_v3", marks=pytest.mark.slow)])
def test_layer_explorer_notebook_runs_headless(imagenet, media, tmp_path, monkeypatch, net):
    import nbformat
    from nbclient import NotebookClient

    imagenet.ensure("inception_v3")
    nb = nbformat.read(ROOT / "notebooks" / "layer_explorer.ipynb", as_version=4)
    env = {"MMDREAM_NOTEBOOK_SIZE": "128", "MMDREAM_NOTEBOOK_STEPS": "8", "MMDREAM_MEDIA": str(media),
           "MMDREAM_NOTEBOOK_OUT": str(tmp_path / "grid.png"), "MMDREAM_NOTEBOOK_NET": net}
    for key, value in {**imagenet.env(), **env}.items():  # the kernel sees the stand-in cache, md5 patched
        monkeypatch.setenv(key, value)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert (tmp_path / "grid.png").stat().st_size > 10_000
    gains = eval(nb.cells[-1].outputs[-1]["data"]["text/plain"])  # the notebook's last cell: a dict of floats
    assert len(gains) == 6
    assert min(gains.values()) > (1.2 if net == "efficientnet_lite0" else 1.0), gains


def test_a_weights_file_that_fails_its_md5_is_reported_and_never_deleted(media, tmp_path, monkeypatch, capsys):
    home = tmp_path / "keras"
    (home / "models").mkdir(parents=True)
    bad = home / "models" / "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
    bad.write_bytes(b"half a download" * 1000)
    digest = hashlib.sha256(bad.read_bytes()).hexdigest()
    monkeypatch.setenv("KERAS_HOME", str(home))
    p = run_mmdream("image", media / "images" / "chelsea.png", "-o", tmp_path / "o.png", "--net", "inception_v3",
                    env={**__import__("os").environ})  # a fresh process: Keras reads its home on first use
    assert p.returncode == 2 and len(_error_lines(p)) == 1, p.stderr
    assert "fails the md5" in p.stderr and "mmdream models install inception_v3" in p.stderr
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == digest
    capsys.readouterr()
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    status = {ln.split()[0]: ln.split("weights: ")[1] for ln in out.splitlines() if "weights: " in ln}
    assert status["inception_v3"] == "present but fails its md5 check"
    assert status["vgg16"] == "absent" and status["efficientnet_lite0"].startswith("offline")
    # `models install` refuses a file whose md5 is not the pinned one, and touches nothing
    assert main(["models", "install", "inception_v3", str(bad)]) == 2
    assert "md5 differs" in capsys.readouterr().err and bad.exists()


def test_models_install_copies_a_verified_file_where_keras_looks(imagenet, tmp_path, monkeypatch, capsys):
    src = imagenet.ensure("vgg16").models / "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
    home = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(home))
    assert main(["models", "install", "vgg16", str(src)]) == 0
    installed = home / "models" / src.name
    assert installed.stat().st_size == src.stat().st_size and src.exists()
    capsys.readouterr()
    assert main(["models", "vgg16"]) == 0
    assert "weights: cached and verified" in capsys.readouterr().out
