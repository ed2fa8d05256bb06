"""Any image net: every keras.applications classifier (one net of each family built from stand-in weights under
Keras' real file names, tests/keras_cache.py), and a user's own Keras classifier with no model card."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run_here, run_mmdream, small_classifier
from PIL import Image

from mmdream.cli import main

# One net of each keras.applications family (the smallest), and the two families mmdream had before.
FAMILIES = ["resnet50", "resnet50_v2", "densenet121", "xception", "inception_resnet_v2", "mobilenet", "mobilenet_v2",
            "mobilenet_v3_small", "efficientnet_b0", "efficientnet_v2_b0", "convnext_tiny", "inception_v3", "vgg16"]
# keras.applications constructors that are not nets here, and why (the README says so too).
LEFT_OUT = {"NASNetMobile", "NASNetLarge"}  # their cells choose shape adjustments from static sizes: no any-size graph


def _lines(p: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in p.stderr.splitlines() if ln.strip()]


def test_every_keras_application_classifier_is_a_net(capsys):
    import keras

    from mmdream.nets.registry import specs

    constructors = {n for n in dir(keras.applications) if n[0].isupper()}
    registered = {s.keras_app.constructor for s in specs("image") if s.keras_app}
    assert registered == constructors - LEFT_OUT
    assert main(["models"]) == 0
    listed = [ln.split()[0] for ln in capsys.readouterr().out.splitlines() if "  image  " in ln]
    assert len(listed) >= 20 and len(listed) == len(specs("image"))


def test_pinned_hashes_and_addresses_are_the_ones_keras_applications_asks_for(monkeypatch):
    """Each constructor asked for its ImageNet weights: the file name, address and hash it gives Keras' downloader
    are the ones the net's record holds."""
    import keras
    import keras.src.utils.file_utils as file_utils
    from keras.src.backend.common import global_state

    from mmdream.nets.registry import specs

    asked = {}

    def record(fname, origin=None, **kw):
        asked[fname] = (origin, kw.get("file_hash"))
        raise RuntimeError("recorded")

    monkeypatch.setattr(file_utils, "get_file", record)
    apps = [s.keras_app for s in specs("image") if s.keras_app]
    # The weights are never read: a stateless scope leaves them uninitialised (VGG's first dense layer alone is 100M
    # numbers), and Keras' list of variables still to initialise is given back as it was.
    pending = global_state.get_global_attribute("uninitialized_variables", [], set_to_default=True)
    before = len(pending)
    try:
        for app in apps:
            with pytest.raises(RuntimeError, match="recorded"), keras.StatelessScope(initialize_variables=False):
                getattr(keras.applications, app.constructor)(include_top=True, weights="imagenet")
    finally:
        del pending[before:]
    assert asked == {app.weights_file: (app.url, app.file_hash) for app in apps}


def _depths(net, side: int = 96) -> list[int]:
    """Each dreamable layer's feature-map height at a `side` px picture."""
    import keras

    from mmdream.nets.graph import layer_output

    probe = keras.Model(net.model.input, [layer_output(net.model, n) for n in net.layers])
    return [int(o.shape[1]) for o in probe(np.zeros((1, side, side, 3), np.float32))]


