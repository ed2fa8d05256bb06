"""Shared fixtures (the real media folder in one place, nets loaded once per session) and the helpers tests import
from here: `run_mmdream` (the CLI in a process of its own; `start_mmdream` leaves it running for a test that
signals it), `run_here` (the CLI in this one) and `decoded_frames` (every frame of a small film)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):  # processes share the cores: one thread pool apiece, as large
    # as its share, for TensorFlow and for OpenMP and OpenBLAS (PyTorch's sums, numpy's): a pool of more threads
    # than its share spins on the cores another worker's test is using
    workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    share = str(max(1, (os.cpu_count() or 1) // workers))
    for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, share)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/keras_cache.py, for the fixtures below
import forked  # noqa: E402 - beside this file

from mmdream.core.choose import own_process  # noqa: E402

own_process()  # the suite's processes are its own: once Keras is loaded, it stays out of the collector's way


def _one_tls_context_per_setting() -> None:
    """httpx builds a TLS context (certifi's whole bundle parsed) for every client it makes, and gradio_client
    makes one for each call: the suite's visitors, all on the loopback and never using TLS, spent more CPU there
    than the studio's tests spent on some dreams. This process keeps one context per setting (a context serves
    any number of connections and threads)."""
    import functools

    import httpx._transports.default as transports

    transports.create_ssl_context = functools.lru_cache(maxsize=8)(transports.create_ssl_context)


_one_tls_context_per_setting()

ROOT = Path(__file__).resolve().parent.parent


def script_module(name: str):
    """scripts/NAME.py as a module (the bench, the reference ports), without leaving scripts/ on the import path."""
    import importlib

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port nothing listens on now (TCP, or UDP with socket.SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def our_lines(stderr: str) -> list[str]:
    """mmdream's own lines of a process's stderr (TensorFlow and ffmpeg say things too)."""
    return [ln for ln in stderr.splitlines() if ln.startswith("mmdream")]


def png_header(width: int, height: int) -> bytes:
    """A PNG that says it is width x height (a decompression bomb needs no pixels to claim its size)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def framemd5(path: Path, stream: str) -> list[str]:
    """The checksum of every decoded frame (`v`) or audio packet's samples (`a`), as ffmpeg's framemd5 gives."""
    from mmdream.media.ffmpeg import frame_checksums

    return frame_checksums(path, stream)


def chromium_path() -> str:
    """Debian's Chromium (or another installed Chrome) for the browser tests; CI installs it first (.ci/run), and
    elsewhere a test that needs it skips, saying so."""
    import shutil

    found = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome"))
                  if p), None)
    if found is None:
        pytest.skip("no Chromium installed (apt-get install chromium): the browser tests need one")
    return found


