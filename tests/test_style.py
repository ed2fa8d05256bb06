"""Style transfer: image (Gatys), audio (Ulyanov & Lebedev) and video (Ruder et al.), measured on real media."""

from __future__ import annotations

import json

import numpy as np

from mmdream.cli import main


def _report(path) -> dict:
    return json.loads(path.read_text())


def test_image_style_loss_falls_5x_with_content_bounded(media, tmp_path):
    out, rep = tmp_path / "cat.png", tmp_path / "r.json"
    assert main(["style", "image", str(media / "images" / "chelsea.png"), "--style",
                 str(media / "images" / "Starry_Night.jpeg"), "-o", str(out), "--net", "efficientnet_lite0",
                 "--max-size", "256", "--report", str(rep)]) == 0
    r = _report(rep)
    assert r["style_loss_drop"] >= 5.0, r
    # bounded: the result stays far closer to the content than the style image itself is
    assert r["content_loss_end"] <= 0.5 * r["content_loss_of_style_image"], r
    from mmdream.media.picture import read_image

    assert read_image(out).rgb.shape == read_image(media / "images" / "chelsea.png").rgb.shape


def test_a_style_loss_that_rises_is_said_to_rise(media, tmp_path, capsys):
    """A picture styled by itself: its style loss starts near nothing and the passes raise it; the printed line
    says how many times higher (it said "0.0x lower")."""
    photo, out, rep = media / "images" / "chelsea.png", tmp_path / "self.png", tmp_path / "r.json"
    assert main(["style", "image", str(photo), "--style", str(photo), "-o", str(out), "--net", "efficientnet_lite0",
                 "--max-size", "64", "--style-steps", "8", "--report", str(rep)]) == 0
    r = _report(rep)
    assert r["style_loss_end"] > 2 * r["style_loss_start"], r
    said = capsys.readouterr().out
    rise = r["style_loss_end"] / r["style_loss_start"]
    assert f"({rise:.3g}x higher)" in said and "lower" not in said, said


def test_audio_style_loss_falls_5x_and_output_is_ear_safe(media, tmp_path):
    from mmdream.media.audio_source import load_whole
    from mmdream.media.loudness import LoudnessMeter, true_peak_db

    src = media / "audio" / "music" / "Hungarian_Dance_number_5_string_orchestra.hq.ogg"
    out, rep = tmp_path / "styled.wav", tmp_path / "r.json"
    assert main(["style", "audio", str(src), "--style", str(media / "audio" / "animals" / "dog.mp3"), "-o",
                 str(out), "--duration", "3", "--filters", "1024", "--audio-style-steps", "60",
                 "--report", str(rep)]) == 0
    r = _report(rep)
    assert r["style_loss_drop"] >= 5.0 and r["content_loss_end"] < 1.0, r
    x, sr = load_whole(str(src), end=3)
    y, sr_out = load_whole(str(out))
    assert sr_out == sr and y.shape[1] == x.shape[1] and abs(len(y) - len(x)) <= sr // 1000
    m_in, m_out = LoudnessMeter(sr, x.shape[1]), LoudnessMeter(sr, y.shape[1])
    m_in.add(x)
    m_out.add(y)
    assert np.isfinite(y).all() and true_peak_db(y) <= -0.95
    assert abs(m_out.integrated() - m_in.integrated()) <= 1.0


