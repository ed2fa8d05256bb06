"""Where converted weights live: ~/.cache/mmdream, or $MMDREAM_CACHE."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    root = os.environ.get("MMDREAM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "mmdream"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_digests(path: str | os.PathLike, algorithms: tuple[str, ...], chunk: int = 1 << 20) -> dict[str, str]:
    """Hex digests of a file in each of `algorithms`, from one read of it (downloads are gigabytes)."""
    hashes = {a: hashlib.new(a) for a in algorithms}
    with open(path, "rb") as f:
        while block := f.read(chunk):
            for h in hashes.values():
                h.update(block)
    return {a: h.hexdigest() for a, h in hashes.items()}


def sha256_file(path: str | os.PathLike) -> str:
    return file_digests(path, ("sha256",))["sha256"]


def save_npz_atomic(target: Path, arrays: dict) -> Path:
    """Write converted weights under a name unique to this process, then rename: when many processes convert at
    once, each rename is whole and whoever finishes first wins."""
    import numpy as np

    from mmdream.io_utils import atomic_output

    with atomic_output(target) as tmp:
        np.savez(tmp, **arrays)
    return target


def cpu_model() -> str:
    """The CPU's model name, part of the key of a measurement remembered per machine."""
    import platform

    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")),
                platform.processor() or platform.machine())


def _read_json(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def recalled(filename: str, key: str) -> Any:
    """What `remembered` holds for `key`, or None: a look that computes nothing."""
    return _read_json(cache_dir() / filename).get(key)


def remembered(filename: str, key: str, compute: Callable[[], Any], keep: Callable[[str], bool] | None = None) -> Any:
    """`compute()` once per `key`, remembered in a JSON file of the cache. Many processes may start at once: the
    file is read again under a lock before it is written, so no process drops another's keys, and the first value
    written for a key is the one every process uses (two renders of one film must not measure differently).
    `keep` prunes stale keys when a new one is added."""
    import fcntl
    import json

    from mmdream.io_utils import atomic_output

    path = cache_dir() / filename
    known = _read_json(path)
    if key in known:
        return known[key]
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        known = _read_json(path)
        if key not in known:
            known = {k: v for k, v in known.items() if keep is None or keep(k)}
            known[key] = value
            with atomic_output(path) as tmp:
                tmp.write_text(json.dumps(known, indent=1))
    return known[key]
