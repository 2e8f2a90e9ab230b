#!/usr/bin/env python3
"""Reads every batch from a StreamLoader loader with the Python client and prints one JSON line per batch: its
sequence, metadata and each tensor's dtype, shape and SHA-256, so a test can compare them with what the loader sent.

    python3 examples/python/dump_batches.py tcp://127.0.0.1:5555 > batches.jsonl
    python3 examples/python/dump_batches.py tcp://127.0.0.1:5555 4 --server-key keys/loader.key --client-key keys/rank0.key_secret
"""
import hashlib
import json
import sys

try:
    from streamloader_client import Client
except ImportError:
    sys.exit("streamloader_client is not installed: pip install ./python (from the StreamLoader repository's root; "
             "--no-build-isolation where PyPI cannot be reached)")


def main():
    args = sys.argv[1:]
    keys = {}
    for option in ("--server-key", "--client-key"):
        if option in args:
            at = args.index(option)
            keys[option[2:].replace("-", "_")] = args[at + 1]
            del args[at:at + 2]
    endpoint = args[0]
    with Client(endpoint, window=int(args[1]) if len(args) > 1 else 4, **keys) as client:
        for batch in client:
            meta = batch.pop("meta")
            tensors = {name: {"dtype": str(array.dtype), "shape": list(array.shape), "sha256": hashlib.sha256(array.tobytes()).hexdigest()}
                       for name, array in sorted(batch.items())}
            print(json.dumps({"sequence": int(meta["sequence"]), "task": meta.get("task"), "tokens": int(meta.get("tokens", 0)), "tensors": tensors}), flush=True)
        print(json.dumps({"end": client.end_totals}), flush=True)


if __name__ == "__main__":
    main()
