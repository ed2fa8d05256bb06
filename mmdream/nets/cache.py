"""Where converted weights live: ~/.cache/mmdream, or $MMDREAM_CACHE."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


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
