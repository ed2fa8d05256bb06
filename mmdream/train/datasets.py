"""Public data sets for `mmdream train`: fetch, verify and sort into class folders, from a recipe per data set.

A recipe (`datasets/NAME.toml`) names the files (URL, size, md5/sha256 where published), the license, and one
sort rule: `csv` (a metadata table maps files to classes), `folders` (a regular expression on archive paths names
the class) or `wnid` (ImageNet synsets: one tar or folder per WordNet id). `prepare` checks every file before it
unpacks anything, so a missing or corrupt download is one clear error, and it hard-links (or copies) the sorted
files so the originals stay as they are. A manifest with counts and the data hash is written beside them.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import re
import shutil
import tarfile
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from mmdream.errors import UserError
from mmdream.io_utils import atomic_output, describe_os_error
from mmdream.nets.cache import file_digests

RECIPE_KEYS = {"name", "title", "kind", "homepage", "license", "citation", "size", "files", "sort"}


def recipes_dir() -> Path:
    return Path(os.environ.get("MMDREAM_DATASETS", Path(__file__).resolve().parents[2] / "datasets"))


def list_recipes() -> list[dict]:
    return [load_recipe(p.stem) for p in sorted(recipes_dir().glob("*.toml"))]


def load_recipe(name: str) -> dict:
    path = recipes_dir() / f"{name}.toml"
    if not path.exists():
        known = ", ".join(p.stem for p in sorted(recipes_dir().glob("*.toml")))
        raise UserError(f"no data set recipe {name!r}; known: {known}")
    recipe = tomllib.loads(path.read_text())
    missing = RECIPE_KEYS - set(recipe) - {"files"}
    if missing:
        raise UserError(f"recipe {path} lacks {', '.join(sorted(missing))}")
    recipe.setdefault("files", [])
    return recipe


# ---- fetch and verify ---------------------------------------------------------------------------------------
def verify(path: Path, spec: dict, fresh: bool = False) -> dict:
    """Size and published checksums of a downloaded file; returns its sha256 (recorded in the manifest). `fresh`:
    the file was just downloaded, so a mismatch means the server sent something else."""
    shown = path.with_name(spec["name"])
    again = "the server sent a different file" if fresh else f"delete it and download {spec['url']} again"
    if spec.get("size") and path.stat().st_size != spec["size"]:
        raise UserError(f"{shown} is {path.stat().st_size} bytes, expected {spec['size']}: the download is "
                        f"incomplete or corrupt; {again}")
    digests = file_digests(path, ("sha256", "md5") if spec.get("md5") else ("sha256",))
    for algorithm, got in digests.items():
        if spec.get(algorithm) and got != spec[algorithm]:
            raise UserError(f"{shown} fails its {algorithm} check (corrupt or a different version); {again}")
    return {"file": spec["name"], "sha256": digests["sha256"], "verified": bool(spec.get("sha256") or spec.get("md5"))}


def fetch(spec: dict, root: Path, download: bool, progress: Callable | None = None) -> Path:
    """The file in `root`, downloaded first if asked to; a missing file is an error saying where to get it.

    A download goes to `.NAME.partial`, resumes from there (HTTP Range) after an interruption, and is checked
    against its length and published checksums before it takes its name: a file under its final name is whole."""
    path = root / spec["name"]
    if path.exists():
        return path
    if not download:
        raise UserError(f"{path} is missing: download it from {spec['url']} into {root} (or add --download)")
    tmp = path.with_name(f".{path.name}.partial")
    download_file(spec["url"], tmp, progress, spec["name"])
    try:
        verify(tmp, spec, fresh=True)
    except UserError:
        tmp.unlink(missing_ok=True)  # ours, and wrong: a rerun starts afresh rather than resuming from it
        raise
    tmp.replace(path)
    return path


def download_file(url: str, tmp: Path, progress: Callable | None, name: str) -> None:
    """Stream `url` into `tmp`, continuing after the bytes `tmp` already holds where the server takes a Range.
    A transfer that ends before the length the server announced is an error that keeps `tmp` for resuming."""
    have = tmp.stat().st_size if tmp.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: the partial file is whole (verify judges it)
            return
        raise UserError(f"could not download {url}: the server answered {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", None) or e
        raise UserError(f"could not download {url} ({reason}); fetch it by hand into {tmp.parent}") from None
    with response:
        resumed = have if response.status == 206 else 0
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None else None
        total = resumed + expected if expected is not None else None
        bar = progress(total, name) if progress else None
        got, cut = 0, None
        try:
            with open(tmp, "ab" if resumed else "wb") as f:
                if bar is not None and resumed:
                    bar.update(resumed)
                while True:
                    try:
                        block = response.read(1 << 20)
                    except (OSError, http.client.HTTPException) as e:  # the connection broke mid-file
                        cut = e
                        break
                    if not block:
                        break
                    f.write(block)
                    got += len(block)
                    if bar is not None:
                        bar.update(len(block))
        except OSError as e:
            raise UserError(describe_os_error(e, tmp) or f"could not write {tmp} ({e.strerror})") from None
        finally:
            if bar is not None:
                bar.close()
    if cut is not None or (expected is not None and got < expected):
        of = f" of {total}" if total is not None else ""
        why = f" ({cut.__class__.__name__})" if cut is not None else ""
        raise UserError(f"the download of {url} stopped at {resumed + got}{of} bytes{why}; run the same command "
                        "again to resume it")


def extract(archive: Path, dest: Path) -> None:
    """Unpack a zip or tar once (a marker file records completion); a damaged archive is a clear error."""
    marker = archive.with_name(f".{archive.name}.unpacked")  # beside the archive, never among the data
    if marker.exists():
        return
    dest.mkdir(parents=True, exist_ok=True)
    name = archive.name.lower()
    if not name.endswith((".zip", ".tar", ".tar.gz", ".tgz")):
        return  # a plain file (a metadata table): used where it is
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                z.extractall(dest)
        else:
            with tarfile.open(archive) as t:
                t.extractall(dest, filter="data")
    except OSError as e:
        if (reason := describe_os_error(e, dest / "x")) is not None:  # the disk, not the archive
            raise UserError(f"could not unpack {archive.name}: {reason.split(' (')[0]}") from None
        raise UserError(f"{archive} is not a readable archive ({e.__class__.__name__}); delete it and download "
                        "it again") from None
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
        raise UserError(f"{archive} is not a readable archive ({e.__class__.__name__}); delete it and download "
                        "it again") from None
    marker.touch()


# ---- sort rules ---------------------------------------------------------------------------------------------
def _sort_csv(rule: dict, base: Path) -> list[tuple[Path, str]]:
    """Rows of a metadata table: `path` is a template over the row's columns, `class` names the class column,
    `class_map` renames values, `classes` keeps only those classes."""
    table = _find(base, rule["csv"])
    keep = set(rule.get("classes", [])) or None
    mapping = rule.get("class_map", {})
    pairs = []
    with open(table, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            if row.get(rule["class"]) is None or None in row.values():
                raise UserError(f"{table} is cut short or malformed at line {line}; is the download complete?")
            label = mapping.get(row[rule["class"]], row[rule["class"]])
            if keep is None or label in keep:
                pairs.append((base / rule["path"].format(**row), label))
    return pairs


def _sort_folders(rule: dict, base: Path) -> list[tuple[Path, str]]:
    """Files whose path (relative to the unpacked archives) matches `pattern`; its `class` group names the class."""
    pattern = re.compile(rule["pattern"])
    pairs = []
    for f in sorted(base.rglob("*")):
        if f.is_file() and (m := pattern.fullmatch(f.relative_to(base).as_posix())):
            pairs.append((f, m["class"]))
    return pairs


def _sort_wnid(rule: dict, base: Path) -> list[tuple[Path, str]]:
    """ImageNet synsets: a folder named by each class's WordNet id (or its unpacked per-synset tar)."""
    pairs, missing = [], []
    for name, wnid in rule["classes"].items():
        folders = [d for d in base.rglob(wnid) if d.is_dir()]
        files = sorted(f for d in folders for f in d.iterdir() if f.is_file())
        if not files:
            missing.append(f"{name} ({wnid})")
        pairs += [(f, name) for f in files]
    if missing:
        raise UserError(f"no images for {len(missing)} synset(s): {', '.join(missing)}; put {{wnid}}.tar files "
                        "or {wnid}/ folders from image-net.org into the root")
    return pairs


