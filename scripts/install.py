"""`pip install ARGS` into this interpreter's environment (a venv's), done by uv where uv can be had: the same
packages (uv is given pip's own settings: indexes, find-links, constraints, certificate, timeout, and takes the best
version across indexes as pip does), installed and compiled to bytecode on every core in under half pip's time
(`--no-compile`, as pip takes it: not compiled). Where uv cannot be installed or fails, pip does it, upgraded first.
Run by the Makefile with the venv's interpreter:

    .venv/bin/python scripts/install.py -e ".[tensorflow]"
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

UV = "uv>=0.5"
# pip's settings that change what is installed or from where, as uv's flags (each value may list several)
FLAGS = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links",
         "constraint": "--constraint", "trusted-host": "--allow-insecure-host"}
# and as uv's environment
ENV = {"cert": "SSL_CERT_FILE", "default-timeout": "UV_HTTP_TIMEOUT", "timeout": "UV_HTTP_TIMEOUT"}
PRECEDENCE = ("global", "install", ":env:")  # later wins, as in pip: its environment over its files


def pip(python: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "pip", *args], capture_output=True, text=True)


def pip_settings(python: str) -> dict[str, str]:
    """pip's effective settings (`pip config list`: its files, then PIP_* variables), key -> value."""
    found: dict[str, tuple[int, str]] = {}
    for line in pip(python, "config", "list").stdout.splitlines():
        name, _, value = line.partition("=")
        section, _, key = name.rpartition(".")
        if section in PRECEDENCE and value:
            rank = PRECEDENCE.index(section)
            if key not in found or found[key][0] <= rank:
                found[key] = (rank, ast.literal_eval(value))  # pip prints each value as Python's repr
    return {key: value for key, (_, value) in found.items()}


def uv_command(python: str, settings: dict[str, str], compile_bytecode: bool = True
               ) -> tuple[list[str], dict[str, str]]:
    """uv's `pip install` command line, into `python`'s environment, and its environment, for pip's settings."""
    command = [str(Path(python).with_name("uv")), "pip", "install", "--python", python,
               "--index-strategy", "unsafe-best-match"]  # pip's choice: the highest version any index offers
    if compile_bytecode:
        command.append("--compile-bytecode")
    env = dict(os.environ)
    for key, value in settings.items():
        if key in FLAGS:
            command += [arg for item in value.split() for arg in (FLAGS[key], item)]
        elif key in ENV:
            env[ENV[key]] = value
        elif key == "no-index" and value.lower() in ("1", "true", "yes", "on"):
            command.append("--no-index")
    return command, env


def main(args: list[str], python: str = sys.executable) -> int:
    quiet = ["--quiet"]
    if Path(python).with_name("uv").exists() or pip(python, "install", *quiet, UV).returncode == 0:
        command, env = uv_command(python, pip_settings(python), compile_bytecode="--no-compile" not in args)
        if subprocess.run([*command, *quiet, *(a for a in args if a != "--no-compile")], env=env).returncode == 0:
            return 0
        print("scripts/install.py: uv failed; installing with pip", file=sys.stderr)
    pip(python, "install", *quiet, "--upgrade", "pip")  # a venv's own pip may be old
    return subprocess.run([python, "-m", "pip", "install", *quiet, *args]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