def _both_logits(name: str, model, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """keras.applications' logits of a picture (0..255) and the any-size `model`'s. Where float32 rounding alone
    moves the reference's logits (a 1e-6 change of the input changes them by more than 1e-4 of their scale), both
    nets are built again and compared in float64 (its float32 logits layer kept): a random EfficientNet-B0 turns
    that change into 1.6 % of its logits, so its two graphs' rounding, which follows the host's instructions (AVX2
    or AVX-512), made 0.8 %; the other families move 1e-6 to 2e-5. Only there: ConvNeXt took 50 s in float64."""
    import keras

    from mmdream.nets import spec
    from mmdream.nets.keras_apps import build_app

    app = spec(name).keras_app
    preprocess = {"caffe": keras.applications.resnet.preprocess_input, "tf": lambda x: x / 127.5 - 1.0,
                  "torch": keras.applications.densenet.preprocess_input}.get(app.preprocess, lambda x: x)
    reference = getattr(keras.applications, app.constructor)(include_top=True, weights="imagenet",
                                                             classifier_activation=None)
    x = preprocess(rgb[None].copy())
    expected = np.asarray(reference(x))
    nudged = np.asarray(reference(x * np.float32(1 + 1e-6)))
    if np.abs(nudged - expected).max() <= 1e-4 * np.abs(expected).max():
        return expected, np.asarray(model(rgb[None] / 127.5 - 1.0))
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    try:
        model = build_app(spec(name), "imagenet")
        reference = getattr(keras.applications, app.constructor)(include_top=True, weights="imagenet",
                                                                 classifier_activation=None)
    finally:
        keras.config.set_dtype_policy(before)
    rgb = rgb.astype(np.float64)
    expected = np.asarray(reference(preprocess(rgb[None].copy())))
    assert expected.dtype == np.float64
    return expected, np.asarray(model(rgb[None] / 127.5 - 1.0))


@pytest.mark.parametrize("name", FAMILIES)
def test_each_family_builds_from_keras_cache_and_dreams(imagenet, media, tmp_path, monkeypatch, name):
    """The any-size net gives keras.applications' own logits (its ImageNet path, downloader pointed at the
    stand-in file), its layers run shallow to deep, and a 64 px picture and a 4-frame film dream with gain."""
    import keras.src.utils.file_utils as file_utils

    from mmdream.nets import load_net, spec

    app = spec(name).keras_app
    weights = imagenet.ensure(name).models / app.weights_file
    net = load_net(name, precision="fp32")

    monkeypatch.setattr(file_utils, "get_file", lambda *a, **k: str(weights))
    side = spec(name).input_side
    rgb = np.asarray(Image.open(media / "images" / "chelsea.png").convert("RGB").resize((side, side)), np.float32)
    expected, got = _both_logits(name, net.model, rgb)
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max() + 1e-30, name
    monkeypatch.undo()
    monkeypatch.setenv("KERAS_HOME", str(imagenet.home))
    monkeypatch.setattr(file_utils, "validate_file", lambda *a, **k: True)

    positions = {op.name: i for i, op in enumerate(net.model.operations)}
    order = [positions[n] for n in net.layers]
    assert len(net.layers) >= 5 and order == sorted(order), net.layers
    heights = _depths(net)
    assert all(a >= b for a, b in zip(heights, heights[1:])) and heights[-1] < heights[0], heights

    picture = tmp_path / "p.png"
    Image.open(media / "images" / "chelsea.png").convert("RGB").resize((64, 48)).save(picture)
    # a shallow layer: with random weights the deep ones of a 64 px picture are a few pixels of noise
    dream = ["--net", name, "--layers", "0.3", "--jitter", "4", "--octaves", "2", "--precision", "fp32"]
    photo = ["image", str(picture), "-o", str(tmp_path / "d.png"), *dream]
    film = ["video", str(media / "video" / "cockatoo.mp4"), "-o", str(tmp_path / "f.mp4"), *dream, "--max-size", "96",
            "--fps", "8", "--end", "0.5", "--no-audio"]
    # against the same command with 0 steps (what resizing and rounding alone do to the objective) and with 1:
    # the ascent climbs with its steps
    gains = {"picture": [_gain(photo, steps, tmp_path / "r.json") for steps in ("0", "1", "8")],
             "film": [_gain(film, steps, tmp_path / "r.json") for steps in ("0", "4")]}
    print(f"{name}: gains by steps {gains}")
    (none, one, eight), (still, dreamed) = gains["picture"], gains["film"]
    assert eight > max(none, one) and dreamed > still, gains


def _gain(argv: list[str], steps: str, report: Path) -> float:
    assert main([*argv, "--steps", steps, "--report", str(report)]) == 0
    figures = json.loads(report.read_text())
    if "frames" in figures:
        assert figures["frames"] == 4, figures
        return figures["objective_gain_mean"]
    return figures["objective_gain"]


def test_an_unpinned_weight_file_that_is_not_the_net_is_one_line(media, tmp_path, monkeypatch):
    """MobileNet's file has no hash to check: a truncated one is refused by the loader, in one line."""
    home = tmp_path / "keras"
    (home / "models").mkdir(parents=True)
    (home / "models" / "mobilenet_1_0_224_tf.h5").write_bytes(b"half a download" * 1000)
    p = run_mmdream("image", media / "images" / "chelsea.png", "-o", tmp_path / "o.png", "--net", "mobilenet",
                    env={**__import__("os").environ, "KERAS_HOME": str(home)})
    assert p.returncode == 2 and len(_lines(p)) == 1, p.stderr
    assert "is not mobilenet's ImageNet weight file" in p.stderr and "mmdream models install mobilenet" in p.stderr


# ---- a user's own classifier ---------------------------------------------------------------------------------
def test_a_users_own_classifier_dreams_in_image_and_film_without_a_card(media, tmp_path, capsys):
    model = small_classifier(tmp_path / "mine.keras")
    assert main(["models", str(model)]) == 0
    out = capsys.readouterr().out
    layers = out.split("layers: ")[1].splitlines()[0].split(", ")
    assert "4 classes, takes 0..255, made for 48 px" in out and len(layers) >= 3, out

    from mmdream.nets import load_net

    net = load_net(str(model))
    assert net.layers == layers and _depths(net)[0] > _depths(net)[-1]
    # the logits are the saved model's scores before its softmax, at the size it was made for
    import keras

    saved = keras.saving.load_model(model)
    rgb = np.random.default_rng(0).uniform(0, 255, (1, 48, 48, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(keras.ops.softmax(net.model(rgb / 127.5 - 1.0))), np.asarray(saved(rgb)),
                               rtol=1e-4, atol=1e-6)

    rep = tmp_path / "r.json"
    assert main(["image", str(media / "images" / "chelsea.png"), "-o", str(tmp_path / "d.png"), "--net", str(model),
                 "--max-size", "96", "--steps", "4", "--report", str(rep)]) == 0
    assert json.loads(rep.read_text())["objective_gain"] > 1.0
    assert main(["video", str(media / "video" / "cockatoo.mp4"), "-o", str(tmp_path / "f.mp4"), "--net",
                 str(model), "--max-size", "96", "--fps", "8", "--end", "0.5", "--steps", "3", "--no-audio",
                 "--report", str(rep)]) == 0
    r = json.loads(rep.read_text())
    assert r["frames"] == 4 and r["objective_gain_mean"] > 1.0, r
    # style transfer takes its content and style layers by depth
    assert main(["style", "image", str(media / "images" / "chelsea.png"), "--style",
                 str(media / "images" / "Starry_Night.jpeg"), "-o", str(tmp_path / "s.png"), "--net", str(model),
                 "--max-size", "64", "--style-steps", "10", "--report", str(rep)]) == 0
    assert json.loads(rep.read_text())["style_loss_drop"] > 1.5


def test_a_model_that_does_not_say_its_values_takes_value_range(media, tmp_path):
    model = small_classifier(tmp_path / "plain.h5", rescale=False)
    photo, out = media / "images" / "chelsea.png", tmp_path / "d.png"
    p = run_here("image", photo, "-o", out, "--net", model, "--max-size", "64", "--steps", "2")
    assert p.returncode == 2 and _lines(p) == [
        "mmdream: error: cannot tell the values plain.h5 takes (it does not rescale its input itself); give "
        "--value-range LO,HI: 0,1, -1,1 or 0,255"]
    p = run_here("image", photo, "-o", out, "--net", model, "--value-range", "0,1", "--max-size", "64",
                    "--steps", "2")
    assert p.returncode == 0 and out.exists(), p.stderr[-2000:]
    p = run_here("image", photo, "-o", out, "--net", "efficientnet_lite0", "--value-range", "0,1")
    assert p.returncode == 2 and "--value-range is for a model file" in _lines(p)[0]


def test_what_is_not_an_image_classifier_is_refused_in_one_line(media, tmp_path):
    import keras

    text_net = tmp_path / "words.keras"
    keras.Sequential([keras.Input((10,)), keras.layers.Dense(3)]).save(text_net)
    notes = tmp_path / "notes.keras"
    notes.write_text("not a model at all\n")
    photo = media / "images" / "chelsea.png"
    for model, says in [(text_net, "is not an image net: it takes (10,), where a picture is (height, width, 3)"),
                        (notes, "is not a Keras model file"), (tmp_path / "absent.keras", "no such model file")]:
        p = run_here("image", photo, "-o", tmp_path / "o.png", "--net", model)
        assert p.returncode == 2 and len(_lines(p)) == 1 and says in p.stderr, p.stderr
    assert not (tmp_path / "o.png").exists()


def test_gallery_sheets_every_net_here_with_its_name(media, tmp_path):
    """scripts/gallery.py on the offline net and a model of one's own: one captioned dream per net, side by side."""
    import sys

    model = small_classifier(tmp_path / "mine.keras")
    sheet = tmp_path / "gallery.png"
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "gallery.py"),
                        str(media / "images" / "chelsea.png"), "-o", str(sheet), "--size", "96", "--steps", "3",
                        "--extra", str(model)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    gains = {ln.split("] ")[1].split(":")[0]: float(ln.split("objective gain ")[1].split(",")[0])
             for ln in p.stdout.splitlines() if ln.startswith("[")}
    assert list(gains) == ["efficientnet_lite0", str(model)] and min(gains.values()) > 1.0, p.stdout
    picture = np.asarray(Image.open(sheet).convert("RGB"))
    width = Image.open(media / "images" / "chelsea.png").width  # a dream is written at the photo's size
    assert picture.shape[1] == 2 * width  # one column per net
    halves = picture[:, :width], picture[:, width:]
    assert all(h.std() > 20 for h in halves) and np.abs(halves[0].astype(int) - halves[1]).mean() > 10
