#!/usr/bin/python3
"""Checks that a .pt file written by Hybrid's StateDicts.SavePyTorch loads in real PyTorch exactly as torch.save's own.

    python3 tests/golden/check_pt_roundtrip.py FILE.pt [SAME_STATE.safetensors]

FILE.pt must load with torch.load(weights_only=True) (PyTorch's own allowlisted unpickler) as an OrderedDict of
contiguous CPU tensors; every zip entry must be stored uncompressed with its data 64-byte aligned, as torch.save writes
it; torch.save of the loaded dict, loaded again, must give the same tensors; and, when a safetensors file with the same
state is given (Hybrid's SaveSafetensors of the same dict), every tensor must equal it bit for bit, with matching dtype
and shape. Prints one line per check and exits non-zero on the first failure. Tests never run this: it is the manual
proof that our format is PyTorch's (see tests/NnSerializationTests.fs).
"""
import collections
import io
import json
import struct
import sys
import zipfile

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    header.pop("__metadata__", None)
    data = raw[8 + length:]
    out = collections.OrderedDict()
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = DTYPES[entry["dtype"]]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(entry["shape"])
    return out


def check_zip(path):
    with zipfile.ZipFile(path) as z, open(path, "rb") as f:
        names = z.namelist()
        if not names or not names[0].endswith("/data.pkl"):
            fail(f"the first entry is {names[:1]}, not <archive>/data.pkl")
        for info in z.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                fail(f"{info.filename} is compressed")
            f.seek(info.header_offset)
            local = f.read(30)
            name_length, extra_length = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_length + extra_length
            if start % 64 != 0:
                fail(f"{info.filename} data starts at {start}, not 64-byte aligned")
        prefix = names[0][: -len("data.pkl")]
        if z.read(prefix + "version").strip() != b"3":
            fail("version record is not 3")
        print(f"ok zip: {len(names)} entries, stored, data 64-byte aligned, version 3, archive '{prefix}'")


def main():
    if len(sys.argv) not in (2, 3):
        fail(__doc__)
    path = sys.argv[1]
    check_zip(path)
    state = torch.load(path, weights_only=True)
    if type(state) is not collections.OrderedDict:
        fail(f"torch.load returned {type(state).__name__}, not OrderedDict")
    for name, t in state.items():
        if not isinstance(t, torch.Tensor) or not t.is_contiguous() or t.device.type != "cpu":
            fail(f"{name} is not a contiguous CPU tensor")
    print(f"ok torch.load(weights_only=True): OrderedDict of {len(state)} tensors, dtypes "
          f"{sorted({str(t.dtype) for t in state.values()})}")

    buffer = io.BytesIO()
    torch.save(state, buffer)
    again = torch.load(io.BytesIO(buffer.getvalue()))
    if list(again) != list(state) or not all(torch.equal(again[k], state[k]) for k in state):
        fail("torch.save of the loaded dict does not load back equal")
    print("ok torch.save of it loads back equal")

    if len(sys.argv) == 3:
        reference = read_safetensors(sys.argv[2])
        if list(reference) != list(state):
            fail(f"keys differ from {sys.argv[2]}: {list(reference)[:5]} vs {list(state)[:5]}")
        for name, t in state.items():
            r = reference[name]
            if t.dtype != r.dtype or t.shape != r.shape or not torch.equal(t, r):
                fail(f"{name}: {t.dtype} {tuple(t.shape)} differs from the safetensors {r.dtype} {tuple(r.shape)}")
        print(f"ok every tensor equals {sys.argv[2]} (dtype, shape, values)")
    print("OK")


if __name__ == "__main__":
    main()
