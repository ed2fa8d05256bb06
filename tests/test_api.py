"""The public API: a cheap import, the manual's examples run as written, and they give the CLI's files byte for
byte for the same settings and seed (on paths and on arrays)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT

from mmdream.cli import main


@pytest.mark.serial  # a time bound: alone on the host
def test_import_is_cheap_and_loads_no_tensorflow():
    code = "import sys, time; t = time.perf_counter(); import mmdream; print(time.perf_counter() - t, " \
           "'tensorflow' in sys.modules, 'keras' in sys.modules, mmdream.__version__)"
    seconds, tf, keras, version = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                 check=True).stdout.split()
    assert (tf, keras) == ("False", "False") and float(seconds) < 0.3 and version


def _readme_examples() -> list[str]:
    """The Python API guide's examples (docs/guide/python.md)."""
    return re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "guide" / "python.md").read_text(), re.S)


@pytest.fixture
def inputs(media, tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)
    sound = tmp_path / "trumpet.wav"  # a WAV, so the file and soundfile's samples are the same numbers
    from mmdream.media.audio_source import load_whole

    x, sr = load_whole(str(media / "audio" / "music" / "sorohanro_-_solo-trumpet-06.hq.ogg"), end=3.0)
    sf.write(sound, x, sr, subtype="FLOAT")
    return {"PHOTO": str(media / "images" / "chelsea.png"), "SOUND": str(sound),
            "FILM": str(media / "video" / "big_buck_bunny_0_30.webm"), "STYLE": str(media / "images" / "Starry_Night.jpeg")}


def test_readme_examples_run_and_match_the_cli_byte_for_byte(inputs, tmp_path):
    examples = _readme_examples()
    assert len(examples) == 3
    scope = dict(inputs)
    for code in examples:
        exec(compile(code, "python.md", "exec"), scope)  # noqa: S102 - the manual's own examples
    from PIL import Image

    photo_shape = np.asarray(Image.open(inputs["PHOTO"]).convert("RGB")).shape
    assert scope["dream"].objective_gain > 1.2 and scope["dream"].image.shape == photo_shape
    assert scope["small"].image.dtype == np.uint8 and scope["small"].output is None
    written = sf.read("dream.wav", dtype="float32")[0]  # the array returned is the sound written, sample for sample
    assert written.size == scope["sound"].audio.size > 0
    assert np.abs(written.reshape(scope["sound"].audio.shape) - scope["sound"].audio).max() <= 1.01 / 32768

    assert main(["image", inputs["PHOTO"], "-o", "cli.jpg", "--steps", "5", "--max-size", "256", "--seed", "1"]) == 0
    assert Path("cli.jpg").read_bytes() == Path("dream.jpg").read_bytes()
    # the array without an output is the dream the CLI writes as PNG, pixel for pixel
    assert main(["image", inputs["PHOTO"], "-o", "cli.png", "--steps", "5", "--max-size", "256", "--seed", "1"]) == 0
    assert np.array_equal(np.asarray(Image.open("cli.png")), scope["small"].image)
    assert main(["audio", inputs["SOUND"], "-o", "cli.wav", "--steps", "3"]) == 0
    assert Path("cli.wav").read_bytes() == Path("dream.wav").read_bytes()
    assert scope["film"].figures["frames"] == 12
    assert main(["video", inputs["FILM"], "-o", "cli.mp4", "--max-size", "96", "--end", "0.5", "--steps", "2"]) == 0
    assert Path("cli.mp4").read_bytes() == Path("dream.mp4").read_bytes()


def test_bad_values_name_the_option_in_api_words(inputs):
    import mmdream

    with pytest.raises(ValueError, match=r"^step_size must be above 0 and at most 1 \(got 5\)$"):
        mmdream.dream_image(inputs["PHOTO"], step_size=5)
    with pytest.raises(mmdream.UserError, match="need their rate"):
        mmdream.dream_audio(np.zeros(100, np.float32))
    with pytest.raises(mmdream.UserError, match="image array must be"):
        mmdream.dream_image(np.zeros((4, 4, 7), np.uint8))


def test_sound_and_film_notebook_runs_headless_and_shows_its_players(media, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    for key, value in {"MMDREAM_MEDIA": str(media), "MMDREAM_NOTEBOOK_SECONDS": "3",
                       "MMDREAM_NOTEBOOK_SIZE": "96"}.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(ROOT / "notebooks" / "sound_and_film.ipynb", as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = [o.get("data", {}) for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    html = " ".join(d.get("text/html", "") for d in shown)
    assert html.count("<audio") == 2 and "<video" in html  # the players, inline
    assert sum("image/png" in d for d in shown) == 1  # the before/after spectrograms
    figures = eval(nb.cells[-1].outputs[-1]["data"]["text/plain"])  # the notebook's last cell: a dict of floats
    assert figures["sound_gain"] > 1.2 and figures["true_peak_dbfs"] <= -1.0 + 0.05, figures
    assert figures["film_frames"] == 72 and figures["film_gain"] > 1.0, figures


def test_arrays_are_read_at_their_types_scale_or_refused_in_one_line(tmp_path):
    """Integer PCM samples are read at their full scale, as a WAV of them is (an int16 sound was taken as floats,
    thousands of times full scale, and dreamed to 0.02 of its objective); a 16-bit picture is the 8-bit one; an
    array whose scale cannot be known (other integers, a float picture in 0..255, nothing) is one line naming it."""
    import mmdream
    from mmdream.media.audio_source import load_whole, samples_from_array
    from mmdream.media.picture import picture_input

    rng = np.random.default_rng(0)
    pcm = (rng.standard_normal((16000, 2)) * 3000).astype(np.int16)
    sf.write(tmp_path / "pcm.wav", pcm, 16000, subtype="PCM_16")
    assert np.array_equal(samples_from_array(pcm), load_whole(str(tmp_path / "pcm.wav"))[0])
    for dtype, full in ((np.uint8, 128), (np.int8, 128), (np.int32, 2 ** 31)):
        ints = np.array([np.iinfo(dtype).min, np.iinfo(dtype).max], dtype)
        assert np.allclose(samples_from_array(ints)[:, 0], [-1, (full - 1) / full], atol=1e-6), dtype
    dreamed = mmdream.dream_audio(pcm, sr=16000, steps=2)
    assert dreamed.objective_gain > 1.05 and np.abs(dreamed.audio).max() < 1, dreamed.objective_gain
    eight = (rng.random((40, 60, 3)) * 255).astype(np.uint8)
    assert np.array_equal(picture_input(eight.astype(np.uint16) * 257, None).rgb, eight)
    assert np.array_equal(picture_input(eight / 255.0, None).rgb, eight)
    for bad, words in (((pcm.astype(np.int64), 16000), "not int64"), ((np.zeros((0, 2), np.float32), 16000), "empty")):
        with pytest.raises(mmdream.UserError, match=words):
            mmdream.dream_audio(bad[0], sr=bad[1])
    for bad, words in ((eight.astype(np.int64), r"uint8, uint16 or floats in \[0, 1\], not int64"),
                       (eight.astype(np.float32), r"in \[0, 1\], not 0 to 25\d \(divide by 255\)")):
        with pytest.raises(mmdream.UserError, match=words):
            mmdream.dream_image(bad)
