"""Read a TensorFlow checkpoint (a V2 tensor bundle) with numpy alone.

Why: the musicnn nets ship as TensorFlow checkpoints, and a JAX- or PyTorch-only install has no TensorFlow.
A bundle is two files: `<prefix>.index`, a LevelDB-format table whose keys are tensor names and whose values are
`BundleEntryProto` messages (dtype, shape, shard, offset, size), and `<prefix>.data-00000-of-00001`, the tensors'
raw little-endian bytes at those offsets. Only what TensorFlow writes for a one-shard bundle is read: uncompressed
blocks, numeric dtypes (other entries, such as strings, are left out).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from mmdream.errors import UserError

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48  # two block handles padded to 40 bytes, then the magic number
# TensorFlow's DataType enum -> numpy (types.proto)
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
           10: np.bool_, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _block(table: bytes, handle: bytes) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of the block a handle (varint offset, varint size) points at."""
    offset, pos = _varint(handle, 0)
    size, _ = _varint(handle, pos)
    if table[offset + size] != 0:  # the block's trailer: its compression type, then a checksum
        raise UserError("checkpoint index has compressed blocks, which TensorFlow does not write for a bundle")
    data = table[offset:offset + size]
    restarts = struct.unpack_from("<I", data, len(data) - 4)[0]
    end = len(data) - 4 * (restarts + 1)
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(data, pos)
        unshared, pos = _varint(data, pos)
        length, pos = _varint(data, pos)
        key = key[:shared] + data[pos:pos + unshared]
        pos += unshared
        entries.append((key, data[pos:pos + length]))
        pos += length
    return entries


def _fields(msg: bytes) -> list[tuple[int, int | bytes]]:
    """A protobuf message's (field number, value) pairs: varints as ints, length-delimited fields as bytes."""
    out, pos = [], 0
    while pos < len(msg):
        tag, pos = _varint(msg, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(msg, pos)
        elif wire == 2:
            length, pos = _varint(msg, pos)
            value, pos = msg[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = struct.unpack_from("<I", msg, pos)[0], pos + 4
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", msg, pos)[0], pos + 8
        else:
            raise UserError(f"checkpoint index entry has an unknown protobuf wire type {wire}")
        out.append((number, value))
    return out


def _entry(msg: bytes) -> tuple[int, tuple[int, ...], int, int, int]:
    """A BundleEntryProto: (dtype, shape, shard, offset, size)."""
    fields = dict.fromkeys((1, 3, 4, 5), 0)
    shape: list[int] = []
    for number, value in _fields(msg):
        if number == 2:  # TensorShapeProto: repeated Dim dim = 2, each with int64 size = 1
            shape = [dict(_fields(dim)).get(1, 0) for n, dim in _fields(value) if n == 2]
        elif number in fields:
            fields[number] = value
    return fields[1], tuple(shape), fields[3], fields[4], fields[5]


def read_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """Every numeric tensor of the one-shard bundle at `prefix`, by name."""
    index = Path(f"{prefix}.index").read_bytes()
    if len(index) < _FOOTER or struct.unpack_from("<Q", index, len(index) - 8)[0] != _TABLE_MAGIC:
        raise UserError(f"{prefix}.index is not a TensorFlow checkpoint index")
    footer = index[-_FOOTER:]
    _, pos = _varint(footer, _varint(footer, 0)[1])  # skip the metaindex handle
    tensors: dict[str, np.ndarray] = {}
    with open(f"{prefix}.data-00000-of-00001", "rb") as data:
        for _, handle in _block(index, footer[pos:]):
            for key, value in _block(index, handle):
                if not key:  # the bundle's header
                    continue
                dtype, shape, shard, offset, size = _entry(value)
                if dtype not in _DTYPES or shard != 0:
                    continue
                data.seek(offset)
                raw = data.read(size)
                tensors[key.decode()] = np.frombuffer(raw, np.dtype(_DTYPES[dtype]).newbyteorder("<")).reshape(shape)
    return tensors
