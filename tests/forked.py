"""`python -m mmdream ARGV` as a fresh process, without paying for an interpreter, TensorFlow, Keras and the sound
libraries each time: a server process imports them once (before any of them starts a thread pool or a device) and
forks a child per command, which runs `mmdream`'s `__main__` as `python -m` would, in its own working folder,
environment and output files, and exits as a process does (its atexit handlers run) but without tearing down every
module one by one. A server serves one environment of what libraries read when they are imported (KERAS_*, TF_*,
...); another such environment gets a server of its own.

Fork-safety: the server never runs a TensorFlow op, so each child starts TensorFlow's runtime (its thread pools,
its thread count) itself, as a fresh process does. Where a test checks what a process loads, or how soon a fresh
one answers, it starts an interpreter itself."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

# What a library reads once, at import: a server started with other values would give a child the wrong ones.
IMPORT_TIME = ("KERAS_", "TF_", "XLA_", "JAX_", "CUDA", "OMP_", "MKL", "ONEDNN", "DNNL", "PYTHON", "LD_",
               "MMDREAM_BACKEND")

# The server's loop: imports, then a JSON request per line in; a child forked per request; its pid, then its exit
# status, back on lines of their own.
SERVER = r"""
import atexit, json, os, runpy, signal, sys, tempfile
import mmdream.cli
from mmdream.core.choose import own_process
own_process()  # as the command's start-up: Keras loads without the collector and is frozen, for every child
import keras, tensorflow
# A command's sound libraries too (librosa's STFT and filters, scipy.signal and numba with them: a second and a half
# of each film with a soundtrack, each sound dream), their first call made here (numpy alone, no TensorFlow op)
import librosa, librosa.filters, numpy
import mmdream.pipelines.audio.spectrum
librosa.istft(librosa.stft(numpy.zeros(4096, numpy.float32)))

