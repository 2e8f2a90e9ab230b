"""safetensors read and written with numpy alone (Debian has no python3-safetensors), for the reference scripts.

write(path, tensors, metadata) stores float32 tensors (torch tensors or numpy arrays) sorted by name, the header padded
to 8 bytes, through a temporary file. read(path) returns every tensor of a file as float32 torch tensors, from F32,
F16 or BF16 (what a model folder stores). override(argv, w) is the scripts' --weights FILE: the reference is computed
from the tensors of FILE (a folder StreamLoader exported, say) instead of random ones, with the same names and shapes.
"""
import json
import os
import struct
import sys

import numpy as np
import torch


def write(path, tensors, metadata=None):
    header = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        value = tensors[name]
        array = np.ascontiguousarray(value.detach().numpy() if isinstance(value, torch.Tensor) else value, dtype=np.float32)
        data = array.tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    partial = path + ".partial"
    with open(partial, "wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        for blob in blobs:
            out.write(blob)
    os.replace(partial, path)


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    start = 8 + length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = np.frombuffer(data[start + begin:start + end], dtype=np.uint8)
        dtype = info["dtype"]
        if dtype == "F32":
            array = raw.view(np.float32)
        elif dtype == "F16":
            array = raw.view(np.float16).astype(np.float32)
        elif dtype == "BF16":
            array = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            sys.exit(f"{path}: {name} is {dtype}; the reference scripts read F32, F16 and BF16")
        tensors[name] = torch.from_numpy(array.reshape(info["shape"]).copy())
    return tensors


def override(argv, w):
    """With --weights FILE in argv, replaces every tensor of w by FILE's (same names, same shapes); returns FILE or None."""
    if "--weights" not in argv:
        return None
    path = argv[argv.index("--weights") + 1]
    loaded = read(path)
    if sorted(loaded) != sorted(w):
        sys.exit(f"{path}: its tensors are not the reference model's: missing {sorted(set(w) - set(loaded))[:3]}, extra {sorted(set(loaded) - set(w))[:3]}")
    for name in w:
        if tuple(loaded[name].shape) != tuple(w[name].shape):
            sys.exit(f"{path}: {name} has shape {list(loaded[name].shape)}, the reference model's is {list(w[name].shape)}")
        w[name] = loaded[name]
    return path
