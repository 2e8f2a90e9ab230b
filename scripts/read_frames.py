#!/usr/bin/env python3
"""Read StreamLoader tensor frames (safetensors layout) from a pipe, socket or file.

Standard library only for parsing; torch (or numpy) only to turn buffers into tensors.

    streamloader --role loader --out - --vocab vocab.txt | python3 scripts/read_frames.py
    python3 scripts/read_frames.py --in batches.frames --summary

Each frame: 8-byte little-endian header length N, N bytes of JSON (space padded), then the tensor bytes.
The stream ends with a frame whose __metadata__.stream is "end" (with the batch count) or "error".
"""
import argparse
import json
import struct
import sys

DTYPES = {  # safetensors dtype -> (struct format char, bytes per element)
    "BOOL": ("?", 1), "U8": ("B", 1), "I8": ("b", 1), "I16": ("h", 2), "U16": ("H", 2),
    "I32": ("i", 4), "U32": ("I", 4), "I64": ("q", 8), "U64": ("Q", 8),
    "F16": ("e", 2), "F32": ("f", 4), "F64": ("d", 8), "BF16": ("H", 2),
}


def read_exact(stream, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


MAX_HEADER = 64 << 20  # a frame's JSON header names tensors and metadata: megabytes at most


def _next_header(stream, count):
    """The next frame's (header, metadata, data size); None at the end frame; raises on a broken stream."""
    prefix = read_exact(stream, 8)
    if len(prefix) < 8:
        raise IOError(f"stream ended after {count} batches without an end frame")
    (n,) = struct.unpack("<Q", prefix)
    if n > MAX_HEADER:
        raise IOError(f"not a StreamLoader frame stream: after {count} batches, a header of {n} bytes was announced "
                      f"(at most {MAX_HEADER}); the stream begins {prefix!r}. Is something else writing to it?")
    header = json.loads(read_exact(stream, n))
    meta = header.pop("__metadata__", {})
    if meta.get("stream") == "end":
        if int(meta["batches"]) != count:
            raise IOError(f"sender reports {meta['batches']} batches, {count} arrived")
        return None
    if meta.get("stream") == "error":
        raise IOError("sender failed: " + meta.get("message", "?"))
    return header, meta, max((t["data_offsets"][1] for t in header.values()), default=0)


def frames(stream):
    """Yields (header dict, metadata dict, data bytes) for every batch; raises on a broken stream."""
    count = 0
    while (frame := _next_header(stream, count)) is not None:
        header, meta, size = frame
        data = read_exact(stream, size)
        if len(data) < size:
            raise IOError(f"stream ended inside batch {count}")
        count += 1
        yield header, meta, data


def to_lists(header, data):
    """Tensors as flat Python lists with their shapes, using struct only."""
    out = {}
    for name, t in header.items():
        fmt, width = DTYPES[t["dtype"]]
        start, end = t["data_offsets"]
        count = (end - start) // width
        out[name] = (t["shape"], list(struct.unpack_from("<%d%s" % (count, fmt), data, start)))
    return out


def to_torch(header, data):
    import torch
    names = {"BOOL": torch.bool, "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16, "I32": torch.int32,
             "I64": torch.int64, "F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64}
    buf = bytearray(data)
    return {name: torch.frombuffer(buf, dtype=names[t["dtype"]], count=(t["data_offsets"][1] - t["data_offsets"][0]) // DTYPES[t["dtype"]][1],
                                   offset=t["data_offsets"][0]).reshape(t["shape"]) for name, t in header.items()}


TORCH_DTYPES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64",
                "F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64"}


def device_batches(stream, device, ring=12):
    """Yields (metadata, {name: tensor on device}) for every batch, for a CUDA training or inference loop.

    Each frame's tensor bytes are read straight into one of `ring` pinned host buffers, reused in turn, and copied to
    the device without blocking: no per-batch copy into Python bytes, no per-batch pinned allocation. Allocating pinned
    memory takes the CUDA driver's lock, so a loop that pins every batch (`t.pin_memory()`) stalls the kernel launches
    of the model beside it; with batches of varying shapes (sorted inference batches) PyTorch's pinned-memory cache
    misses and that happens at nearly every batch. A buffer is refilled only after the event recorded behind its copy
    has completed, so keep fewer than `ring - 2` batches queued ahead of the model. On a CPU device, plain tensors.
    """
    import torch
    cuda = torch.device(device).type == "cuda"
    slots = [[None, None] for _ in range(ring)]  # [pinned uint8 buffer, event after its last copy]
    count = 0
    while (frame := _next_header(stream, count)) is not None:
        header, meta, size = frame
        slot = slots[count % ring]
        if slot[1] is not None:
            slot[1].synchronize()
        if slot[0] is None or slot[0].numel() < size:
            slot[0] = torch.empty(max(size, 1 << (max(size, 1) - 1).bit_length()), dtype=torch.uint8, pin_memory=cuda)
        view = memoryview(slot[0].numpy())[:size]
        filled = 0
        while filled < size:
            n = stream.readinto(view[filled:])
            if not n:
                raise IOError(f"stream ended inside batch {count}")
            filled += n
        tensors = {}
        for name, t in header.items():
            start, end = t["data_offsets"]
            dtype = getattr(torch, TORCH_DTYPES[t["dtype"]])
            try:
                raw = slot[0][start:end].view(dtype).reshape(t["shape"])
            except RuntimeError:  # an offset not a multiple of the element size: copy it out instead
                raw = torch.frombuffer(bytearray(view[start:end]), dtype=dtype).reshape(t["shape"])
            tensors[name] = raw.to(device, non_blocking=True) if cuda else raw.clone()
        if cuda:
            slot[1] = torch.cuda.Event()
            slot[1].record()
        count += 1
        yield meta, tensors


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in", dest="path", default="-", help="frame file, or - for stdin")
    parser.add_argument("--summary", action="store_true", help="print a JSON summary (batches, tokens, sums) and exit")
    args = parser.parse_args()
    stream = sys.stdin.buffer if args.path == "-" else open(args.path, "rb")
    batches = tokens = 0
    checksum = {}
    shapes = {}
    for header, meta, data in frames(stream):
        batches += 1
        tokens += int(meta.get("tokens", 0))
        for name, (shape, values) in to_lists(header, data).items():
            checksum[name] = checksum.get(name, 0) + sum(values)
            shapes[name] = shape
    print(json.dumps({"batches": batches, "tokens": tokens, "sums": checksum, "shapes": shapes}))


if __name__ == "__main__":
    main()