def run(req):
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    tempfile.tempdir = None  # the temporary folder read from TMPDIR again, as a fresh process reads it
    # Ctrl-C heard as a user's process hears it, even where the suite runs as a background job (SIGINT ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for fd, path, mode in ((0, req["stdin"], os.O_RDONLY), (1, req["stdout"], os.O_WRONLY), (2, req["stderr"], os.O_WRONLY)):
        f = os.open(path, mode)
        os.dup2(f, fd)
        os.close(f)
    os.setsid()  # a process group of its own: a timeout kills it with its ffmpeg and workers
    sys.argv = ["mmdream", *req["argv"]]
    try:
        runpy.run_module("mmdream", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else print(e.code, file=sys.stderr) or 1
    atexit._run_exitfuncs()  # a process's exit, less tearing down every module (seconds, after TensorFlow)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

print("@@ready", flush=True)
for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        run(req)
    print(f"@@pid {pid}", flush=True)
    _, status = os.waitpid(pid, 0)
    print(f"@@exit {os.waitstatus_to_exitcode(status)}", flush=True)
"""


def import_time_env(env: dict) -> tuple:
    return tuple(sorted((k, v) for k, v in env.items() if k.startswith(IMPORT_TIME)))


class Server:
    """One server process and its request channel; one command at a time."""

    def __init__(self, env: dict) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env, start_new_session=True)
        if self.proc.stdout.readline().strip() != "@@ready":
            raise RuntimeError(f"the fork server did not start (status {self.proc.wait()})")

    def start(self, argv: list[str], cwd: str, env: dict, stdin: str, stdout: str, stderr: str) -> int:
        """The command forked, its standard streams opened from these paths (a file, a terminal's); its pid."""
        request = {"argv": argv, "cwd": cwd, "env": env, "stdin": stdin, "stdout": stdout, "stderr": stderr}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return int(self._reply("@@pid "))

    def exit_status(self) -> int:
        """The started command's exit status, once it has ended (minus the signal that ended it, as Popen says)."""
        return int(self._reply("@@exit "))

    def _reply(self, prefix: str) -> str:
        for line in self.proc.stdout:
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        raise RuntimeError(f"the fork server ended with status {self.proc.wait()}")

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)  # the child leads a group of its own: its ffmpeg and workers go with it
    except ProcessLookupError:
        pass


# Servers not running a command, least recently used first, with the import-time environment each serves; the
# oldest close past MOST_IDLE (each holds a loaded TensorFlow's memory).
_idle: list[tuple[tuple, Server]] = []
_guard = threading.Lock()
MOST_IDLE = 2


def _taken(env: dict) -> tuple[tuple, Server]:
    """An idle server for `env`'s import-time variables, or a new one, out of the idle list while it is used."""
    key = import_time_env(env)
    with _guard:
        found = [i for i, (k, s) in enumerate(_idle) if k == key and s.proc.poll() is None]
        server = _idle.pop(found[-1])[1] if found else None
    return key, server or Server(env)


def _given_back(key: tuple, server: Server) -> None:
    with _guard:
        _idle.append((key, server))
        while len(_idle) > MOST_IDLE:
            _idle.pop(0)[1].close()


def _as_text(env: dict | None) -> dict:
    return {k: str(v) for k, v in (os.environ if env is None else env).items()}


class Started:
    """`python -m mmdream ARGV` forked and running, for a test that signals it while it works: what a Popen of it
    (text, stdout and stderr piped) gives such a test: `pid` (leading a process group of its own), `poll`, `wait`,
    `send_signal`, `kill` (the whole group), `communicate`, `returncode`. Its output goes to files (or to
    `stderr`, a terminal's path), read when it has ended; its input is nothing, or `stdin` (a terminal's path, for
    a performer's keys)."""

    def __init__(self, argv: list, cwd: str | os.PathLike | None = None, env: dict | None = None,
                 stderr: str | None = None, stdin: str | None = None) -> None:
        env = _as_text(env)
        self._folder = tempfile.TemporaryDirectory()
        self._out = Path(self._folder.name) / "out"
        self._err = Path(stderr) if stderr else Path(self._folder.name) / "err"
        self._out.touch()
        if not stderr:
            self._err.touch()
        self._key, self._server = _taken(env)
        self.pid = self._server.start([str(a) for a in argv], str(cwd or os.getcwd()), env, stdin or os.devnull,
                                      str(self._out), str(self._err))
        self.returncode: int | None = None
        self._ended = threading.Event()
        threading.Thread(target=self._await_exit, daemon=True).start()

    def _await_exit(self) -> None:
        try:
            self.returncode = self._server.exit_status()
        finally:
            _given_back(self._key, self._server)
            self._ended.set()

    def poll(self) -> int | None:
        return self.returncode if self._ended.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(["mmdream"], timeout)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if not self._ended.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL to the command's process group (its ffmpeg and workers with it), if it is still running."""
        if not self._ended.is_set():
            _kill(self.pid)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self.wait(timeout)
        out, err = self._out.read_text(errors="replace"), self._err.read_text(errors="replace")
        self._folder.cleanup()
        return out, err


def run(argv: list, cwd: str | os.PathLike | None = None, env: dict | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m mmdream ARGV` in a process of its own, forked from a server with the libraries imported, its
    exit status and output as subprocess.run gives them (TimeoutExpired past `timeout`, the command killed with
    its process group). A call made while another runs, from a test's threads, gets a server of its own."""
    proc = Started(argv, cwd=cwd, env=env)
    try:
        proc.wait(timeout)
        expired = False
    except subprocess.TimeoutExpired:
        expired = True
        proc.kill()
    stdout, stderr = proc.communicate()
    if expired:
        raise subprocess.TimeoutExpired(["mmdream", *map(str, argv)], timeout, stdout, stderr)
    return subprocess.CompletedProcess([sys.executable, "-m", "mmdream", *map(str, argv)], proc.returncode, stdout,
                                       stderr)


def close_all() -> None:
    with _guard:
        while _idle:
            _idle.pop()[1].close()