def test_audio_style_of_a_sound_longer_than_a_chunk_and_of_a_style_too_short(media, tmp_path, capsys):
    """12 s: two chunks of different lengths, so the compiled step meets a second length (TensorFlow then traces the
    time axis as unknown); the styled sound is as long as the input and finite. A style sound shorter than the
    conv's width is one line and exit status 2, with nothing written."""
    import soundfile as sf

    from mmdream.media.audio_source import load_whole

    rate = 8000
    t = np.arange(12 * rate) / rate
    src, short = tmp_path / "long.wav", tmp_path / "short.wav"
    sf.write(src, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate)
    sf.write(short, np.zeros(rate // 20, np.float32), rate)  # 0.05 s: 1 STFT frame
    out, rep = tmp_path / "styled.wav", tmp_path / "r.json"
    assert main(["style", "audio", str(src), "--style", str(media / "audio" / "animals" / "dog.mp3"), "-o", str(out),
                 "--filters", "256", "--audio-style-steps", "2", "--report", str(rep)]) == 0
    y, sr = load_whole(str(out))
    assert sr == rate and abs(len(y) - len(t)) <= rate // 1000 and np.isfinite(y).all(), (sr, len(y))
    capsys.readouterr()
    assert main(["style", "audio", str(src), "--style", str(short), "-o", str(tmp_path / "no.wav"),
                 "--filters", "256", "--audio-style-steps", "2"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "mmdream: error: the style sound is too short for audio style transfer (< 11 STFT frames)")
    assert not (tmp_path / "no.wav").exists()


def test_video_style_halves_flicker_of_per_frame_stylisation(media, tmp_path):
    src = media / "video" / "big_buck_bunny_0_30.webm"
    common = ["--style", str(media / "images" / "Starry_Night.jpeg"), "--net", "efficientnet_lite0",
              "--max-size", "128", "--end", "1", "--style-steps", "40", "--no-audio"]
    reports = {}
    for name, extra in (("flow", []), ("per_frame", ["--no-flow"])):
        rep = tmp_path / f"{name}.json"
        assert main(["style", "video", str(src), "-o", str(tmp_path / f"{name}.mp4"), *common, *extra,
                     "--report", str(rep)]) == 0
        reports[name] = _report(rep)
    flow, per_frame = reports["flow"]["flicker_mean"], reports["per_frame"]["flicker_mean"]
    assert flow <= 0.5 * per_frame, (flow, per_frame)
    assert reports["flow"]["style_loss_mean"] <= 2.0 * reports["per_frame"]["style_loss_mean"]


def test_dream_film_with_a_style_pass_from_the_schedule(media, tmp_path):
    """The schedule's `style` key switches the pass on at 0.25 s: the film's frames, as dreamed (before the
    encoder, whose look-ahead spreads a change backwards), are the unstyled film's until then, and differ after."""
    import mmdream

    films = {}
    for name, keys in (("switched", 'style = "none"\n\n[[keyframe]]\ntime = 0.25\nstyle = "after"\n'),
                       ("unstyled", 'style = "none"\n'), ("before", None)):
        frames: list[np.ndarray] = []
        given = {"style_when": "before"} if keys is None else {"schedule": tmp_path / f"{name}.toml"}
        if keys is not None:
            given["schedule"].write_text(f"[[keyframe]]\ntime = 0\n{keys}")
        film = mmdream.dream_video(media / "video" / "cockatoo_yuv420.mp4", tmp_path / f"{name}.mp4", max_size=96,
                                   end=0.5, steps=3, style_steps=10, style=media / "images" / "Starry_Night.jpeg",
                                   on_frame=lambda i, frame, kept=frames: kept.append(frame.astype(np.float32)),
                                   **given)
        films[name] = (np.stack(frames), film.per_frame)
    before, before_rows = films["before"]  # --style-when before: every frame styled, then dreamed
    assert {r["style"] for r in before_rows} == {"before"}
    assert np.abs(before - films["unstyled"][0]).mean(axis=(1, 2, 3)).min() > 1.0
    (switched, rows), (unstyled, _) = films["switched"], films["unstyled"]
    assert [r["style"] for r in rows[:5]] == ["none"] * 5 and rows[-1]["style"] == "after"
    styled = np.array([r["style"] == "after" for r in rows])
    change = np.abs(switched - unstyled).mean(axis=(1, 2, 3))
    assert np.all(change[~styled] == 0) and np.all(change[styled] > 1.0), change


def test_the_random_convs_product_has_the_plain_products_value_and_input_gradient():
    """backend.times_fixed (audio style's random conv, its input gradient taken in another order on TensorFlow):
    the value of x @ kernel and its gradient with respect to x, compiled for a time axis of any length, within
    float round-off of the plain product's."""
    from keras import ops

    from mmdream.core import backend

    rng = np.random.default_rng(3)
    kernel = backend.tensor(rng.standard_normal((50, 30)).astype(np.float32))
    weights = backend.tensor(rng.standard_normal((1, 1, 30)).astype(np.float32))

    def both(product):
        def loss(x):
            return ops.sum(ops.square(ops.relu(product(x, kernel))) * weights)

        return backend.compiled(lambda x: backend.value_and_grad(loss, x), [backend.spec([1, None, 50])])

    ours, plain = both(backend.times_fixed), both(ops.matmul)
    for frames in (7, 12):
        x = backend.tensor(rng.standard_normal((1, frames, 50)).astype(np.float32))
        (v1, g1), (v2, g2) = ours(x), plain(x)
        g1, g2 = backend.array(g1), backend.array(g2)
        assert g1.shape == (1, frames, 50) and np.abs(g2).max() > 0
        assert abs(float(v1) - float(v2)) <= 1e-5 * abs(float(v2))
        assert np.abs(g1 - g2).max() <= 1e-5 * np.abs(g2).max(), np.abs(g1 - g2).max()


def test_the_gram_distance_is_the_distance_of_the_gram_matrices_with_its_gradient():
    """style.gram_distance, which never forms the features' Gram matrix: its value and gradient are those of the
    Gram matrices' mean squared difference over the style's mean square, for fewer positions than filters (a
    chunk's) and more."""
    from keras import ops

    from mmdream.core import backend
    from mmdream.pipelines.style import gram, gram_distance

    def direct(f, style_g):
        return ops.mean(ops.square(gram(f) - style_g)) / (ops.mean(ops.square(style_g)) + 1e-9)

    rng = np.random.default_rng(5)
    for positions, filters in ((9, 40), (60, 24)):
        style_g = gram(backend.tensor(np.abs(rng.standard_normal((1, 30, filters))).astype(np.float32)))
        f = backend.tensor(np.abs(rng.standard_normal((1, positions, filters))).astype(np.float32))
        (v1, g1), (v2, g2) = (backend.value_and_grad(lambda x, fn=fn, s=style_g: fn(x, s), f)
                              for fn in (gram_distance, direct))
        g1, g2 = backend.array(g1), backend.array(g2)
        assert float(v2) > 0.01 and abs(float(v1) - float(v2)) <= 1e-4 * float(v2), (float(v1), float(v2))
        assert np.abs(g1 - g2).max() <= 1e-4 * np.abs(g2).max(), np.abs(g1 - g2).max()
