"""mmdream studio (`mmdream serve`): a real server in a subprocess, driven by gradio_client over HTTP and by
headless Chromium (Debian's `chromium`, which `.ci/run` installs) through Playwright."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmdream.media.ffmpeg import probe

pytestmark = pytest.mark.xdist_group("studio")  # one server for the module: its tests on one worker
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "studio"  # every tab's screenshot (ignored by git)
README_SHOT = SHOTS / "readme.png"  # the README's docs/studio.png is a copy, kept small
PHOTO = "images/chelsea.png"
SOUND = "audio/animals/dog.mp3"
CLIP = "video/cockatoo.mp4"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(*args: str) -> tuple[str, subprocess.Popen, str]:
    """`mmdream serve ARGS` on a free loopback port, up and answering; (its URL, the process, its first line)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mmdream", "serve", "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    first = proc.stdout.readline().strip()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            break
        time.sleep(0.25)
    assert proc.poll() is None, proc.stderr.read()[-2000:]
    return f"http://127.0.0.1:{port}/", proc, first


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory, media):
    """`mmdream serve` on a free loopback port with a shared folder that also holds what must never be served:
    dotfiles, a key, notes, a web page named as a picture, a link to a picture outside it."""
    shared = tmp_path_factory.mktemp("shared")
    shutil.copy(media / PHOTO, shared / "photo.png")
    (shared / ".env").write_text("SECRET=1\n")
    (shared / ".ssh").mkdir()
    (shared / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (shared / ".hidden.png").write_bytes((media / PHOTO).read_bytes())
    (shared / "notes.txt").write_text("private notes\n")
    (shared / "page.png").write_text("<html><script>alert(1)</script></html>")
    outside = tmp_path_factory.mktemp("outside") / "elsewhere.png"
    shutil.copy(media / PHOTO, outside)
    (shared / "link.png").symlink_to(outside)
    url, proc, first = _start_server("--share-folder", str(shared))
    assert first == f"mmdream studio: {url[:-1]} (this machine only; --host 0.0.0.0 shares it)"
    yield url, shared, proc
    _stop(proc)


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server[0], verbose=False)


def _image_args(photo, **kw) -> list:
    from gradio_client import handle_file

    o = {"net": "efficientnet_lite0", "layers": [], "by_depth": False, "depth": 0.5, "octaves": 3, "steps": 10,
         "strength": 1.0, "seed": 0, "target": None, "guide": None, "max_size": 256, **kw}
    return [handle_file(str(photo)) if photo is not None else None, *o.values()]


def _gain(summary: str) -> float:
    return float(re.search(r"\(\**([0-9.]+)×", summary).group(1))


def test_gradio_client_dreams_a_photo_at_its_size(client, media):
    path, summary = client.predict(*_image_args(media / PHOTO), api_name="/dream_image")
    assert Image.open(path).size == Image.open(media / PHOTO).size
    assert _gain(summary) > 1.5, summary


def test_studio_api_takes_a_photo_alone_and_dreams_with_the_clis_defaults(client, media, tmp_path):
    """Every input after the photo is optional in the studio's API, with the CLI's defaults (mmdream.options)."""
    from gradio_client import handle_file

    from mmdream.nets.registry import DEFAULT_NET
    from mmdream.options import BY_NAME, DREAM_DEFAULTS

    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    expected = {"/dream_image": {"net": DEFAULT_NET["image"], "octaves": DREAM_DEFAULTS["image"]["octaves"],
                                 "steps": DREAM_DEFAULTS["image"]["steps"], "seed": BY_NAME["seed"].default,
                                 "strength": BY_NAME["strength"].default, "target": None, "guide": None,
                                 "max_size": BY_NAME["max_size"].default_for("image")},
                "/dream_audio": {"net": DEFAULT_NET["audio"], "steps": DREAM_DEFAULTS["audio"]["steps"],
                                 "strength": BY_NAME["strength"].default, "target": None}}
    for name, defaults in expected.items():
        params = api[name]["parameters"]
        assert all(p["parameter_has_default"] for p in params[1:]), [p["parameter_name"] for p in params[1:]]
        got = {p["parameter_name"]: p["parameter_default"] for p in params if p["parameter_name"] in defaults}
        assert got == defaults, (name, got)
    small = tmp_path / "small.png"
    Image.open(media / PHOTO).convert("RGB").resize((192, 128)).save(small)
    path, summary = client.predict(photo=handle_file(str(small)), api_name="/dream_image")
    assert Image.open(path).size == (192, 128)
    assert _gain(summary) > 1.5, summary


