"""The manual (docs/, mkdocs.yml) and the README: built strictly, every page there, the API reference and the list
of errors the code's own, every Python example run and every command shown one the command line takes, and no
broken link or picture in Chromium."""

from __future__ import annotations

import inspect
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, chromium_path

pytestmark = pytest.mark.xdist_group("docs")  # one build of the manual for the module
PAGES = ["index", "guide/picture", "guide/sound", "guide/film", "guide/schedule", "guide/cross-modal",
         "guide/cluster", "guide/zoom", "guide/live", "guide/style", "guide/training", "guide/nets", "guide/explain", "guide/studio",
         "guide/python", "api", "performance", "troubleshooting", "gallery", "layout"]
RUN_ELSEWHERE = re.compile(r"<!-- run by (tests/\w+\.py)")


@pytest.fixture(scope="module")
def site(media, tmp_path_factory) -> Path:
    """`mkdocs build --strict`, as `make docs` runs it: a warning (a broken link, a page left out of the
    navigation, a docstring it cannot read) fails it."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "MMDREAM_MEDIA": str(media)}
    done = subprocess.run([str(Path(sys.executable).with_name("mkdocs")), "build", "--strict", "-d", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not [ln for ln in done.stderr.splitlines() if re.match(r"(WARNING|ERROR)\s+-", ln)], done.stderr[-3000:]
    return out


def _text(html: str) -> str:
    import html as entities

    return re.sub(r"\s+", " ", entities.unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_manual_has_every_page_and_the_readme_is_a_front_page(site):
    for page in PAGES:
        assert (site / page / "index.html" if page != "index" else site / "index.html").is_file(), page
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
    for name in ("film-sheet.png", "picture.png", "goldfish.png", "sound.png"):  # dreamed by the build
        assert (site / "gallery" / name).stat().st_size > 10_000, name


def test_the_api_reference_lists_every_public_function_with_its_parameters(site):
    import mmdream

    page = (site / "api" / "index.html").read_text()
    functions = [n for n in mmdream.__all__ if inspect.isfunction(getattr(mmdream, n))]
    assert {"dream_image", "dream_video", "zoom", "live", "train_audio", "make_spec"} <= set(functions)
    for name in functions:
        fn = getattr(mmdream, name)
        at = page.find(f'id="{fn.__module__}.{name}"')
        assert at >= 0, name
        section = _text(page[at:page.find('class="doc doc-heading"', at + 40)])
        missing = [p for p in inspect.signature(fn).parameters if p not in section]
        assert not missing, (name, missing)


def test_troubleshooting_lists_every_one_line_error_the_code_raises(site):
    """Read from the code again here, by a pattern rather than the build's parser: the literal start of every raised
    error's message is on the page."""
    text = _text((site / "troubleshooting" / "index.html").read_text())
    raised = re.compile(r"""raise (?:UserError|OptionError|PageError)\(\s*f?("|')(.+?)(?<!\\)\1""", re.S)
    chunks = set()
    for path in (ROOT / "mmdream").rglob("*.py"):
        for m in raised.finditer(path.read_text()):  # each message's longest stretch of its own words
            words = [" ".join(c.split()) for c in re.split(r"\{[^}]*\}", m.group(2).removeprefix("mmdream: error: "))]
            chunks.add(max(words, key=len))
    chunks = {c for c in chunks if len(c) >= 8}
    assert len(chunks) > 100
    missing = sorted(c for c in chunks if c not in text)
    assert not missing, missing[:10]


SHELL = "sh|bash|shell|console"  # every spelling of a shell block a page may use


