#!/usr/bin/env python3
"""Runs `streamloader bench` several times per configuration, alternating them, and prints the median and best of
each run's efficiency (pipeline tokens/s over the tokenizer's own ceiling on the same documents), the provider's own
rate (those documents' tokens over its time to read them alone), the tokenizer's rate beside a reading provider as a
share of its rate alone, pipeline time and first-batch latency, and the allocation per batch outside the documents' text and the tokenizer
(`other_allocated_bytes_per_batch`). On a shared, noisy machine only figures measured side by side like this compare.

  scripts/bench-efficiency.py RUNS SOURCE 'name|extra bench args[|app]' ['name|extra bench args[|app]' ...]

A third field names another build of the app for that configuration, so two builds alternate in one loop.

The app is $STREAMLOADER (default: artifacts/streamloader-linux-x64/streamloader, from scripts/publish-selfcontained.sh).
Example:
  scripts/bench-efficiency.py 5 ../shared/data/text/python3.11-doc-3.11.2-rst.jsonl.gz \\
      'one pass, 1 worker|--workers 1' 'five passes, 1 worker|--workers 1 --epochs 5'
"""
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
app = os.environ.get("STREAMLOADER", os.path.join(root, "artifacts", "streamloader-linux-x64", "streamloader"))
vocab = os.path.join(root, "..", "shared", "data", "tokenizers", "bert-base-uncased-vocab.txt")

runs, source = int(sys.argv[1]), sys.argv[2]
configs = [(c.split("|") + [app])[:3] for c in sys.argv[3:]]
results = {name: [] for name, _, _ in configs}
with tempfile.TemporaryDirectory() as tmp:
    summary = os.path.join(tmp, "bench.json")
    for _ in range(runs):
        for name, extra, build in configs:
            cmd = shlex.split(build) + ["bench", "--source", source, "--vocab", vocab, "--progress", "none", "--summary-json", summary] + shlex.split(extra)
            done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if done.returncode != 0:
                sys.exit(f"{name}: exit {done.returncode}\n{done.stderr}")
            with open(summary) as f:
                s = json.load(f)
            results[name].append(s)

print("| configuration | efficiency (median, best) | pipeline tokens/s (median) | ceiling tokens/s (median) | provider alone tokens/s (median) | tokenizer beside the provider, of alone (median) | pipeline s (median) | first batch ms (median) | other allocation per batch (median) | bottleneck (most often) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
def beside(rows):
    """The tokenizer beside a reading provider as a share of its speed alone; '-' where no run measured it."""
    shares = [r["tokenizer_beside_provider_tokens_per_second"] / r["tokenizer_single_thread_tokens_per_second"]
              for r in rows if r.get("tokenizer_beside_provider_tokens_per_second") and r.get("tokenizer_single_thread_tokens_per_second")]
    return f"{statistics.median(shares):.2f}" if shares else "-"


for name, rows in results.items():
    eff = [r.get("efficiency") or 0 for r in rows]
    med = lambda key: statistics.median(r.get(key) or 0 for r in rows)
    bottleneck = max(set(r.get("bottleneck_stage") for r in rows), key=[r.get("bottleneck_stage") for r in rows].count)
    print(f"| {name} | {statistics.median(eff):.2f}, {max(eff):.2f} | {med('pipeline_tokens_per_second') / 1e6:.2f} M | "
          f"{med('tokenizer_ceiling_tokens_per_second') / 1e6:.2f} M | {med('provider_tokens_per_second') / 1e6:.2f} M | "
          f"{beside(rows)} | "
          f"{med('pipeline_seconds'):.3f} | {med('first_batch_seconds') * 1000:.0f} | "
          f"{med('other_allocated_bytes_per_batch'):,.0f} B | {bottleneck} |")