def _bad_requests(tmp: Path, media: Path) -> list[tuple[str, list, str]]:
    """(api name, arguments, words the one-line error must hold): twenty-two wrong things a visitor can send."""
    from gradio_client import handle_file

    from tests.test_faults import _png_header

    (tmp / "notes.txt").write_text("not a picture")
    (tmp / "huge.png").write_bytes(_png_header(20000, 20000))
    (tmp / "empty.wav").write_bytes(b"")
    with wave.open(str(tmp / "silent0.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
    (tmp / "broken.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + os.urandom(2000))
    photo, sound = handle_file(str(media / PHOTO)), handle_file(str(media / SOUND))
    sound_args = ["MTT_vgg", [], False, 0.5, None, 5, 1.0, 1.0]
    film_args = ["efficientnet_lite0", "MTT_vgg", 160, 0, 1, None, False, 0.0, None, 2, "none"]
    return [
        ("/dream_image", _image_args(tmp / "notes.txt"), "notes.txt is not a readable image"),
        ("/dream_image", _image_args(tmp / "huge.png"), "above the 100 MP limit"),
        ("/dream_image", _image_args(None), "upload or pick a photo first"),
        ("/dream_image", _image_args(media / PHOTO, net="no_such_net"), "unknown net"),
        ("/dream_image", _image_args(media / PHOTO, target="no such class"), "has no class"),
        ("/dream_image", _image_args(media / SOUND), "dog.mp3"),
        ("/dream_audio", [sound, "MTT_vgg", ["no_layer"], False, 0.5, None, 5, 1.0, 1.0], "no_layer"),
        ("/dream_image", _image_args(media / PHOTO, layers=["no_layer"]), "no_layer"),
        ("/dream_image", _image_args(media / PHOTO, guide=handle_file(str(tmp / "notes.txt"))), "notes.txt"),
        ("/dream_video", [handle_file(str(media / CLIP)), None, "efficientnet_lite0", "MTT_vgg", 160, 100, 0, None,
                          False, 0.0, None, 2, "none"], "past the end"),
        ("/dream_audio", [handle_file(str(tmp / "empty.wav")), *sound_args], "empty.wav"),
        ("/dream_audio", [handle_file(str(tmp / "silent0.wav")), *sound_args], "silent0.wav"),
        ("/dream_audio", [handle_file(str(tmp / "notes.txt")), *sound_args], "notes.txt"),
        ("/dream_audio", [sound, "MTT_vgg", [], False, 0.5, "no such tag", 5, 1.0, 1.0], "no class"),
        ("/dream_audio", [None, *sound_args], "upload or record a sound first"),
        ("/dream_video", [handle_file(str(tmp / "broken.mp4")), None, *film_args], "broken.mp4"),
        ("/dream_video", [handle_file(str(media / "audio/music/sorohanro_-_solo-trumpet-06.hq.ogg")), None,
                          *film_args], "no video stream"),
        ("/dream_video", [None, "/etc/passwd", *film_args], "outside the shared folder"),
        ("/dream_video", [handle_file(str(media / "video/cockatoo_yuv420.mp4")), None, "efficientnet_lite0", "MTT_vgg",
                          160, 0, 1, None, False, 0.0, None, 2, "sound"], "needs a soundtrack"),
        ("/dream_video", [handle_file(str(media / CLIP)), None, "efficientnet_lite0", "MTT_vgg", 160, 0, 1,
                          "[[keyframe]]\ntime = 1\nsteps = -3", True, 0.0, None, 2, "none"], "schedule: steps"),
        ("/dream_video", [handle_file(str(media / CLIP)), None, *film_args, True], "renders on no cluster"),
        ("/style_image", [photo, None, "efficientnet_lite0", 10, 128], "give a content picture and a style picture"),
    ]


def test_bad_requests_each_get_one_line_and_the_server_still_dreams(server, client, media, tmp_path):
    from gradio_client.exceptions import AppError

    bad = _bad_requests(tmp_path, media)
    assert len(bad) == 22
    for api, args, words in bad:
        with pytest.raises(AppError) as caught:
            client.predict(*args, api_name=api)
        line = str(caught.value)
        assert line.startswith("mmdream: error: ") and "\n" not in line and words in line, (api, line)
        assert str(tmp_path) not in line and "/gradio/" not in line, line  # uploads named by their file name
    assert server[2].poll() is None
    path, summary = client.predict(*_image_args(media / PHOTO), api_name="/dream_image")
    assert Image.open(path).size == Image.open(media / PHOTO).size


def _film_args(media: Path, **kw) -> list:
    from gradio_client import handle_file

    o = {"server_path": None, "net": "efficientnet_lite0", "audio_net": "MTT_vgg", "max_size": 96, "start": 0,
         "end": 3, "schedule": None, "use_schedule": False, "react": 0.0, "style": None, "steps": 2, "follow": "none",
         "on_cluster": False, **kw}
    return [handle_file(str(media / CLIP)), *o.values()]


def test_cancel_stops_a_render_cleanly_and_the_same_render_resumes(server, client, media):
    # 8 steps a frame: the 38 frames after the cancel is sent take longer than its round trip (at 2 steps a frame
    # the film once finished first)
    job = client.submit(*_film_args(media, steps=8), api_name="/dream_video")
    deadline = time.monotonic() + 300

    def dreamed() -> int:  # frames the page says are done
        counts = [int(m[1]) for o in job.outputs() if (m := re.search(r"(\d+) / \S+ frames dreamed", o[0]))]
        return max(counts, default=0)

    while time.monotonic() < deadline and dreamed() < 22:  # past the first checkpoint (a second of film: 20)
        time.sleep(0.05)
    assert client.predict(api_name="/cancel_video") == "cancelling after the frame in hand…"
    status, sheet, film = job.result(timeout=300)
    done = int(re.fullmatch(r"cancelled after (\d+) frames; the work is kept: Render again resumes it", status)[1])
    assert 0 < done < 60 and film is None and Path(sheet).is_file()
    work = list(server[1].glob("dreams/*/.cockatoo-*-dream.mmdream-work"))
    assert len(work) == 1 and work[0].is_dir()  # the work folder stays, in the visitor's own folder
    status, _, film = client.predict(*_film_args(media, steps=8), api_name="/dream_video")  # uploaded again: resumes
    resumed = int(re.search(r"; (\d+) frames resumed from an earlier render", status)[1])
    assert 20 <= resumed <= done and status.startswith("60 frames at 20 fps (3.00 s)"), status
    assert abs(probe(film).duration - 3.0) < 0.1
    assert not work[0].exists()


def test_a_second_visitor_waits_in_line_and_sees_their_place(server, media):
    from gradio_client import Client
    from gradio_client.utils import Status

    first, second = Client(server[0], verbose=False), Client(server[0], verbose=False)
    render = first.submit(*_film_args(media, end=2, max_size=112), api_name="/dream_video")
    running = (Status.PROCESSING, Status.ITERATING, Status.PROGRESS)
    while render.status().code not in running and not render.done():
        time.sleep(0.05)
    picture = second.submit(*_image_args(media / PHOTO), api_name="/dream_image")
    places = set()
    while not render.done():
        if (st := picture.status()).code == Status.IN_QUEUE:
            places.add(st.rank)
        time.sleep(0.05)
    assert places == {0}, places  # it waited, first in line (Gradio counts places from 0), while the film ran
    render.result(timeout=300)
    path, _ = picture.result(timeout=300)
    assert Image.open(path).size == Image.open(media / PHOTO).size


def test_schedule_editor_checks_on_every_change(client):
    from mmdream.schedule import EXAMPLE

    assert client.predict(EXAMPLE.read_text(), api_name="/check_schedule") == \
        "✓ 3 keyframe(s) at 0 s, 1.5 s, 3 s"
    assert client.predict("[[keyframe]]\ntime = 2\n[[keyframe]]\ntime = 1\n", api_name="/check_schedule") == \
        "mmdream: error: schedule: keyframe times must increase (1 s comes after 2 s)"


# ---- the page in a browser -------------------------------------------------------------------------------------
def _chromium() -> str | None:
    return next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome"))
                 if p), None)


@pytest.fixture(scope="module")
def page(server):
    browser_path = _chromium()
    if browser_path is None:  # CI installs Debian's chromium first (.ci/run); a laptop may not have one
        pytest.skip("no Chromium installed (apt-get install chromium): the browser test needs one")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(240_000)
        tab.goto(server[0])
        tab.wait_for_selector("#dream-image")
        yield tab
        browser.close()


def _shot(tab, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{name}.png"))


def _wait_text(tab, selector: str, pattern: str, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = tab.locator(selector).inner_text()
        if re.search(pattern, text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"{selector} never showed {pattern!r}; it shows {text!r}")


def _open_tab(tab, name: str) -> None:
    tab.get_by_role("tab", name=name).click()


def test_browser_dreams_a_photo_beside_it_with_its_gain(page, media):
    _open_tab(page, "Picture")
    page.locator("#photo input[type=file]").set_input_files(str(media / PHOTO))
    page.click("#dream-image")
    summary = _wait_text(page, "#image-summary", r"×")
    src = page.locator("#image-dream img").get_attribute("src")
    size = page.evaluate("s => new Promise(r => { const i = new Image(); i.onload = () => r([i.naturalWidth, "
                         "i.naturalHeight]); i.src = s; })", src)
    assert tuple(size) == Image.open(media / PHOTO).size
    assert _gain(summary) >= 2.0, summary
    _shot(page, "picture")
    page.screenshot(path=str(README_SHOT), clip={"x": 0, "y": 0, "width": 1400, "height": 620})
    with Image.open(README_SHOT) as im:  # kept small for the repository
        im.convert("RGB").resize((700, 310), Image.LANCZOS).quantize(64).save(README_SHOT, optimize=True)


def test_browser_dreams_a_sound_with_spectrograms_and_loudness(page, media):
    _open_tab(page, "Sound")
    page.locator("#sound input[type=file]").set_input_files(str(media / SOUND))
    page.click("#dream-audio")
    summary = _wait_text(page, "#sound-summary", r"true peak")
    seconds = float(re.search(r"; ([0-9.]+) s at", summary).group(1))
    assert abs(seconds - probe(str(media / SOUND)).duration) < 0.05, summary
    assert _gain(summary) >= 2.0, summary
    assert re.search(r"loudness -?[0-9.]+ LUFS, true peak -?[0-9.]+ dBFS", summary)
    for side in ("before", "after"):
        assert page.locator(f"#spectrogram-{side} img").count() == 1
    _shot(page, "sound")


def test_browser_renders_a_film_with_moving_progress_and_a_player(page, media):
    _open_tab(page, "Film")
    page.locator("#clip input[type=file]").set_input_files(str(media / CLIP))
    page.locator("#film-size input[type=number]").fill("160")
    page.locator("#film-size input[type=number]").press("Enter")
    page.locator("#film-end input").fill("2")
    page.locator("#film-end input").press("Enter")
    page.evaluate("""() => { window.filmStatus = []; const el = document.querySelector('#film-status');
        new MutationObserver(() => window.filmStatus.push(el.innerText))
            .observe(el, {subtree: true, childList: true, characterData: true}); }""")
    page.click("#render")
    page.locator("#film-dream video").wait_for(timeout=300_000)
    texts = page.evaluate("() => window.filmStatus")
    seen = [int(m.group(1)) for t in texts if (m := re.search(r"(\d+) / 40 frames dreamed", t))]
    etas = {eta for t in texts for eta in re.findall(r"ETA (\d+:\d\d)", t)}
    assert len(set(seen)) >= 2 and seen == sorted(seen), f"the progress bar did not move forward: {seen}"
    assert etas, "no ETA was shown"
    summary = _wait_text(page, "#film-status", r"frames at")
    assert summary.startswith("40 frames at 20 fps (2.00 s)"), summary
    duration = page.evaluate("() => new Promise(r => { const v = document.querySelector('#film-dream video'); "
                             "if (v.readyState > 0) r(v.duration); else v.onloadedmetadata = () => r(v.duration); })")
    assert abs(duration - 2.0) < 0.1
    assert page.locator("#film-frames img").count() == 1
    _shot(page, "film")


def test_browser_shows_a_text_file_as_photo_as_one_line(page, tmp_path):
    """Text named as a photo reaches mmdream, which says what it is in the CLI's line; a .txt is already
    refused by the browser's file picker, in one line naming it."""
    _open_tab(page, "Picture")
    for name, line in (("notes.jpg", "mmdream: error: notes.jpg is not a readable image (UnidentifiedImageError)"),
                       ("notes.txt", "Invalid file type: notes.txt. Only image/* allowed.")):
        (tmp_path / name).write_text("not a picture")
        if page.locator("#photo button[aria-label='Remove Image']").count():
            page.locator("#photo button[aria-label='Remove Image']").click()
        page.locator("#photo input[type=file]").set_input_files(str(tmp_path / name))
        page.click("#dream-image")
        toast = page.locator(".toast-body", has_text=name)
        toast.wait_for()
        assert line in toast.inner_text().splitlines(), toast.inner_text()
        _shot(page, f"error-{name}")
        for close in page.locator(".toast-close").all():
            close.click()
    for name in ("Schedule", "Style"):
        _open_tab(page, name)
        _shot(page, name.lower())


def test_browser_schedule_editor_shows_the_parser_line_as_you_type(page):
    _open_tab(page, "Schedule")
    assert page.locator("#schedule-verdict").inner_text().strip() == "✓ 3 keyframe(s) at 0 s, 1.5 s, 3 s"
    editor = page.locator("#schedule .cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n[[keyframe]]\ntime = 2\n")
    _wait_text(page, "#schedule-verdict", "keyframe times must increase", timeout=30)
    assert page.locator("#schedule-verdict").inner_text().strip() == (
        "mmdream: error: schedule: keyframe times must increase (2 s comes after 3 s)")


def test_served_port_taken_is_one_line(server):
    port = server[0].rsplit(":", 1)[1].strip("/")
    p = subprocess.run([sys.executable, "-m", "mmdream", "serve", "--port", port], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2 and p.stderr.splitlines() == [
        f"mmdream: error: cannot listen on 127.0.0.1:{port} (Address already in use); choose another --port"]


def test_open_host_warns_in_one_line():
    from mmdream.studio.server import address_line, exposure_warning

    assert exposure_warning("127.0.0.1", None, None) is None
    assert exposure_warning("0.0.0.0", Path("/srv/media"), None) == (
        "mmdream: warning: --host 0.0.0.0 lets anyone who can reach this machine use the studio and its CPU; "
        "it reads and writes /srv/media")
    assert exposure_warning("0.0.0.0", None, [("ann", "pw")]) == (
        "mmdream: warning: --host 0.0.0.0 lets anyone with a login use the studio and its CPU")
    assert address_line("0.0.0.0", 7860) == "mmdream studio: http://127.0.0.1:7860 (listening on 0.0.0.0)"


def test_spectrogram_shows_where_the_energy_is(tmp_path):
    import soundfile as sf

    from mmdream.studio.views import spectrogram

    sr = 22050
    t = np.arange(sr) / sr
    sf.write(tmp_path / "low.wav", np.sin(2 * np.pi * 200 * t), sr)
    sf.write(tmp_path / "high.wav", np.sin(2 * np.pi * 6000 * t), sr)
    low, high = (spectrogram(str(tmp_path / f"{n}.wav")).astype(float).sum(axis=(1, 2)) for n in ("low", "high"))
    rows = np.arange(low.size)
    assert (rows * low).sum() / low.sum() > (rows * high).sum() / high.sum()  # low tones sit lower (larger rows)


def test_style_tab_styles_a_picture_and_a_sound(client, media):
    from gradio_client import handle_file

    path, summary = client.predict(handle_file(str(media / PHOTO)), handle_file(str(media / "images/Starry_Night.jpeg")),
                                   "efficientnet_lite0", 20, 128, api_name="/style_image")
    assert Image.open(path).size == Image.open(media / PHOTO).size  # styled at 128 px, written at its size
    assert float(re.search(r"\(([0-9.]+)× lower\)", summary)[1]) > 1.2, summary
    sound = media / "audio/music/sorohanro_-_solo-trumpet-06.hq.ogg"
    path, summary = client.predict(handle_file(str(media / SOUND)), handle_file(str(sound)), 20, 2,
                                   api_name="/style_audio")
    assert abs(probe(path).duration - 2.0) < 0.05
    assert float(re.search(r"\(([0-9.]+)× lower\)", summary)[1]) > 1.2, summary


def test_readme_studio_client_example_runs(server, media, capsys):
    text = (ROOT / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text[text.index("## Studio"):text.index("## Layout")], re.S)[0]
    code = code.replace("http://127.0.0.1:7860/", server[0]).replace('"photo.jpg"', repr(str(media / PHOTO)))
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own example
    assert Image.open(scope["dream"]).size == Image.open(media / PHOTO).size
    assert _gain(capsys.readouterr().out) > 1.2


@pytest.mark.parametrize(("args", "line"), [
    (["--port", "0"], "mmdream: error: --port must be at least 1 and at most 65535 (got 0)"),
    (["--share-folder", "/no/such/folder"], "mmdream: error: --share-folder /no/such/folder is not a folder"),
])
def test_serve_arguments_are_checked_before_anything_starts(args, line):
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "mmdream", "serve", *args], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stderr.splitlines() == [line]
    assert time.monotonic() - t0 < 10  # checked before Gradio or TensorFlow is imported


# ---- what a visitor must not be able to do -------------------------------------------------------------------
def _fetch(base: str, path: Path | str) -> tuple[int, dict, bytes]:
    """GET Gradio's file route for a server path: (status, headers, body)."""
    import httpx

    r = httpx.get(f"{base}gradio_api/file={path}", timeout=30)
    return r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content


def _upload(base: str, path: Path) -> str:
    """A file sent as the page sends one; the server path Gradio keeps it at."""
    import httpx

    with open(path, "rb") as f:
        r = httpx.post(f"{base}gradio_api/upload", files={"files": (path.name, f)}, timeout=60)
    r.raise_for_status()
    return r.json()[0]


def test_an_uploaded_web_page_is_never_served_as_one(server, client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    page = tmp_path / "evil.html"
    page.write_text("<html><script>alert(document.cookie)</script></html>")
    with pytest.raises(AppError) as caught:  # sent as a film clip: refused in one line
        client.predict(handle_file(str(page)), *_film_args_only(), api_name="/dream_video")
    assert "evil.html" in str(caught.value) and "\n" not in str(caught.value)
    assert not list(server[1].rglob("evil.html"))  # nothing of it lands in the served folder
    kept = _upload(server[0], page)
    status, headers, body = _fetch(server[0], kept)
    assert status == 404 and b"<script>" not in body, (status, headers)


def test_the_shared_folder_serves_its_media_only(server):
    base, shared, _ = server
    for name in (".env", ".ssh/id_rsa", ".hidden.png", "notes.txt", "page.png", "link.png", "../outside"):
        status, _, body = _fetch(base, shared / name)
        assert status in (403, 404) and b"SECRET" not in body and b"<script>" not in body, (name, status)
    status, headers, body = _fetch(base, shared / "photo.png")
    assert status == 200 and body == (shared / "photo.png").read_bytes()
    assert headers["content-type"] == "image/png" and headers["x-content-type-options"] == "nosniff"
    assert headers["content-disposition"].startswith("attachment")
    import httpx

    config = httpx.get(f"{base}config", timeout=30).text
    for hidden in (".env", "id_rsa", ".hidden.png", "notes.txt", "page.png", "link.png", str(shared)):
        assert hidden not in config, hidden  # the pickers list media by name, nothing else
    assert '"photo.png"' in config


def _film_args_only(**kw) -> list:
    o = {"server_path": None, "net": "efficientnet_lite0", "audio_net": "MTT_vgg", "max_size": 96, "start": 0,
         "end": 2, "schedule": None, "use_schedule": False, "react": 0.0, "style": None, "steps": 2, "follow": "none",
         "on_cluster": False, **kw}
    return list(o.values())


def _clip(media: Path, folder: Path, source: str, seek: float) -> Path:
    """A 1 s clip named video.mp4, as two visitors' different films may both be named."""
    from mmdream.media.ffmpeg import ffmpeg_exe

    folder.mkdir()
    out = folder / "video.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", str(seek), "-t", "1", "-i", str(media / "video" / source),
                    "-vf", "scale=160:-2", "-c:v", "libx264", "-c:a", "aac", str(out)], check=True)
    return out


def test_a_visitors_cancel_stops_only_their_own_film(server, media):
    from gradio_client import Client

    ann, bob = Client(server[0], verbose=False), Client(server[0], verbose=False)
    job = ann.submit(*_film_args(media, end=2), api_name="/dream_video")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not any("frames dreamed" in o[0] for o in job.outputs()):
        time.sleep(0.05)
    assert bob.predict(api_name="/cancel_video") == "no film of yours is rendering"
    status, _, film = job.result(timeout=300)
    assert status.startswith("40 frames at 20 fps (2.00 s)"), status
    assert abs(probe(film).duration - 2.0) < 0.1


def test_two_visitors_films_of_the_same_name_both_survive(server, media, tmp_path):
    from gradio_client import Client, handle_file

    from tests.test_cluster import _framemd5

    films = []
    for who, (source, seek) in zip(("ann", "bob"), (("cockatoo.mp4", 2), ("big_buck_bunny_0_30.webm", 2))):
        clip = _clip(media, tmp_path / who, source, seek)
        visitor = Client(server[0], verbose=False)
        _, _, film = visitor.predict(handle_file(str(clip)), *_film_args_only(end=1), api_name="/dream_video")
        films.append(film)
    _, _, again = visitor.predict(handle_file(str(clip)), *_film_args_only(end=1), api_name="/dream_video")
    saved = sorted(server[1].glob("dreams/*/video-*-dream*.mp4"))
    assert len(saved) >= 3 and len({p.name for p in saved}) == len(saved) and len({p.parent for p in saved}) >= 2
    ann_film, bob_film = (next(p for p in saved if Path(f).read_bytes() == p.read_bytes()) for f in films)
    assert ann_film != bob_film and _framemd5(ann_film, "v") != _framemd5(bob_film, "v")
    assert Path(again).read_bytes() == bob_film.read_bytes()  # rendered again: a new name, the first one kept
    assert sum(p.read_bytes() == bob_film.read_bytes() for p in saved) == 2


def test_an_upload_over_the_limit_is_refused_in_one_line(server):
    import http.client

    port = int(server[0].rsplit(":", 1)[1].strip("/"))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    boundary = "mmdreamboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()
    conn.putrequest("POST", "/gradio_api/upload")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(600_000_000))
    conn.endheaders()
    conn.send(head + bytes(1 << 20))  # the first MB of 600: the answer comes before the rest is sent
    reply = conn.getresponse()
    text = reply.read().decode()
    assert reply.status == 413 and text.splitlines() == ["mmdream: error: an upload may be at most 500 MB"]


def test_the_forty_first_waiting_dream_is_refused_and_cancel_still_answers(server, media):
    """Forty dreams wait behind a film; the forty-first is refused, a dream posted around the queue is refused,
    and the page's Cancel (outside the queue) still stops the film."""
    import httpx
    from gradio_client import Client

    config = httpx.get(f"{server[0]}config", timeout=30).json()
    fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "dream_image")
    ann = Client(server[0], verbose=False)
    film = ann.submit(*_film_args(media, end=10, max_size=160), api_name="/dream_video")
    while not any("frames dreamed" in o[0] for o in film.outputs()):
        time.sleep(0.05)
    picture = [None, *_image_args(None)[1:]]
    with httpx.Client(base_url=f"{server[0]}gradio_api/", timeout=30) as http:
        joins = [http.post("queue/join", json={"data": picture, "fn_index": fn_index, "session_hash": f"w{i}",
                                               "event_data": None, "trigger_id": None}) for i in range(41)]
        around = http.post("run/dream_image", json={"data": picture, "session_hash": "around"})
        cancel = http.post("run/cancel_video", json={"data": [], "session_hash": ann.session_hash})
    status, _, _ = film.result(timeout=300)
    assert all(r.status_code == 200 and "event_id" in r.json() for r in joins[:40]), [r.text for r in joins[:40]]
    assert joins[40].status_code == 503 and joins[40].json()["detail"].startswith("Queue is full. Max size is 40")
    assert around.status_code == 404, around.text
    assert cancel.json()["data"] == ["cancelling after the frame in hand…"] and status.startswith("cancelled after")