def _blocks(language: str) -> list[tuple[Path, str, str]]:
    """(page, code, what precedes it) of every fenced block of `language` (a regular expression: SHELL for every
    shell block) in the README and the manual."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text()
        for m in re.finditer(rf"```(?:{language})\n(.*?)```", text, re.S):
            found.append((path, m.group(1), text[max(0, m.start() - 200):m.start()]))
    return found


def test_every_python_example_runs(media, tmp_path, monkeypatch):
    """Each runs here as shown, on real media named as the page names them; one the page says another test runs
    (the studio's client needs a studio) is run there: that test reads the page."""
    monkeypatch.chdir(tmp_path)
    inputs = {"PHOTO": str(media / "images" / "chelsea.png"), "FILM": str(media / "video" / "big_buck_bunny_0_30.webm"),
              "SOUND": str(tmp_path / "sound.wav"), "STYLE": str(media / "images" / "Starry_Night.jpeg")}
    import soundfile as sf

    from mmdream.media.audio_source import load_whole

    x, sr = load_whole(str(media / "audio" / "music" / "sorohanro_-_solo-trumpet-06.hq.ogg"), end=3.0)
    sf.write(inputs["SOUND"], x, sr)
    ran = 0
    for path, code, before in _blocks("python"):
        if (elsewhere := RUN_ELSEWHERE.search(before)) is not None:
            assert path.relative_to(ROOT).as_posix().split("/")[-1] in (ROOT / elsewhere[1]).read_text(), path
            continue
        exec(compile(code, str(path), "exec"), dict(inputs))  # noqa: S102 - the manual's own examples
        ran += 1
    assert ran >= 1


def _commands() -> list[tuple[Path, list[str]]]:
    """Every `mmdream ...` line of the README's and the manual's shell blocks, as argv (comments and the venv's
    path left out; a synopsis with [optional] parts is not a command)."""
    found = []
    for path, code, _ in _blocks(SHELL):
        for line in code.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0].endswith("mmdream") and not any(w.startswith("[") or w == "|" for w in words):
                found.append((path, words[1:]))
    return found


def test_every_command_shown_is_one_the_command_line_takes():
    """Parsed by the command line and made into its spec, as a run would be before it reads a file: every flag
    exists and every value is in range."""
    from mmdream.cli import build_parser, given
    from mmdream.options import COMMANDS
    from mmdream.specs import make_spec

    commands = _commands()
    assert len(commands) >= 40, len(commands)
    parser = build_parser()
    for path, argv in commands:
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{path.name}: `mmdream {' '.join(argv)}` is refused by the command line")
        command = f"{argv[0]} {args.kind}" if argv[0] == "style" else argv[0]
        if command in COMMANDS and command not in ("datasets", "models", "serve"):
            make_spec(command, given(args))


def _broken(tab, base: Path) -> list[str]:
    """The pictures of the open page that did not load, and its links to files that are not there."""
    images = tab.eval_on_selector_all("img", "els => els.map(e => [e.currentSrc || e.src, e.naturalWidth])")
    links = tab.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    bad = [src for src, width in images if not width]
    for href in links:
        if href.startswith("file://"):
            target = Path(href[7:].split("#")[0].split("?")[0])
            if not (target.exists() or (target / "index.html").exists()):
                bad.append(href)
    return bad


def test_the_manual_and_the_readme_open_in_chromium_without_a_broken_picture_or_link(site, tmp_path):
    import markdown
    from playwright.sync_api import sync_playwright

    readme = tmp_path / "README.html"  # rendered as a code host would, its links relative to the project
    readme.write_text(f'<base href="{ROOT.as_uri()}/">' + markdown.markdown((ROOT / "README.md").read_text(),
                                                                             extensions=["tables", "fenced_code"]))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        for page in PAGES:
            tab.goto((site / page / "index.html" if page != "index" else site / "index.html").as_uri())
            assert _broken(tab, site) == [], page
        for name, url in (("front", (site / "index.html").as_uri()), ("guide", (site / "guide" / "film" /
                                                                                 "index.html").as_uri())):
            tab.goto(url)
            tab.screenshot(path=str(tmp_path / f"{name}.png"))
            print(f"{name} page: {tab.viewport_size['width']}x{tab.viewport_size['height']} px")
        tab.goto(readme.as_uri())
        assert _broken(tab, ROOT) == [], "README.md"
        assert tab.eval_on_selector_all("img", "els => els.length") >= 1
        browser.close()
