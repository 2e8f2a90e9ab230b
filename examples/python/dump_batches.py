#!/usr/bin/env python3
"""Reads every batch from a StreamLoader loader with the Python client and prints one JSON line per batch: its
sequence, metadata and each tensor's dtype, shape and SHA-256, so a test can compare them with what the loader sent.

    python3 examples/python/dump_batches.py tcp://127.0.0.1:5555 > batches.jsonl
"""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from streamloader_client import Client  # noqa: E402


def main():
    endpoint = sys.argv[1]
    with Client(endpoint, window=int(sys.argv[2]) if len(sys.argv) > 2 else 4) as client:
        for batch in client:
            meta = batch.pop("meta")
            tensors = {name: {"dtype": str(array.dtype), "shape": list(array.shape), "sha256": hashlib.sha256(array.tobytes()).hexdigest()}
                       for name, array in sorted(batch.items())}
            print(json.dumps({"sequence": int(meta["sequence"]), "task": meta.get("task"), "tokens": int(meta.get("tokens", 0)), "tensors": tensors}), flush=True)
        print(json.dumps({"end": client.end_totals}), flush=True)


if __name__ == "__main__":
    main()