NUMBERS = {  # every number the page takes: endpoint: (its first input, [label, position among its inputs, ...])
    "/dream_image": ("photo", ["depth (0 shallow … 1 deep)", 4, "octaves", 5, "steps per octave", 6, "strength", 7,
                               "seed", 8, "max size (px)", 11]),
    "/dream_audio": ("sound", ["depth (0 shallow … 1 deep)", 4, "steps per octave", 6, "strength", 7,
                               "seconds to dream (0: all)", 8]),
    "/dream_video": ("clip", ["max size (px)", 4, "start (s)", 5, "end (s, 0: to the end)", 6, "react to the sound", 9,
                              "steps per octave (first frame)", 11]),
    "/style_image": ("photo", ["steps", 3, "max size (px)", 4]),
    "/style_audio": ("sound", ["steps", 2, "seconds (0: all)", 3]),
}


def _raw_call(base: str, api_name: str, data: list) -> str:
    """An endpoint called as any HTTP client can: JSON written by hand (NaN and Infinity as JavaScript writes
    them), joined to the queue, the answer read off its event stream; the error line, or "ok"."""
    import httpx

    config = httpx.get(f"{base}config", timeout=30).json()
    fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == api_name)
    session = f"raw{time.monotonic_ns()}"
    body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
                       "trigger_id": None}, allow_nan=True)
    with httpx.Client(base_url=f"{base}gradio_api/", timeout=120) as http:
        http.post("queue/join", content=body, headers={"content-type": "application/json"}).raise_for_status()
        with http.stream("GET", "queue/data", params={"session_hash": session}) as events:
            for line in events.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") == "process_completed":
                    return "ok" if message.get("success") else message["output"]["error"]
    raise AssertionError(f"{api_name} never completed")


