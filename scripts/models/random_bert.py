#!/usr/bin/env python3
"""Writes a BERT model folder with random weights, as transformers names them: config.json, model.safetensors and,
with --vocab, vocab.txt. For benchmarks that need a checkpoint of a given size (the loading-memory benchmark in
docs/BENCHMARKS.md) without downloading one. numpy only.

usage: random_bert.py OUT_DIR [--layers 12] [--hidden 768] [--heads 12] [--vocab vocab.txt] [--dtype F32|F16] [--seed 1]
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--vocab")
    parser.add_argument("--vocab-size", type=int, default=30522)
    parser.add_argument("--dtype", choices=["F32", "F16"], default="F32")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    h, inter = args.hidden, args.hidden * 4
    shapes = {
        "embeddings.word_embeddings.weight": (args.vocab_size, h),
        "embeddings.position_embeddings.weight": (512, h),
        "embeddings.token_type_embeddings.weight": (2, h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
        "pooler.dense.weight": (h, h),
        "pooler.dense.bias": (h,),
    }
    for i in range(args.layers):
        p = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes[p + name + ".weight"] = (h, h)
            shapes[p + name + ".bias"] = (h,)
        shapes[p + "intermediate.dense.weight"] = (inter, h)
        shapes[p + "intermediate.dense.bias"] = (inter,)
        shapes[p + "output.dense.weight"] = (h, inter)
        shapes[p + "output.dense.bias"] = (h,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[p + norm + ".weight"] = (h,)
            shapes[p + norm + ".bias"] = (h,)
    dtype = np.float32 if args.dtype == "F32" else np.float16
    os.makedirs(args.out, exist_ok=True)
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name in sorted(shapes):
        size = int(np.prod(shapes[name])) * np.dtype(dtype).itemsize
        header[name] = {"dtype": args.dtype, "shape": list(shapes[name]), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    with open(os.path.join(args.out, "model.safetensors"), "wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        for name in sorted(shapes):
            value = rng.standard_normal(shapes[name], dtype=np.float32) * 0.02
            if name.endswith("LayerNorm.weight"):
                value = np.ones(shapes[name], dtype=np.float32)
            out.write(value.astype(dtype).tobytes())
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": args.vocab_size, "hidden_size": h,
        "num_hidden_layers": args.layers, "num_attention_heads": args.heads, "intermediate_size": inter,
        "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
    }
    with open(os.path.join(args.out, "config.json"), "w") as out:
        json.dump(config, out, indent=2)
    if args.vocab:
        shutil.copyfile(args.vocab, os.path.join(args.out, "vocab.txt"))
    print(f"{args.out}: {len(shapes)} tensors, {offset:,} bytes of {args.dtype}")


if __name__ == "__main__":
    main()
