#!/usr/bin/env python3
"""A BERT-base classifier (26 labels, as NeMo Curator's domain classifier; random weights) run over a corpus in PyTorch
(bf16 autocast, inference mode), fed either by StreamLoader's length-sorted inference batches on stdin or by the same
batches held in GPU memory beforehand (the ceiling). Prints one JSON line: documents/s, tokens/s, the GPU's wait for
data, and a check that every document got exactly one prediction.

    streamloader infer --role loader --out - --vocab vocab.txt --seq-len 512 --source corpus.jsonl \\
        | python3 infer_bert_pipe.py --source pipe
    streamloader infer --role loader --out corpus.frames ...; python3 infer_bert_pipe.py --source resident --frames corpus.frames
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert  # noqa: E402
from feed import Gaps, pipe_batches, resident_batches, timed_next  # noqa: E402

import torch  # noqa: E402


def run(model, batches, device):
    """Classifies every batch; returns (seconds, documents, tokens, padded tokens, gaps, predictions)."""
    gaps = Gaps(device)
    ordinals, labels = [], []
    documents = tokens = padded = 0
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    batches = iter(batches)
    while True:
        try:
            (batch, rows, n_tokens), waited = timed_next(batches)
        except StopIteration:
            break
        gaps.batch_ready(waited)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = model(batch["input_ids"], batch["attention_mask"])
        ordinals.append(batch["source_part"] * (1 << 40) + batch["source_ordinal"])
        labels.append(logits.argmax(-1))
        gaps.step_end()
        documents += rows
        tokens += n_tokens
        padded += batch["input_ids"].numel()
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return elapsed, documents, tokens, padded, gaps, torch.cat(ordinals), torch.cat(labels)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", choices=["pipe", "resident"], required=True)
    p.add_argument("--frames", help="resident: the frame file whose batches are held in GPU memory")
    p.add_argument("--vocab-size", type=int, default=30522)
    p.add_argument("--labels", type=int, default=26)
    p.add_argument("--prefetch", type=int, default=16)
    p.add_argument("--model", choices=["base", "tiny"], default="base")
    p.add_argument("--device", default="cuda")
    args = p.parse_args()

    device = torch.device(args.device)
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = True
    model = getattr(bert, args.model)(vocab_size=args.vocab_size, labels=args.labels).to(device).eval()
    with torch.inference_mode():
        for shape in [(64, 512), (256, 128), (1024, 32)]:  # warm the kernels up before any clock starts
            ids = torch.ones(shape, dtype=torch.long, device=device)
            with torch.autocast(device.type, dtype=torch.bfloat16):
                model(ids, ids)
        if args.source == "pipe":
            seconds, documents, tokens, padded, gaps, ordinals, labels = run(model, pipe_batches(sys.stdin.buffer, device, args.prefetch), device)
        else:
            held = resident_batches(args.frames, device)
            run(model, held, device)  # a first pass warms every batch shape
            seconds, documents, tokens, padded, gaps, ordinals, labels = run(model, held, device)
    unique = int(torch.unique(ordinals).numel())
    print(json.dumps({
        "source": args.source, "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "model": args.model,
        "documents": documents, "distinct_documents": unique, "tokens": tokens, "padded_tokens": padded, "seconds": round(seconds, 3),
        "documents_per_second": round(documents / seconds, 1), "tokens_per_second": round(tokens / seconds),
        "padding_fraction": round(1 - tokens / max(padded, 1), 4), **gaps.report(seconds),
        "label_histogram_head": torch.bincount(labels, minlength=args.labels)[:5].tolist(), "torch": torch.__version__,
    }), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
