"""`mmdream datasets prepare --download` against a loopback HTTP server on 127.0.0.1 serving fixture archives: no
Content-Length, a connection cut mid-file then resumed with a Range request, 404, a wrong checksum, a full disk
while unpacking. Each is a success or one line naming the real cause; never a half data set reported complete."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import our_lines

from mmdream.cli import main
from mmdream.train import datasets

CLASSES = {"dog": 3, "bird": 2}


def _archive(pad: int = 0) -> bytes:
    """A zip of class folders of small 'clips'; `pad` adds that many compressible bytes to each."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for label, n in CLASSES.items():
            for i in range(n):
                z.writestr(f"clips/{label}/{i}.wav", f"{label} {i}".encode() * 4000 + bytes(pad))
    return buf.getvalue()


class Server:
    """Serves `files` under /ok/, /nolength/, /cut/ (the first plain GET stops halfway) and logs each request."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.log: list[tuple[str, str | None]] = []
        self.cut_done: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                mode, _, name = self.path.strip("/").partition("/")
                rng = self.headers.get("Range")
                server.log.append((self.path, rng))
                data = server.files.get(name)
                if data is None or mode == "missing":
                    self.send_error(404, "Not Found")
                    return
                start = int(rng.split("=")[1].split("-")[0]) if rng and mode != "nolength" else 0
                body = data[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                if mode != "nolength":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "cut" and not start and name not in server.cut_done:
                    server.cut_done.add(name)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the connection drops mid-file
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    with Server() as s:
        yield s


def _recipe(tmp_path: Path, url: str, data: bytes, sha256: str | None = None) -> str:
    folder = tmp_path / "recipes"
    folder.mkdir(exist_ok=True)
    sha = sha256 or hashlib.sha256(data).hexdigest()
    (folder / "clips.toml").write_text(f'''name = "clips"
title = "fixture clips"
kind = "audio"
homepage = "http://127.0.0.1/"
license = "CC0"
citation = "none"
size = "{len(data)} bytes"

[[files]]
name = "clips.zip"
url = "{url}"
sha256 = "{sha}"

[sort]
method = "folders"
pattern = 'clips/(?P<class>[^/]+)/[^/]+\\.wav'
''')
    return str(folder)


def _prepare(root: Path, capsys) -> tuple[int, list[str]]:
    capsys.readouterr()
    rc = main(["datasets", "prepare", "clips", "--root", str(root), "--download"])
    return rc, our_lines(capsys.readouterr().err)


def _complete(root: Path) -> dict:
    manifest = json.loads((root / "sorted" / "manifest.json").read_text())
    assert manifest["missing"] == 0 and manifest["per_class"] == CLASSES
    return manifest


def test_download_without_content_length_completes(server, tmp_path, monkeypatch, capsys):
    data = server.files["clips.zip"] = _archive()
    monkeypatch.setenv("MMDREAM_DATASETS", _recipe(tmp_path, f"{server.url}/nolength/clips.zip", data))
    rc, err = _prepare(tmp_path / "root", capsys)
    assert (rc, err) == (0, [])
    _complete(tmp_path / "root")
    assert not list((tmp_path / "root").glob(".*.partial"))


def test_cut_download_is_an_error_then_resumes_with_only_the_missing_bytes(server, tmp_path, monkeypatch, capsys):
    data = server.files["clips.zip"] = _archive()
    monkeypatch.setenv("MMDREAM_DATASETS", _recipe(tmp_path, f"{server.url}/cut/clips.zip", data))
    root = tmp_path / "root"
    rc, err = _prepare(root, capsys)
    half = len(data) // 2
    assert rc == 2 and len(err) == 1, err
    assert f"stopped at {half} of {len(data)} bytes" in err[0] and "run the same command again to resume" in err[0]
    assert not (root / "clips.zip").exists() and not (root / "sorted").exists()
    assert (root / ".clips.zip.partial").stat().st_size == half

    seen = []

    class Bar:
        def __init__(self, total, desc):
            seen.append(total)

        def update(self, n):
            seen.append(n)

        def close(self):
            pass

    datasets.fetch(datasets.load_recipe("clips")["files"][0], root, True, progress=Bar)
    assert server.log[-1] == ("/cut/clips.zip", f"bytes={half}-")  # only the missing bytes were asked for
    assert seen[0] == len(data) and sum(seen[1:]) == len(data)  # the bar counts the kept half too
    rc, err = _prepare(root, capsys)
    assert (rc, err) == (0, [])
    assert _complete(root)["downloads"][0]["sha256"] == hashlib.sha256(data).hexdigest()


def test_404_and_a_wrong_checksum_are_one_line_and_leave_nothing(server, tmp_path, monkeypatch, capsys):
    data = server.files["clips.zip"] = _archive()
    root = tmp_path / "root"
    monkeypatch.setenv("MMDREAM_DATASETS", _recipe(tmp_path, f"{server.url}/missing/clips.zip", data))
    rc, err = _prepare(root, capsys)
    assert rc == 2 and err == [f"mmdream: error: could not download {server.url}/missing/clips.zip: the server "
                               "answered 404 Not Found"]
    monkeypatch.setenv("MMDREAM_DATASETS", _recipe(tmp_path, f"{server.url}/ok/clips.zip", data, sha256="0" * 64))
    rc, err = _prepare(root, capsys)
    assert rc == 2 and err == [f"mmdream: error: {root / 'clips.zip'} fails its sha256 check (corrupt or a "
                               "different version); the server sent a different file"]
    assert sorted(p.name for p in root.iterdir()) == []


def test_full_disk_while_unpacking_names_the_disk(server, tmp_path, monkeypatch, capsys, tmpfs):
    data = server.files["clips.zip"] = _archive(pad=400_000)  # ~2 MB unpacked, a few kB packed
    monkeypatch.setenv("MMDREAM_DATASETS", _recipe(tmp_path, f"{server.url}/ok/clips.zip", data))
    disk = tmpfs("disk", "size=1m")
    rc, err = _prepare(disk, capsys)
    assert rc == 2 and err == [f"mmdream: error: could not unpack clips.zip: no space left on {disk}"], err
    assert not (disk / "sorted").exists() and not (disk / ".clips.zip.unpacked").exists()
