#!/usr/bin/env python3
"""BERT-base MLM in PyTorch on one GPU, fed either by StreamLoader frames on stdin or by batches built in GPU memory
beforehand (the ceiling a loader can at best reach). Prints one JSON line with throughput and data-wait figures.

    streamloader --role loader --out - --task mlm --source corpus.jsonl.gz --vocab vocab.txt \
        --seq-len 128 --batch-size 64 --epochs 0 | python3 train_bert_pipe.py --source pipe --seq-len 128 --batch-size 64
    python3 train_bert_pipe.py --source synthetic --seq-len 128 --batch-size 64

Data wait is measured two ways: host seconds blocked waiting for the next batch, and the share of steps at which the
GPU had already finished all queued work when the batch arrived (it sat idle waiting for data).
"""
import argparse
import json
import os
import queue
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from read_frames import frames, to_torch  # noqa: E402

import torch  # noqa: E402


def build_model(vocab_size, seq_len):
    from transformers import BertConfig, BertForMaskedLM
    config = BertConfig(vocab_size=vocab_size, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                        intermediate_size=3072, max_position_embeddings=max(512, seq_len))
    config._attn_implementation = "sdpa"
    return BertForMaskedLM(config)


def pipe_batches(stream, device, prefetch):
    """Frames from a pipe, parsed and pinned on a reader thread, copied to the GPU once per batch."""
    q = queue.Queue(maxsize=prefetch)

    def reader():
        try:
            for header, meta, data in frames(stream):
                tensors = {k: v.pin_memory() for k, v in to_torch(header, data).items()}
                q.put((tensors, int(meta.get("tokens", 0))))
            q.put(None)
        except BaseException as e:  # surfaced on the training thread
            q.put(e)

    threading.Thread(target=reader, daemon=True).start()
    while True:
        item = q.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        tensors, tokens = item
        yield {k: v.to(device, non_blocking=True) for k, v in tensors.items()}, tokens


def synthetic_batches(count, batch, seq_len, vocab_size, device):
    """Batches built once in GPU memory with the same shapes and a 15% masking pattern: no loader at all."""
    g = torch.Generator(device=device).manual_seed(0)
    built = []
    for _ in range(count):
        ids = torch.randint(1000, vocab_size, (batch, seq_len), device=device, generator=g)
        chosen = torch.rand((batch, seq_len), device=device, generator=g) < 0.15
        labels = torch.where(chosen, ids, torch.full_like(ids, -100))
        built.append(({"input_ids": ids.masked_fill(chosen, 103), "attention_mask": torch.ones_like(ids), "labels": labels}, batch * seq_len))
    while True:
        yield from built


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", choices=["pipe", "synthetic"], required=True)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--vocab-size", type=int, default=30522)
    p.add_argument("--steps", type=int, default=300, help="timed steps")
    p.add_argument("--warmup", type=int, default=30, help="untimed steps first")
    p.add_argument("--prefetch", type=int, default=8, help="batches parsed ahead on the reader thread")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    args = p.parse_args()

    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    model = build_model(args.vocab_size, args.seq_len).to(device)
    if args.compile:
        model = torch.compile(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    batches = (pipe_batches(sys.stdin.buffer, device, args.prefetch) if args.source == "pipe"
               else synthetic_batches(64, args.batch_size, args.seq_len, args.vocab_size, device))

    stream = torch.cuda.current_stream()
    wait = 0.0
    idle_steps = 0
    tokens = 0
    losses = []
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            torch.cuda.synchronize()
            start = time.perf_counter()
            wait, idle_steps, tokens = 0.0, 0, 0
        t0 = time.perf_counter()
        batch, n = next(batches)
        waited = time.perf_counter() - t0
        gpu_idle = stream.query()  # True: every queued kernel had finished, the GPU was waiting for this batch
        wait += waited
        idle_steps += int(gpu_idle and waited > 1e-4)
        tokens += n
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step % 50 == 0:
            losses.append(round(out.loss.item(), 4))
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    print(json.dumps({
        "source": args.source, "seq_len": args.seq_len, "batch_size": args.batch_size, "steps": args.steps,
        "seconds": round(elapsed, 3), "steps_per_second": round(args.steps / elapsed, 3),
        "tokens_per_second": round(tokens / elapsed), "sequences_per_second": round(args.steps * args.batch_size / elapsed, 1),
        "host_wait_fraction": round(wait / elapsed, 4), "gpu_idle_step_fraction": round(idle_steps / args.steps, 4),
        "losses": losses, "gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
    }), flush=True)


if __name__ == "__main__":
    main()
