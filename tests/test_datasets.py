"""Data set recipes: every real recipe is complete, and its sort rule, verification and manifest work on a small
fixture laid out like the real download (built here; the real files need the internet)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

from mmdream.cli import main
from mmdream.errors import UserError
from mmdream.train import datasets

FSD20 = ["Acoustic_guitar", "Bus", "Chime", "Computer_keyboard", "Cowbell", "Drawer_open_or_close", "Fireworks",
         "Glockenspiel", "Gong", "Gunshot_or_gunfire", "Keys_jangling", "Knock", "Microwave_oven", "Scissors",
         "Shatter", "Snare_drum", "Squeak", "Tearing", "Telephone", "Writing"]


def test_every_recipe_names_source_license_size_and_a_known_sort_rule():
    recipes = datasets.list_recipes()
    names = {r["name"] for r in recipes}
    assert {"stanford_dogs", "imagenet25", "fsdkaggle2018", "esc50", "urbansound8k", "freefield1010",
            "warblrb10k"} <= names
    for r in recipes:
        assert r["license"] and r["size"] and r["homepage"].startswith("http")
        assert r["sort"]["method"] in datasets.SORTERS
        for f in r["files"]:
            assert f["url"].startswith("http") and f["name"]
            assert re.fullmatch(r"[0-9a-f]{64}", f.get("sha256", "0" * 64))
            assert re.fullmatch(r"[0-9a-f]{32}", f.get("md5", "0" * 32))
    fsd = datasets.load_recipe("fsdkaggle2018")
    assert fsd["sort"]["classes"] == FSD20
    wnids = datasets.load_recipe("imagenet25")["sort"]["classes"]
    assert len(wnids) == 25 and len(set(wnids.values())) == 25
    assert all(re.fullmatch(r"n\d{8}", w) for w in wnids.values())


def _with_checksums(recipe: dict, root: Path) -> dict:
    """The real recipe with its published checksums swapped for the fixture's."""
    for f in recipe["files"]:
        data = (root / f["name"]).read_bytes()
        f.update(size=len(data), md5=hashlib.md5(data).hexdigest(), sha256=hashlib.sha256(data).hexdigest())
    return recipe


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def _table(rows: list[dict]) -> bytes:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode()


def test_datasets_list_names_every_recipe_with_its_kind_size_and_address(capsys):
    """`mmdream datasets list`: one entry per recipe in datasets/, its kind, size and download address."""
    import tomllib

    from mmdream.cli import main

    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    recipes = sorted((ROOT / "datasets").glob("*.toml"))
    assert recipes
    for path in recipes:
        recipe = tomllib.loads(path.read_text())
        entry = next((ln for ln in out.splitlines() if ln.split()[:1] == [path.stem]), None)
        assert entry is not None and entry.split()[1] in ("audio", "image"), (path.stem, out)
        assert any(url in out for url in _addresses(recipe)), path.stem


def _addresses(recipe: dict) -> list[str]:
    """Every http(s) address a recipe holds, at any depth."""
    found: list[str] = []
    for value in recipe.values():
        if isinstance(value, dict):
            found += _addresses(value)
        elif isinstance(value, str) and value.startswith("http"):
            found.append(value)
    return found


def test_esc50_fixture_sorts_by_its_metadata_table_with_a_manifest(tmp_path):
    rows = [{"filename": f"1-{i}-A-0.wav", "fold": "1", "target": str(i % 2), "category": ["dog", "rooster"][i % 2]}
            for i in range(6)]
    members = {f"ESC-50-master/audio/{r['filename']}": f"clip {i}".encode() for i, r in enumerate(rows)}
    members["ESC-50-master/meta/esc50.csv"] = _table(rows)
    _zip(tmp_path / "ESC-50-master.zip", members)
    recipe = _with_checksums(datasets.load_recipe("esc50"), tmp_path)
    manifest = datasets.prepare(recipe, tmp_path)
    assert manifest["per_class"] == {"dog": 3, "rooster": 3} and manifest["missing"] == 0
    assert sorted(p.name for p in (tmp_path / "sorted" / "dog").iterdir()) == ["1-0-A-0.wav", "1-2-A-0.wav",
                                                                                "1-4-A-0.wav"]
    assert json.loads((tmp_path / "sorted" / "manifest.json").read_text())["sha256"] == manifest["sha256"]
    assert manifest["downloads"][0]["verified"]
    again = datasets.prepare(recipe, tmp_path)  # idempotent: same data, same hash
    assert again["sha256"] == manifest["sha256"]