SORTERS = {"csv": _sort_csv, "folders": _sort_folders, "wnid": _sort_wnid}


def _find(base: Path, relative: str) -> Path:
    """A file of the unpacked data, or one downloaded as is beside it (a metadata table)."""
    for folder in (base, base.parent):
        if (folder / relative).exists():
            return folder / relative
    raise UserError(f"{relative} is not in the unpacked data under {base}; is the download complete?")


def _link(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


# ---- the command --------------------------------------------------------------------------------------------
def prepare(recipe: dict, root: str | Path, out: str | Path | None = None, download: bool = False,
            progress: Callable | None = None) -> dict:
    """Fetch and verify the recipe's files in `root`, unpack them, sort them into `out/CLASS/` (default
    `root/sorted`) and write `out/manifest.json`. Returns the manifest."""
    from mmdream.train.retrain import data_manifest

    root = made_folder(Path(root), "--root")
    out = made_folder(Path(out), "--out") if out else root / "sorted"
    paths = [fetch(spec, root, download, progress) for spec in recipe["files"]]
    checks = [verify(p, spec) for p, spec in zip(paths, recipe["files"])]  # all verified before unpacking
    unpacked = root / "unpacked"
    for p in paths:
        extract(p, unpacked)
    if recipe["sort"]["method"] == "wnid":  # per-synset tars sit in the root itself
        for tar in sorted(root.glob("n[0-9]*.tar")):
            extract(tar, unpacked / tar.stem)
    rule = recipe["sort"]
    if rule["method"] not in SORTERS:
        raise UserError(f"recipe {recipe['name']}: unknown sort method {rule['method']!r}")
    search = unpacked if unpacked.exists() else root
    pairs = SORTERS[rule["method"]](rule, search)
    present = [(src, label) for src, label in pairs if src.exists()]
    if not present:
        raise UserError(f"recipe {recipe['name']}: none of the {len(pairs)} listed files are in {root}")
    for src, label in present:
        folder = out / _safe(label)
        folder.mkdir(parents=True, exist_ok=True)
        _link(src, folder / src.name)
    classes = {d.name: sorted(f for f in d.iterdir() if f.is_file()) for d in sorted(out.iterdir()) if d.is_dir()}
    manifest = {"recipe": recipe["name"], "license": recipe["license"], "downloads": checks,
                "missing": len(pairs) - len(present), **data_manifest(classes, out)}
    with atomic_output(out / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=2))
    return manifest


def _safe(label: str) -> str:
    return re.sub(r"[^\w.+-]+", "_", label.strip()) or "unnamed"


def made_folder(path: Path, flag: str) -> Path:
    """`path` as a folder, made where it is not (with its parents); a file in its way is one line naming `flag`."""
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            raise UserError(f"{flag}: {part} is a file, not a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def video_frames(videos: list[str], out: str | Path, fps: float = 2.0, size: int = 256) -> dict[str, int]:
    """An image data set from films: the frames of each video, `fps` a second, into `out/VIDEO_STEM/`, named in
    time order (so `--split tail` holds out the end of each film)."""
    from mmdream.media.ffmpeg import even_size, probe, read_video_frames
    from mmdream.media.picture import Picture, write_image

    counts = {}
    for video in videos:
        info = probe(video)
        if not info.video_size:
            raise UserError(f"{video} has no video stream")
        folder = made_folder(Path(out) / _safe(Path(video).stem), "--out")
        n = 0
        for n, rgb in enumerate(read_video_frames(video, even_size(*info.video_size, size), fps), start=1):
            write_image(folder / f"{n:06d}.png", Picture(rgb, None))
        counts[folder.name] = n
    return counts