def test_every_number_the_page_takes_is_checked_by_mmdream(server):
    """NaN, infinities and strings sent past the widgets as raw JSON: one line each, naming the input by its label
    on the page (checked before any file is read, so no file is sent)."""
    args = {"/dream_image": _image_args(None),
            "/dream_audio": [None, "MTT_vgg", [], True, 0.5, None, 5, 1.0, 1.0],
            "/dream_video": [None, *_film_args_only()],
            "/style_image": [None, None, "efficientnet_lite0", 10, 128],
            "/style_audio": [None, None, 10, 1.0]}
    checked = 0
    for api, (_, fields) in NUMBERS.items():
        for label, at in zip(fields[::2], fields[1::2]):
            for bad in (float("nan"), float("inf"), -float("inf"), "12"):
                sent = list(args[api])
                sent[at] = bad
                line = _raw_call(server[0], api.lstrip("/"), sent)
                assert line.startswith(f"mmdream: error: {label} must be") and "\n" not in line, (api, bad, line)
                checked += 1
    assert checked == 19 * 4


def test_layer_weights_and_schedules_that_cannot_be_dreamed_get_one_line(client, media):
    from gradio_client.exceptions import AppError

    for layers, words in ((["block2a:0"], "other than 0"), (["block2a:nan"], "other than 0")):
        with pytest.raises(AppError) as caught:
            client.predict(*_image_args(media / PHOTO, layers=layers), api_name="/dream_image")
        assert words in str(caught.value) and "step size" not in str(caught.value), str(caught.value)
    deep = "a = " + "[" * 100_000 + "]" * 100_000 + "\n"
    assert client.predict(deep, api_name="/check_schedule") == \
        "mmdream: error: schedule nests its arrays or tables too deeply to be a schedule"
    huge = "[[keyframe]]\ntime = 0\n" + "# padding\n" * 120_000
    assert client.predict(huge, api_name="/check_schedule").startswith("mmdream: error: schedule is 1,200,")
    with pytest.raises(AppError) as caught:
        client.predict(*_film_args(media, schedule=deep, use_schedule=True), api_name="/dream_video")
    assert str(caught.value) == "mmdream: error: schedule nests its arrays or tables too deeply to be a schedule"