def test_urbansound_paths_use_the_fold_column_and_fsd_keeps_only_the_20_categories(tmp_path):
    rows = [{"slice_file_name": f"{i}.wav", "fold": str(1 + i % 3), "class": "siren"} for i in range(3)]
    members = {f"UrbanSound8K/audio/fold{r['fold']}/{r['slice_file_name']}": b"x" for r in rows}
    members["UrbanSound8K/metadata/UrbanSound8K.csv"] = _table(rows)
    _tar(tmp_path / "UrbanSound8K.tar.gz", members)
    assert datasets.prepare(_with_checksums(datasets.load_recipe("urbansound8k"), tmp_path),
                            tmp_path)["per_class"] == {"siren": 3}

    fsd = tmp_path / "fsd"
    fsd.mkdir()
    labels = ["Gong", "Bark", "Gong", "Writing"]  # Bark is one of the 21 categories the plan leaves out
    rows = [{"fname": f"{i:08x}.wav", "label": lab, "manually_verified": "1"} for i, lab in enumerate(labels)]
    _zip(fsd / "FSDKaggle2018.audio_train.zip", {f"FSDKaggle2018.audio_train/{r['fname']}": b"y" for r in rows})
    _zip(fsd / "FSDKaggle2018.meta.zip", {"FSDKaggle2018.meta/train_post_competition.csv": _table(rows)})
    manifest = datasets.prepare(datasets.load_recipe("fsdkaggle2018"), fsd)
    assert manifest["per_class"] == {"Gong": 2, "Writing": 1}
    assert not manifest["downloads"][0]["verified"] and len(manifest["downloads"][0]["sha256"]) == 64


def test_bird_detection_maps_hasbird_to_class_names(tmp_path):
    rows = [{"itemid": str(i), "datasetid": "ff1010bird", "hasbird": str(i % 2)} for i in range(4)]
    _zip(tmp_path / "ff1010bird_wav.zip", {f"wav/{r['itemid']}.wav": b"z" for r in rows})
    (tmp_path / "ff1010bird_metadata_2018.csv").write_bytes(_table(rows))
    manifest = datasets.prepare(datasets.load_recipe("freefield1010"), tmp_path)
    assert manifest["per_class"] == {"bird": 2, "no_bird": 2}


def test_stanford_dogs_folders_and_imagenet_synset_tars(tmp_path):
    members = {f"Images/n02085620-Chihuahua/n02085620_{i}.jpg": b"c" for i in range(2)}
    members |= {f"Images/n02088364-beagle/n02088364_{i}.jpg": b"b" for i in range(3)}
    members["Images/README.txt"] = b"not an image"
    _tar(tmp_path / "images.tar", members)
    manifest = datasets.prepare(_with_checksums(datasets.load_recipe("stanford_dogs"), tmp_path), tmp_path)
    assert manifest["per_class"] == {"Chihuahua": 2, "beagle": 3}

    inet = tmp_path / "inet"
    inet.mkdir()
    recipe = datasets.load_recipe("imagenet25")
    for name, wnid in list(recipe["sort"]["classes"].items())[:2]:
        _tar(inet / f"{wnid}.tar", {f"{wnid}_{i}.JPEG": name.encode() for i in range(2)})
    with pytest.raises(UserError, match=r"no images for 23 synset\(s\).*roman_building \(n04104500\)"):
        datasets.prepare(recipe, inet)
    recipe["sort"]["classes"] = dict(list(recipe["sort"]["classes"].items())[:2])
    assert datasets.prepare(recipe, inet)["per_class"] == {"altar": 2, "viaduct": 2}


def test_missing_or_corrupt_downloads_are_one_clear_error(tmp_path, capsys):
    recipe = datasets.load_recipe("esc50")
    with pytest.raises(UserError, match="ESC-50-master.zip is missing: download it from https://github.com"):
        datasets.prepare(recipe, tmp_path)
    (tmp_path / "ESC-50-master.zip").write_bytes(b"PK\x03\x04 truncated download")
    with pytest.raises(UserError, match="fails its md5 check"):
        datasets.prepare(recipe, tmp_path)
    recipe["files"][0].pop("md5")
    with pytest.raises(UserError, match="not a readable archive"):
        datasets.prepare(recipe, tmp_path)
    dogs = datasets.load_recipe("stanford_dogs")
    (tmp_path / "images.tar").write_bytes(b"short")
    with pytest.raises(UserError, match="is 5 bytes, expected 793579520"):
        datasets.prepare(dogs, tmp_path)
    assert main(["datasets", "prepare", "esc50", "--root", str(tmp_path / "empty")]) == 2
    assert "is missing: download it from" in capsys.readouterr().err
    assert main(["datasets", "prepare", "no_such_set", "--root", str(tmp_path)]) == 2


def test_frames_of_films_become_one_class_each(media, tmp_path, capsys):
    """`datasets frames`: each film a class of its frames, at its options' defaults where none are given (2 a
    second, 256 px on the long side); a bad rate or an --out that is a file is one line."""
    from PIL import Image

    film = media / "video" / "cockatoo_yuv420.mp4"
    counts = datasets.video_frames([str(film)], tmp_path / "api", fps=1.0, size=64)
    files = sorted((tmp_path / "api" / "cockatoo_yuv420").glob("*.png"))
    assert counts == {"cockatoo_yuv420": 14} and len(files) == 14 and files[0].name == "000001.png"

    assert main(["datasets", "frames", str(film), "--out", str(tmp_path / "cli")]) == 0
    files = sorted((tmp_path / "cli" / "cockatoo_yuv420").glob("*.png"))
    assert len(files) == 28 and max(Image.open(files[0]).size) == 256, (len(files), Image.open(files[0]).size)
    capsys.readouterr()
    for flags, line in ((["--fps", "0"], "--fps must be above 0"), (["--size", "0"], "--size must be at least 1"),
                        (["--out", str(files[0])], f"--out: {files[0]} is a file, not a folder")):
        assert main(["datasets", "frames", str(film), "--out", str(tmp_path / "bad"), *flags]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and line in err[0], err
