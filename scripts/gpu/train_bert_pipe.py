#!/usr/bin/env python3
"""BERT-base masked-LM training in PyTorch (bf16 autocast, fused AdamW), fed either by StreamLoader frames on stdin
or by the same loader's batches held in GPU memory beforehand (the ceiling a loader can at best reach). Prints one
JSON line: steps/s, tokens/s, and how much of the time the GPU waited for data.

    streamloader --role loader --out - --task mlm --source corpus.jsonl.gz --vocab vocab.txt --seq-len 128 \\
        --batch-size 256 --epochs 0 | python3 train_bert_pipe.py --source pipe --seq-len 128
    streamloader --role loader --out mlm.frames --task mlm ... --epochs 1
    python3 train_bert_pipe.py --source resident --frames mlm.frames --seq-len 128

Both runs take the same steps on batches of the same shapes, so steps/s compare directly; the ratio fed/ceiling is
what the loader costs the GPU.
"""
import argparse
import itertools
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert  # noqa: E402
from feed import Gaps, pipe_batches, resident_batches, timed_next  # noqa: E402

import torch  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", choices=["pipe", "resident"], required=True)
    p.add_argument("--frames", help="resident: the frame file whose batches are held in GPU memory and cycled")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--vocab-size", type=int, default=30522)
    p.add_argument("--steps", type=int, default=300, help="timed steps")
    p.add_argument("--warmup", type=int, default=30, help="untimed steps first")
    p.add_argument("--prefetch", type=int, default=8, help="batches parsed ahead on the reader thread")
    p.add_argument("--model", choices=["base", "tiny"], default="base")
    p.add_argument("--device", default="cuda")
    p.add_argument("--precision", choices=["bf16", "fp32"], default="bf16", help="bf16: autocast, as mixed-precision training runs; fp32: no autocast, no TF32, as TorchSharp trains by default")
    args = p.parse_args()

    device = torch.device(args.device)
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = args.precision == "bf16"  # fp32 is plain fp32, as TorchSharp's default
    model = getattr(bert, args.model)(vocab_size=args.vocab_size, max_positions=max(512, args.seq_len)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, **({"fused": True} if device.type == "cuda" else {}))
    if args.source == "pipe":
        batches = pipe_batches(sys.stdin.buffer, device, args.prefetch)
    else:
        held = resident_batches(args.frames, device)
        batches = itertools.cycle(held)

    gaps = Gaps(device)
    tokens = rows = 0
    losses = []
    start = time.perf_counter()
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            gaps = Gaps(device)
            tokens = rows = 0
        (batch, n_rows, n_tokens), waited = timed_next(batches)
        gaps.batch_ready(waited)
        tokens += n_tokens
        rows += n_rows
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            loss = model(batch["input_ids"], batch["attention_mask"], batch["labels"])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        gaps.step_end()
        if step % 50 == 0:
            losses.append(loss.detach())
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    shape = list(batch["input_ids"].shape)
    print(json.dumps({
        "source": args.source, "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "seq_len": args.seq_len, "batch_shape": shape, "model": args.model, "precision": args.precision, "steps": args.steps, "seconds": round(elapsed, 3),
        "steps_per_second": round(args.steps / elapsed, 3), "tokens_per_second": round(tokens / elapsed),
        "sequences_per_second": round(rows / elapsed, 1), **gaps.report(elapsed),
        "losses": [round(float(x), 4) for x in losses], "torch": torch.__version__,
    }), flush=True)
    os._exit(0)  # the pipe's loader is stopped by the closed pipe; do not wait for the reader thread


if __name__ == "__main__":
    main()
