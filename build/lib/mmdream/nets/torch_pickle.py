"""Read a legacy (non-zip) PyTorch state dict with numpy alone.

Why: the offline EfficientNet-Lite0 weights ship as a torch pickle, and mmdream must not depend on torch.
The unpickler is restricted: it resolves only the handful of globals a state dict needs, so a crafted
file cannot execute code.
"""

from __future__ import annotations

import collections
import pickle
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _PendingTensor:
    """A tensor view whose storage bytes come later in the file."""

    def __init__(self, key: str, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.key, self.offset, self.size, self.stride = key, offset, tuple(size), tuple(stride)


def _rebuild_tensor(storage: tuple[str, np.dtype], offset: int, size, stride, *_args) -> _PendingTensor:
    return _PendingTensor(storage[0], offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def __init__(self, f: BinaryIO, storages: dict[str, np.dtype]) -> None:
        super().__init__(f)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid: Any) -> tuple[str, np.dtype]:
        kind, storage_type, key = pid[0], pid[1], pid[2]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        self._storages[key] = storage_type.dtype
        return key, storage_type.dtype


def _materialise(t: _PendingTensor, buffers: dict[str, np.ndarray]) -> np.ndarray:
    flat = buffers[t.key]
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[t.offset :], shape=t.size, strides=tuple(s * item for s in t.stride)
    )
    return np.array(view, copy=True)


def load_legacy_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Return {name: array} from a legacy torch.save file (protocol used before torch 1.6)."""
    storages: dict[str, np.dtype] = {}
    with open(path, "rb") as f:
        magic = pickle.load(f)
        if magic != _LEGACY_MAGIC:
            raise ValueError(f"{path} is not a legacy torch pickle")
        pickle.load(f)  # protocol version
        pickle.load(f)  # sys info
        state = _Unpickler(f, storages).load()
        keys = pickle.load(f)
        buffers: dict[str, np.ndarray] = {}
        for key in keys:
            (numel,) = struct.unpack("<q", f.read(8))
            dtype = storages[key]
            buffers[key] = np.frombuffer(f.read(numel * dtype.itemsize), dtype=dtype)
    return {name: _materialise(t, buffers) for name, t in state.items() if isinstance(t, _PendingTensor)}
