"""The safetensors layout written without the `safetensors` package, which Debian does not ship: an 8-byte
little-endian header length, the JSON header (padded with spaces to a multiple of 8), then the raw little-endian data.
Shared by the golden-file generators in this folder."""

import json
import os
import struct

import numpy as np

DTYPES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64"}


def write(path, arrays, metadata=None, sort=True):
    """Writes {name: array-like} (float32, float64 or int64; torch tensors are converted with .numpy()) to path,
    atomically. Names are sorted unless sort is False, which keeps the mapping's order."""
    header = {"__metadata__": metadata} if metadata else {}
    blobs, offset = [], 0
    for name in (sorted(arrays) if sort else arrays):
        value = arrays[name]
        # np.array copies in C order and, unlike np.ascontiguousarray, keeps rank-0 arrays rank 0.
        array = np.array(value.detach().numpy() if hasattr(value, "detach") else value, order="C")
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[array.dtype], "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    temporary = path + ".tmp"
    with open(temporary, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))
    os.replace(temporary, path)
