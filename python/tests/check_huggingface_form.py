#!/usr/bin/env python3
"""Checks streamloader_client.huggingface against stock PyTorch modules on real batches from a loader.

    python check_huggingface_form.py tcp://127.0.0.1:5555 BATCHES

For each batch: the position_ids it computes equal the loader's; the unshifted causal labels, shifted the way a
Hugging Face LM head shifts them, score exactly the predictions StreamLoader's labels score (cross-entropy on the same
random logits); and a stock torch.nn.MultiheadAttention given the 4-D mask, and one given each document alone (the
segments cu_seq_lens names, in the flattened form), give the same outputs. Prints one JSON line of figures; exits
1 on the first difference.
"""
import json
import sys

import numpy as np
import torch

from streamloader_client import Client
from streamloader_client.huggingface import IGNORE_INDEX, for_huggingface


def fail(message):
    print(json.dumps({"error": message}))
    sys.exit(1)


def main():
    endpoint, wanted = sys.argv[1], int(sys.argv[2])
    torch.manual_seed(0)
    heads, width = 2, 16
    attention = torch.nn.MultiheadAttention(width, heads, batch_first=True).eval()
    figures = {"batches": 0, "documents": 0, "predictions": 0, "max_abs_diff": 0.0, "loss_diff": 0.0}
    with Client(endpoint, window=4) as client:
        for batch in client:
            task = batch["meta"]["task"]
            causal = task == "clm"
            four = for_huggingface(batch, attention="4d")
            flat = for_huggingface(batch, attention="flash")
            ids, mask, documents = batch["input_ids"], batch["attention_mask"], batch["document_ids"]
            rows, length = ids.shape
            if "position_ids" in batch and not np.array_equal(four["position_ids"][mask != 0], batch["position_ids"][mask != 0]):
                fail(f"batch {batch['meta']['sequence']}: position_ids differ from the loader's")
            if causal:
                # Hugging Face's LM loss shifts: logits[:, :-1] against labels[:, 1:]. StreamLoader's labels are already
                # the next token: logits[:, :-1] against labels[:, :-1]. Same predictions, same loss.
                vocab = int(batch["meta"]["vocab_size"])
                logits = torch.randn(rows, length, vocab)
                hf = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, vocab), torch.from_numpy(four["labels"][:, 1:]).reshape(-1), ignore_index=IGNORE_INDEX)
                ours = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, vocab), torch.from_numpy(batch["labels"][:, :-1]).reshape(-1), ignore_index=IGNORE_INDEX)
                figures["loss_diff"] = max(figures["loss_diff"], abs(float(hf - ours)))
                if not torch.allclose(hf, ours, atol=1e-6):
                    fail(f"batch {batch['meta']['sequence']}: loss {float(hf)} with the unshifted labels vs {float(ours)}")
                figures["predictions"] += int((four["labels"][:, 1:] != IGNORE_INDEX).sum())
            x = torch.randn(rows, length, width)
            additive = torch.from_numpy(four["attention_mask"][:, 0]).repeat_interleave(heads, dim=0)
            with torch.no_grad():
                packed, _ = attention(x, x, x, attn_mask=additive, need_weights=False)
                # The flattened form: each cu_seq_lens segment alone, in order, over the non-padding positions.
                xs = x[torch.from_numpy(mask != 0)]
                cu = flat["cu_seq_lens_q"]
                flat_out = torch.empty_like(xs)
                for a, b in zip(cu[:-1], cu[1:]):
                    segment = xs[a:b][None]
                    alone = torch.triu(torch.full((b - a, b - a), float("-inf")), diagonal=1) if causal else None
                    flat_out[a:b] = attention(segment, segment, segment, attn_mask=alone, need_weights=False)[0][0]
            if int(flat["max_length_q"]) != int(np.diff(cu).max()):
                fail("max_length_q is not the longest segment")
            if not np.array_equal(flat["input_ids"][0], ids[mask != 0]):
                fail("the flattened input_ids are not the batch's non-padding tokens in order")
            diff = float((packed[torch.from_numpy(mask != 0)] - flat_out).abs().max())
            figures["max_abs_diff"] = max(figures["max_abs_diff"], diff)
            if diff > 1e-5:
                fail(f"batch {batch['meta']['sequence']}: the 4-D mask gives outputs {diff} away from each document alone")
            figures["documents"] += len(cu) - 1
            figures["batches"] += 1
            if figures["batches"] == wanted:
                break
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