def run_mmdream(*argv, timeout: float = 600, cwd: Path | None = None,
                env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m mmdream ARGV` in a process of its own, text output captured, as subprocess.run gives it: forked
    from a process that imported TensorFlow and Keras once (tests/forked.py), not an interpreter started anew."""
    return forked.run(argv, cwd=cwd, env=env, timeout=timeout)


def start_mmdream(*argv, cwd: Path | None = None, env: dict | None = None, stderr: str | None = None,
                  stdin: str | None = None) -> forked.Started:
    """`python -m mmdream ARGV` started as run_mmdream starts it, and left running for a test that signals it while
    it works: a Popen's pid, poll, wait, send_signal and communicate (tests/forked.py). `stderr`: a path for it
    (a terminal's, where progress bars must be drawn); `stdin`: a terminal's path, for keys typed to it."""
    return forked.Started(argv, cwd=cwd, env=env, stderr=stderr, stdin=stdin)


def run_fresh(*argv, timeout: float = 600, cwd: Path | None = None,
              env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m mmdream ARGV` in an interpreter started for it, as a user starts one: for a check of what such a
    process prints or how soon it answers, which a process forked from one with TensorFlow loaded would not show."""
    return subprocess.run([sys.executable, "-m", "mmdream", *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def run_here(*argv, env: dict | None = None) -> subprocess.CompletedProcess:
    """`mmdream ARGV` in this process, as run_mmdream reports it (exit status, what it printed), for a command whose
    check needs no fresh process: the nets and compiled steps this process built serve it, and no interpreter or
    TensorFlow starts again. What native code and child processes write to the descriptors is caught as well as
    Python's own output. `env`: the environment it runs in (restored after)."""
    import io
    import tempfile
    from contextlib import redirect_stderr, redirect_stdout

    from mmdream.cli import main

    argv = [str(a) for a in argv]
    saved_env = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryFile() as native_out, tempfile.TemporaryFile() as native_err:
        sys.stdout.flush()
        sys.stderr.flush()
        saved_fds = os.dup(1), os.dup(2)
        try:
            if env is not None:
                os.environ.clear()
                os.environ.update(env)
            os.dup2(native_out.fileno(), 1)
            os.dup2(native_err.fileno(), 2)
            with redirect_stdout(out), redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as e:  # argparse's refusal
                    code = e.code if isinstance(e.code, int) else 2
        finally:
            for fd, kept in zip((1, 2), saved_fds):
                os.dup2(kept, fd)
                os.close(kept)
            os.environ.clear()
            os.environ.update(saved_env)
        native_out.seek(0)
        native_err.seek(0)
        stdout = out.getvalue() + native_out.read().decode(errors="replace")
        stderr = err.getvalue() + native_err.read().decode(errors="replace")
    return subprocess.CompletedProcess(["mmdream", *argv], code, stdout, stderr)


# `main(ARGV)` in a fresh process: its status, then which heavy libraries it had imported, on stdout's one line.
LOADED = ("tensorflow", "keras", "ray")
_MAIN_APART = ("import sys; from mmdream.cli import main; rc = main(sys.argv[1:]); "
               f"print(rc, *(m for m in {LOADED!r} if m in sys.modules))")


def main_apart(*argv, cwd: Path | None = None) -> tuple[int, set[str], str]:
    """`mmdream ARGV` through `main` in a fresh process: its exit status, which of LOADED it had imported by then,
    and its stderr. A refusal's check: what loaded before it, not how long it took (that measures the host)."""
    done = subprocess.run([sys.executable, "-c", _MAIN_APART, *map(str, argv)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=120)
    words = done.stdout.split()
    assert words, done.stderr[-2000:]
    return int(words[0]), set(words[1:]), done.stderr


# The loop of a CliProcess's child: a JSON argv per line in, run_here's result back on a line of its own (anything
# else the process prints to its stdout between commands is not a reply).
SERVE = """import json, sys
sys.path.insert(0, sys.argv[1])
from conftest import run_here
for line in sys.stdin:
    done = run_here(*json.loads(line))
    reply = {"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
             "tensorflow": "tensorflow" in sys.modules}
    print("@@reply " + json.dumps(reply), flush=True)
"""


class CliProcess:
    """`mmdream` commands run one after another in one child process with `env` (another backend): what needs a
    process apart from the test's but not one apiece (an interpreter, Keras and a backend started once). `run`
    gives run_mmdream's result and whether the process had imported TensorFlow by then."""

    def __init__(self, env: dict) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, str(Path(__file__).parent)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)

    def run(self, *argv) -> tuple[subprocess.CompletedProcess, bool]:
        self.proc.stdin.write(json.dumps([str(a) for a in argv]) + "\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith("@@reply "):
                r = json.loads(line[len("@@reply "):])
                return subprocess.CompletedProcess(["mmdream", *argv], r["code"], r["stdout"], r["stderr"]), \
                    r["tensorflow"]
        raise AssertionError(f"the command process ended with status {self.proc.wait()}")

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


PRINTED: dict[int, list[str]] = {}  # what each started server printed after its first line, as it comes


def start_server(*args: str, env: dict | None = None) -> tuple[str, subprocess.Popen, str]:
    """`mmdream serve ARGS` on a free loopback port, up and answering; (its URL, the process, its first line)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mmdream", "serve", "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})})
    first = proc.stdout.readline().strip()
    PRINTED[proc.pid] = printed = []
    threading.Thread(target=lambda: printed.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            break
        time.sleep(0.25)
    assert proc.poll() is None, proc.stderr.read()[-2000:]
    return f"http://127.0.0.1:{port}/", proc, first


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def small_classifier(path: Path, rescale: bool = True) -> Path:
    """A small residual image classifier saved by Keras alone (no model card): pixels in, 4 softmax scores out."""
    import keras

    keras.utils.set_random_seed(1)
    inp = keras.Input((48, 48, 3))
    x = keras.layers.Rescaling(1 / 255)(inp) if rescale else inp
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    for _ in range(2):
        x = keras.layers.Add()([x, keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)])
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(24, 3, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    keras.Model(inp, keras.layers.Dense(4, activation="softmax")(x)).save(path)
    return path


def decoded_frames(path: Path) -> np.ndarray:
    """Every decoded frame of a film, stacked (small films only)."""
    from mmdream.media.ffmpeg import probe, read_video_frames

    info = probe(str(path))
    return np.stack(list(read_video_frames(str(path), info.video_size, info.fps)))


def frame_changes(out: Path, src: Path) -> np.ndarray:
    """How far each frame of a film made from `src`'s opening is from its source frame: the mean absolute
    difference of their pixels (0..255), the source decoded at the film's size and rate."""
    from mmdream.media.ffmpeg import probe, read_video_frames

    ours = decoded_frames(out).astype(np.float32)
    info = probe(str(out))
    theirs = np.stack(list(read_video_frames(str(src), info.video_size, info.fps, 0.0, len(ours) / info.fps)))
    return np.abs(ours - theirs[: len(ours)].astype(np.float32)).mean(axis=(1, 2, 3))


# Tests that share something costly run on one worker of a parallel run (pytest-xdist's --dist loadgroup): the
# stand-in Keras cache (random ImageNet weights written once), here; the Ray cluster and the studio's server, by their
# modules' own mark. The groups are handed out in this order (the Makefile turns off xdist's own, by test count), then
# the single tests as collected. The animal net (animals_net) comes first: the worker that takes its group trains it
# at the start, long before the Ray group's last test asks for it (a worker that asked while the other trained it
# would wait idle).
GROUP_ORDER = ("animals", "keras cache", "ray", "studio", "jax", "ear films", "docs")


@pytest.hookimpl(tryfirst=True)  # first of the hooks: xdist reads the marks in its own
def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if {"keras_cache", "imagenet"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("keras cache"))

    def rank(item) -> int:
        mark = item.get_closest_marker("xdist_group")
        name = (mark.args[0] if mark.args else mark.kwargs.get("name")) if mark else None
        return GROUP_ORDER.index(name) if name in GROUP_ORDER else len(GROUP_ORDER) + (mark is None)

    items.sort(key=rank)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    """A parallel run's groups are real: xdist's loadgroup tells the controller an item's group by a suffix on its
    id, which pytest 9.2 no longer takes (pytest-xdist#1386), and then each group is spread over every worker, each
    building the group's cluster, server and references again. A grouped test that carries no group fails."""
    if (hasattr(item.config, "workerinput") and item.config.getvalue("loadgroup")
            and item.get_closest_marker("xdist_group") and "@" not in item.nodeid):
        pytest.fail(f"--dist loadgroup is not grouping under pytest {pytest.__version__} (pytest-xdist#1386): this "
                    "grouped test carries no group", pytrace=False)


def pytest_sessionstart(session) -> None:
    """Under CI a missing media folder stops the run at once: every test of real material would skip (and fail the
    run at its end, tens of minutes later)."""
    if os.environ.get("CI") and not hasattr(session.config, "workerinput") and not media_root().is_dir():
        pytest.exit(f"CI: the real media folder {media_root()} is absent (set MMDREAM_MEDIA): the tests of real "
                    "material cannot run", returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_sessionfinish(session, exitstatus) -> None:
    """The fork servers end. Under CI (`CI` set, as .ci/run sets it) a skipped test is a failed run: CI has the
    media, root and Chromium every test needs, so a skip there means something it checks went unchecked."""
    forked.close_all()
    if not os.environ.get("CI") or hasattr(session.config, "workerinput"):  # the controller counts for its workers
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = [r for r in (reporter.stats.get("skipped", []) if reporter else []) if r.when in ("setup", "call")]
    if skipped:
        for report in skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            print(f"\nCI: {report.nodeid} was skipped ({reason}): a skip fails the run under CI", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def media_root() -> Path:
    return Path(os.environ.get("MMDREAM_MEDIA", ROOT.parent / "shared" / "media"))


@pytest.fixture(scope="session")
def media() -> Path:
    """../shared/media (or $MMDREAM_MEDIA). CI has it; elsewhere the tests that need it skip, saying why."""
    root = media_root()
    if not root.is_dir():
        pytest.skip(f"real media folder {root} is absent (set MMDREAM_MEDIA)")
    return root


@pytest.fixture(scope="session")
def animals(media, tmp_path_factory) -> Path:
    """The ten animal recordings as class folders (one file each), as `mmdream train audio` takes them."""
    root = tmp_path_factory.mktemp("animals")
    for f in sorted((media / "audio" / "animals").iterdir()):
        (root / f.stem).mkdir()
        (root / f.stem / f.name).symlink_to(f)
    return root


def run_temp(tmp_path_factory) -> Path:
    """The temporary folder of the whole run: a parallel run's workers each have their own inside it."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def run_lock(path: Path):
    """One process of the run at a time (an exclusive lock on `path`, released if its holder dies)."""
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def animals_net(animals, tmp_path_factory) -> Path:
    """A sound net trained on the ten animal recordings, as a user would (`mmdream train audio`, one-second
    windows), with its training report beside it (train.json): trained once per run, by the first worker that
    needs it, while any other waits (training and cross-modal tests alike)."""
    from mmdream.cli import main

    models = run_temp(tmp_path_factory) / "animals-net"
    models.mkdir(exist_ok=True)
    with run_lock(models / ".lock"):
        if not (models / "train.json").exists():  # written last
            mp = pytest.MonkeyPatch()
            mp.setenv("MMDREAM_MODELS", str(models))
            try:
                assert main(["train", "audio", str(animals), "--name", "animals", "--epochs", "10", "--window",
                             "1", "--report", str(models / "train.json")]) == 0
            finally:
                mp.undo()
    return models / "animals.keras"


@pytest.fixture(scope="session")
def lite0():
    from mmdream.nets import load_net

    return load_net("efficientnet_lite0")


@pytest.fixture(scope="session", autouse=True)
def _temporary_files_in_pytests_folder(tmp_path_factory):
    """What libraries in the test process leave in Python's temporary folder goes under pytest's own (which keeps
    its last three runs), not /tmp: gradio_client makes a folder there per file it downloads and leaves it, empty.
    This process only: `TMPDIR` is left alone for the processes it starts (Ray's sockets are short paths in /tmp)."""
    tempfile.tempdir = str(tmp_path_factory.mktemp("tempfile"))
    yield
    tempfile.tempdir = None


@pytest.fixture(autouse=True)
def _isolated_models_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MMDREAM_MODELS", str(tmp_path_factory.getbasetemp() / "models"))


@pytest.fixture(scope="session")
def keras_cache(tmp_path_factory):
    """One temporary Keras cache for the session; nets get their random stand-in weights when first asked."""
    from keras_cache import KerasCache

    return KerasCache(tmp_path_factory.mktemp("keras_home"))


@pytest.fixture
def imagenet(keras_cache, monkeypatch):
    """This process sees the stand-in cache with Keras' md5 check patched (and nothing else); `imagenet.env()`
    gives the same to subprocesses."""
    import keras.src.utils.file_utils as file_utils
    from keras_cache import accept_any_md5

    monkeypatch.setenv("KERAS_HOME", str(keras_cache.home))
    monkeypatch.setattr(file_utils, "validate_file", accept_any_md5)
    return keras_cache


@pytest.fixture
def tmpfs(tmp_path):
    """`tmpfs(name, "size=256k", "ro")`: a small tmpfs mounted under tmp_path (a full or read-only disk), unmounted
    afterwards. Mounting needs root, as CI has; elsewhere the test skips, saying why."""
    mounted = []

    def mount(name: str, *options: str) -> Path:
        path = tmp_path / name
        path.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(path)],
                              capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root, as CI has): {done.stderr.decode().strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", str(path)], check=False)
