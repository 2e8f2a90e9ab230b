#!/usr/bin/env python3
"""A minimal PyTorch training loop fed by StreamLoader, on one process or under torchrun (DDP, gloo on the CPU).

    streamloader --role loader --out tcp://*:5555 --task mlm --source docs.jsonl --vocab vocab.txt --expect-consumers 2
    torchrun --nproc_per_node 2 examples/python/train_mlm.py --endpoint tcp://127.0.0.1:5555

Every rank is one consumer of the loader: one loader shared by all ranks (each batch goes to one rank), or one
loader per rank (--endpoint 'tcp://127.0.0.1:{5555+rank}', each loader started with --rank r --world-size N). The
model is deliberately tiny (an embedding and a linear layer predicting each masked token): the point is the data path.
Ranks step together; when one has no batch left, all stop (a batch taken but not trained goes back to the loader,
which counts it `returned`).
"""
import argparse
import json
import os
import re
import sys

import torch
import torch.distributed as dist

try:
    from streamloader_client import Client
except ImportError:
    sys.exit("streamloader_client is not installed: pip install ./python (from the StreamLoader repository's root; "
             "--no-build-isolation where PyPI cannot be reached)")


def endpoint_for(template, rank):
    """'tcp://h:{5555+rank}' -> 'tcp://h:5556' on rank 1; '{rank}' alone is the rank."""
    return re.sub(r"\{(?:(\d+)\+)?rank\}", lambda m: str(int(m.group(1) or 0) + rank), template)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True, help="the loader's endpoint; '{5555+rank}' style braces give one loader per rank")
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: until the stream ends)")
    parser.add_argument("--window", type=int, default=4, help="batches of credit")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--report", help="write this rank's sequences and losses here as JSON ('{rank}' is replaced)")
    args = parser.parse_args()

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("gloo")
    torch.manual_seed(0)
    # Under DDP the ranks step together, so a rank must learn when it can get no more batches (the rest are with
    # other ranks) instead of waiting for the stream's end, which cannot come while another rank holds one.
    client = Client(endpoint_for(args.endpoint, rank), window=args.window, name=f"rank{rank}", stop_when_drained=world > 1)
    batches = iter(client)
    model = optimizer = None
    sequences, losses = [], []
    step = 0
    while args.steps == 0 or step < args.steps:
        try:
            batch = next(batches)
        except StopIteration:
            batch = None
        # Every rank must take part in every collective: stop together when any has no batch.
        have = torch.tensor([0 if batch is None else 1])
        if world > 1:
            dist.all_reduce(have, op=dist.ReduceOp.MIN)
        if int(have) == 0:
            if batch is not None:
                client.close(ack_last=False)  # taken, not trained: the loader may give it to another consumer
            break
        meta = batch["meta"]
        if model is None:
            vocab = int(meta["vocab_size"])
            model = torch.nn.Sequential(torch.nn.Embedding(vocab, 32), torch.nn.Linear(32, vocab))
            if world > 1:
                model = torch.nn.parallel.DistributedDataParallel(model)
            optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
        ids = torch.from_numpy(batch["input_ids"])
        labels = torch.from_numpy(batch["labels"])
        logits = model(ids)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        sequences.append(int(meta["sequence"]))
        losses.append(float(loss))
        step += 1
        if step % 10 == 0 or step == 1:
            print(f"rank {rank} step {step} batch {meta['sequence']} loss {float(loss):.4f}", flush=True)
    client.close()
    if args.report:
        with open(args.report.replace("{rank}", str(rank)), "w") as out:
            json.dump({"rank": rank, "world": world, "sequences": sequences, "losses": losses, "received": client.received}, out)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