def test_a_net_is_a_listed_name_never_a_server_path(client, media, tmp_path):
    from gradio_client.exceptions import AppError

    (tmp_path / "mine.keras").write_bytes(b"not a model")
    (tmp_path / "mine.json").write_text('{"kind": "image"}')
    lines = []
    for path in (tmp_path / "mine.keras", tmp_path / "absent.keras"):
        with pytest.raises(AppError) as caught:
            client.predict(*_image_args(media / PHOTO, net=str(path)), api_name="/dream_image")
        lines.append(str(caught.value).replace(str(path), "PATH"))
    assert lines[0] == lines[1] and lines[0].startswith("mmdream: error: unknown net"), lines


def test_a_studio_open_to_the_network_needs_a_login(tmp_path):
    from gradio_client import Client

    p = subprocess.run([sys.executable, "-m", "mmdream", "serve", "--host", "0.0.0.0", "--port", str(_free_port())],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stderr.splitlines() == [
        "mmdream: error: --host 0.0.0.0 opens the studio to the network: give --auth USER:PASSWORD (or a file of "
        "such lines) for a login, or --no-auth to open it without one"]
    logins = tmp_path / "logins"
    logins.write_text("# who may dream\nann:first secret\nbob:second\n")
    url, proc, _ = _start_server("--auth", str(logins))
    try:
        import httpx

        assert httpx.get(f"{url}config", timeout=30).status_code == 401
        assert httpx.post(f"{url}gradio_api/upload", files={"files": ("a.png", b"x")}, timeout=30).status_code == 401
        with pytest.raises(Exception, match="(?i)login|credentials|unauthorized|401"):
            Client(url, auth=("ann", "wrong"), verbose=False)
        assert Client(url, auth=("ann", "first secret"), verbose=False).predict(
            "[[keyframe]]\ntime = 0\n", api_name="/check_schedule") == "✓ 1 keyframe(s) at 0 s"
    finally:
        _stop(proc)


def _rss_mib(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in (proc, *proc.children(recursive=True))) / 2**20


KINDS = ["picture", "sound", "schedule", "picture", "cancel", "bad", "schedule", "sound", "bad", "cancel"]


def test_a_hundred_mixed_requests_from_four_visitors_leave_memory_steady(server, media, tmp_path):
    """Pictures of two sizes, sounds, schedules good and bad, bad requests and cancels, four visitors at once:
    the server's memory after all of them is within 1.2x of what it was after the first ten."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    photo = Image.open(media / PHOTO).convert("RGB")
    photos = []
    for i, size in enumerate((64, 96)):
        photos.append(tmp_path / f"p{i}.png")
        photo.resize((size, size * 3 // 4)).save(photos[-1])
    visitors = [Client(server[0], verbose=False) for _ in range(4)]

    def request(i: int) -> str:
        c, kind = visitors[i % 4], KINDS[i % 10]
        try:
            if kind == "picture":
                c.predict(*_image_args(photos[i % 2], octaves=1, steps=1, max_size=128), api_name="/dream_image")
            elif kind == "sound":
                c.predict(handle_file(str(media / SOUND)), "MTT_vgg", [], False, 0.5, None, 1, 1.0, 0.25,
                          api_name="/dream_audio")
            elif kind == "schedule":
                c.predict(f"[[keyframe]]\ntime = {i}\n" * (1 + i % 3), api_name="/check_schedule")
            elif kind == "cancel":
                c.predict(api_name="/cancel_video")
            else:
                c.predict(*_image_args(None), api_name="/dream_image")
            return "ok"
        except AppError as e:
            return str(e)

    first = [request(i) for i in range(10)]  # every kind of request, and the pictures' two sizes
    after_ten = _rss_mib(server[2].pid)
    with ThreadPoolExecutor(4) as pool:
        rest = list(pool.map(request, range(10, 100)))
    after = _rss_mib(server[2].pid)
    answers = first + rest
    assert len(answers) == 100 and all(a == "ok" or a == "mmdream: error: upload or pick a photo first"
                                       for a in answers), [a for a in answers if a != "ok"][:3]
    assert after <= 1.2 * after_ten, (after_ten, after)


def test_kept_clips_unused_for_a_day_are_pruned_and_the_same_upload_restores_one(tmp_path):
    """An uploaded clip is kept (a cancelled film resumes from it) for a day after its last use, not for the server's
    life: a studio open to many visitors does not fill its disk, and the same upload again is kept under the same
    name, so its render still resumes."""
    import hashlib

    from mmdream.studio.visitors import KEEP_CLIPS_S, Studio

    studio = Studio(tmp_path / "dreams", tmp_path / "private")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    clips = {}
    for name, size in (("a.mp4", 300_000), ("b.mp4", 200_000), ("c.mp4", 100_000)):
        (uploads / name).write_bytes(np.random.default_rng(size).bytes(size))
        clips[name] = uploads / name

    def age(path: str, seconds: float) -> None:
        then = time.time() - seconds
        os.utime(Path(path).parent, (then, then))

    def kept_bytes() -> int:
        return sum(f.stat().st_size for f in (studio.private / "clips").rglob("*") if f.is_file())

    a, a_digest = studio.kept(str(clips["a.mp4"]))
    b, _ = studio.kept(str(clips["b.mp4"]))
    age(a, KEEP_CLIPS_S + 60)
    age(b, 3600)
    c, _ = studio.kept(str(clips["c.mp4"]))
    assert not Path(a).exists() and Path(b).exists() and Path(c).exists()
    assert kept_bytes() == 300_000
    clips["a.mp4"].write_bytes(np.random.default_rng(300_000).bytes(300_000))  # Gradio's copy was pruned: sent again
    again, digest = studio.kept(str(clips["a.mp4"]))
    assert (again, digest) == (a, a_digest)
    assert hashlib.sha256(Path(again).read_bytes()).hexdigest() == a_digest
    age(again, KEEP_CLIPS_S + 60)  # the clip in hand is never pruned, and its use starts its day afresh
    assert studio.kept(str(clips["a.mp4"]))[0] == again and Path(again).exists()
    assert time.time() - Path(again).parent.stat().st_mtime < 60
    assert studio.prune_clips() == [] and kept_bytes() == 600_000
