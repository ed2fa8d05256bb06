"""`python -m mmdream ARGV` as a fresh process, without paying for an interpreter, TensorFlow and Keras each time:
a server process imports them once (before any of them starts a thread pool or a device) and forks a child per
command, which runs `mmdream`'s `__main__` as `python -m` would, in its own working folder, environment and output
files, and exits as a process does (its atexit handlers run) but without tearing down every module one by one. A
server serves one environment of what libraries read when they are imported (KERAS_*, TF_*, ...); another such
environment gets a server of its own.

Fork-safety: the server never runs a TensorFlow op, so each child starts TensorFlow's runtime (its thread pools,
its thread count) itself, as a fresh process does. Where a test checks what a process loads, or how soon a fresh
one answers, it starts an interpreter itself."""

from __future__ import annotations

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
import atexit, json, os, runpy, sys
import tensorflow, keras
import mmdream.cli

def run(req):
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    for fd, path, mode in ((0, os.devnull, os.O_RDONLY), (1, req["stdout"], os.O_WRONLY), (2, req["stderr"], os.O_WRONLY)):
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

    def run(self, argv: list[str], cwd: str, env: dict, timeout: float) -> subprocess.CompletedProcess:
        """The command's exit status and output, as subprocess.run gives them (TimeoutExpired past `timeout`)."""
        with tempfile.TemporaryDirectory() as folder:
            out, err = Path(folder) / "out", Path(folder) / "err"
            out.touch()
            err.touch()
            request = {"argv": argv, "cwd": cwd, "env": env, "stdout": str(out), "stderr": str(err)}
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            pid = int(self._reply("@@pid "))
            expired = threading.Event()
            timer = threading.Timer(timeout, lambda: (expired.set(), _kill(pid)))
            timer.start()
            try:
                code = int(self._reply("@@exit "))
            finally:
                timer.cancel()
            stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
        if expired.is_set():
            raise subprocess.TimeoutExpired(["mmdream", *argv], timeout, stdout, stderr)
        return subprocess.CompletedProcess([sys.executable, "-m", "mmdream", *argv], code, stdout, stderr)

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


def run(argv: list, cwd: str | os.PathLike | None = None, env: dict | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m mmdream ARGV` in a process of its own, forked from a server with the libraries imported (a call
    made while another runs, from a test's threads, gets a server of its own)."""
    env = {k: str(v) for k, v in (os.environ if env is None else env).items()}
    key = import_time_env(env)
    with _guard:
        found = [i for i, (k, s) in enumerate(_idle) if k == key and s.proc.poll() is None]
        server = _idle.pop(found[-1])[1] if found else None
    server = server or Server(env)
    try:
        return server.run([str(a) for a in argv], str(cwd or os.getcwd()), env, timeout)
    finally:
        with _guard:
            _idle.append((key, server))
            while len(_idle) > MOST_IDLE:
                _idle.pop(0)[1].close()


def close_all() -> None:
    with _guard:
        while _idle:
            _idle.pop()[1].close()
