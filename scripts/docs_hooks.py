"""MkDocs hooks of the manual (mkdocs.yml): the troubleshooting page's list of one-line errors, read from the code
where they are raised, and the gallery's pictures, dreamed from the shared media by the build (never committed)."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "docs" / "gallery"
ERRORS = ("UserError", "OptionError", "PageError")
ERRORS_MARK, GALLERY_MARK = "<!-- errors -->", "<!-- gallery -->"
# The manual's sections of the list, by where in the package an error is raised (the first that matches).
TOPICS = (("mmdream/cli", "Command line"), ("mmdream/studio", "Studio"), ("mmdream/media", "Input and output files"),
          ("mmdream/nets", "Nets and their weights"), ("mmdream/train", "Training and data sets"),
          ("mmdream/senses", "Cross-modal (--follow, --sound, --picture)"),
          ("mmdream/pipelines/film", "Films, clusters"), ("mmdream/pipelines/live", "Live"),
          ("mmdream/pipelines/zoom", "The endless zoom"), ("mmdream/schedule", "Schedules"),
          ("mmdream/pipelines", "Pictures, sounds, style"), ("mmdream", "Options and everything else"))


@dataclass(frozen=True)
class Declared:
    """One error the code raises: its message with the values it names as {placeholders}, and where."""

    message: str
    path: str
    line: int

    @property
    def topic(self) -> str:
        return next(title for prefix, title in TOPICS if self.path.startswith(prefix))


def _message(node: ast.expr) -> str | None:
    """The text of a message argument: a string, or an f-string with each value shown as {its expression}."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{" + _named(v.value) + "}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # "..." + f"..."
        left, right = _message(node.left), _message(node.right)
        return left + right if left is not None and right is not None else None
    return None


def _named(value: ast.expr) -> str:
    """A value in a message as the reader meets it: its name where it has one (`path`, `info.fps`), else `…`."""
    return ast.unparse(value) if isinstance(value, ast.Name | ast.Attribute) else "…"


def declared_errors(package: Path = ROOT / "mmdream") -> list[Declared]:
    """Every `raise UserError(...)` (and OptionError, PageError) whose message is written where it is raised."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
                continue
            name = node.exc.func.id if isinstance(node.exc.func, ast.Name) else getattr(node.exc.func, "attr", "")
            if name in ERRORS and (text := _message(node.exc.args[0])) is not None:
                text = text.removeprefix("mmdream: error: ")
                found.append(Declared(" ".join(text.split()), str(path.relative_to(ROOT)), node.lineno))
    return found


def errors_markdown(errors: list[Declared]) -> str:
    """The list, one section per topic: each message as the command prints it after `mmdream: error: `."""
    out = []
    for _, title in TOPICS:
        rows = [e for e in errors if e.topic == title]
        if rows:
            out.append(f"\n## {title}\n")
            out += [f"- `` {e.message} `` <small>({e.path}:{e.line})</small>" for e in rows]
    return "\n".join(out) + "\n"


# ---- the gallery -----------------------------------------------------------------------------------------------
def media_root() -> Path:
    return Path(os.environ.get("MMDREAM_MEDIA", ROOT.parent / "shared" / "media"))


GALLERY_FILES = {
    "film-sheet.png": "A dream film beside its input: 2 s of *Big Buck Bunny* (© Blender Foundation, CC BY 3.0), "
                      "EfficientNet-Lite0 and MTT_vgg at 320 px: input frames above, their dreams below "
                      "(`mmdream video --preview`).",
    "picture.png": "A photo and its dream (the cat *Chelsea*, scikit-image's test picture; EfficientNet-Lite0, "
                   "block4c and block5c, 20 steps at 4 octaves): `mmdream image`.",
    "goldfish.png": "The same photo dreamed toward a class: `mmdream image --target goldfish --steps 30`.",
    "sound.png": "A sound before (above) and after its dream: a solo trumpet, MTT_vgg's default layers "
                 "(`mmdream audio --plot`).",
}


def make_gallery(folder: Path = GALLERY) -> None:
    """Dream the gallery's pictures from the shared media (small sizes; kept until the inputs' folder changes or
    they are removed)."""
    media = media_root()
    if all((folder / name).exists() for name in GALLERY_FILES):
        return
    if not media.is_dir():
        raise RuntimeError(f"the gallery is dreamed from the shared media: {media} is absent (set MMDREAM_MEDIA)")
    import numpy as np
    from PIL import Image

    import mmdream

    folder.mkdir(parents=True, exist_ok=True)
    photo = media / "images" / "chelsea.png"
    for name, extra in (("picture.png", {}), ("goldfish.png", {"target": "goldfish", "steps": 30})):
        dream = mmdream.dream_image(photo, max_size=320, seed=0, **extra).image
        side = np.asarray(Image.open(photo).convert("RGB").resize(dream.shape[1::-1]))
        Image.fromarray(np.hstack([side, dream])).save(folder / name)
    mmdream.dream_video(media / "video" / "big_buck_bunny_0_30.webm", folder / "film.mp4", max_size=320, start=2,
                        end=4, preview=folder / "film-sheet.png")
    (folder / "film.mp4").unlink()
    mmdream.dream_audio(media / "audio" / "music" / "sorohanro_-_solo-trumpet-06.hq.ogg", folder / "sound.wav",
                        duration=4, plot=folder / "sound.png")
    (folder / "sound.wav").unlink()


def gallery_markdown() -> str:
    return "\n".join(f"![{caption}](gallery/{name})\n\n{caption}\n" for name, caption in GALLERY_FILES.items())


# ---- MkDocs' hooks ---------------------------------------------------------------------------------------------
def on_pre_build(config) -> None:
    make_gallery()


def on_page_markdown(markdown: str, page, config, files) -> str:
    if ERRORS_MARK in markdown:
        markdown = markdown.replace(ERRORS_MARK, errors_markdown(declared_errors()))
    if GALLERY_MARK in markdown:
        markdown = markdown.replace(GALLERY_MARK, gallery_markdown())
    return markdown
