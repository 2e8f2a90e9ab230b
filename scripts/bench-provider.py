#!/usr/bin/env python3
"""What the provider can feed: generates corpora of about 400 MB from ../shared/data (the Python docs as JSON Lines,
plain, as one gzip file and as 16 gzip files; the CirrusSearch sample as a plain dump), runs `streamloader bench` on
each for every configuration given, alternating them, and prints the medians of the serial stage's tokens/s, the
tokenizer's per-thread tokens/s, the threads the serial stage can feed, the pipeline's fraction of the CPU-bound
limit L, first-batch latency and peak RSS. Only figures measured side by side like this compare.

  scripts/bench-provider.py RUNS CORPUS[,CORPUS...] 'name|extra bench args[|app]' ['name|extra args[|app]' ...]

CORPUS is jsonl, jsonl.gz, jsonl.gz.16, cirrus, or jsonl.4g (4 GB, for the memory check). Corpora are made once
under $BENCH_CORPUS (default /tmp/streamloader-bench). The app is $STREAMLOADER (default: this checkout's Release
build, src/Cli/bin/Release/net10.0/streamloader); a third field names another build for that configuration.
Example:
  scripts/bench-provider.py 3 jsonl,cirrus,jsonl.gz,jsonl.gz.16 'workers 2|--workers 2' 'workers 1|--workers 1'
"""
import gzip
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
shared = os.path.join(root, "..", "shared", "data")
app = os.environ.get("STREAMLOADER", os.path.join(root, "src", "Cli", "bin", "Release", "net10.0", "streamloader"))
vocab = os.path.join(shared, "tokenizers", "bert-base-uncased-vocab.txt")
work = os.environ.get("BENCH_CORPUS", "/tmp/streamloader-bench")


def python_docs(path, target):
    """The Python docs repeated with fresh ids until `target` bytes."""
    docs = [json.loads(line) for line in gzip.open(os.path.join(shared, "text", "python3.11-doc-3.11.2-rst.jsonl.gz"), "rt")]
    written, repeat = 0, 0
    with open(path, "w") as f:
        while written < target:
            for d in docs:
                line = json.dumps({"id": f"{repeat}-{d['id']}", "text": d["text"]}) + "\n"
                f.write(line)
                written += len(line.encode())
            repeat += 1


def corpus(name):
    os.makedirs(work, exist_ok=True)
    jsonl = os.path.join(work, "py400.jsonl")
    if name in ("jsonl", "jsonl.gz", "jsonl.gz.16") and not os.path.exists(jsonl):
        python_docs(jsonl, 400_000_000)
    if name == "jsonl":
        return jsonl
    if name == "jsonl.gz":
        out = jsonl + ".gz"
        if not os.path.exists(out):
            subprocess.run(["gzip", "-k", "-6", jsonl], check=True)
        return out
    if name == "jsonl.gz.16":
        folder = os.path.join(work, "py16")
        if not os.path.exists(folder):
            os.makedirs(folder + ".tmp", exist_ok=True)
            subprocess.run(["split", "-n", "l/16", "-d", "--additional-suffix=.jsonl", jsonl, os.path.join(folder + ".tmp", "part-")], check=True)
            subprocess.run("gzip " + os.path.join(folder + ".tmp", "*.jsonl"), shell=True, check=True)
            os.rename(folder + ".tmp", folder)
        return folder
    if name == "jsonl.4g":
        out = os.path.join(work, "py4000.jsonl")
        if not os.path.exists(out):
            python_docs(out, 4_000_000_000)
        return out
    if name == "cirrus":
        out = os.path.join(work, "cirrus400.json")
        if not os.path.exists(out):
            lines = gzip.open(os.path.join(shared, "wiki", "enwiki-sample-cirrussearch-content.json.gz"), "rt").read().splitlines()
            written, repeat = 0, 0
            with open(out, "w") as f:
                while written < 400_000_000:
                    for i in range(0, len(lines), 2):
                        action = json.loads(lines[i])
                        action["index"]["_id"] = f"{repeat}-{action['index'].get('_id')}"
                        pair = json.dumps(action) + "\n" + lines[i + 1] + "\n"
                        f.write(pair)
                        written += len(pair.encode())
                    repeat += 1
        return out
    sys.exit(f"unknown corpus {name}")


runs, corpora = int(sys.argv[1]), sys.argv[2].split(",")
configs = [(c.split("|") + [app])[:3] for c in sys.argv[3:]]
print("| corpus | configuration | serial stage tokens/s | tokenizer tokens/s per thread | threads fed | provider alone (1 thread) tokens/s | pipeline tokens/s | L | fraction of L (range) | of the one-thread tokenizer (range) | of the tokenizer beside the provider (range) | first batch ms | peak RSS MB |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
with tempfile.TemporaryDirectory() as tmp:
    summary = os.path.join(tmp, "bench.json")
    for name in corpora:
        source = corpus(name)
        results = {c[0]: [] for c in configs}
        for _ in range(runs):
            for label, extra, build in configs:
                cmd = shlex.split(build) + ["bench", "--source", source, "--vocab", vocab, "--progress", "none", "--summary-json", summary] + shlex.split(extra)
                done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if done.returncode != 0:
                    sys.exit(f"{label}: exit {done.returncode}\n{done.stderr}")
                with open(summary) as f:
                    results[label].append(json.load(f))
        for label, rows in results.items():
            med = lambda key: statistics.median((r.get(key) or 0) for r in rows)

            def ratio(over, one_worker=False):
                """The pipeline's tokens/s over another rate of the same run: median, with the runs' range (each run is
                one side-by-side measurement; on a noisy machine the range says how far one run can be trusted).
                A one-thread rate is the pipeline's measure only with one worker."""
                values = [r["pipeline_tokens_per_second"] / r[over] for r in rows
                          if r.get(over) and (not one_worker or r.get("batcher", {}).get("workers") == 1)]
                if not values:
                    return "–"
                return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

            print(f"| {name} | {label} | {med('provider_serial_tokens_per_second') / 1e6:.1f} M | {med('tokenizer_single_thread_tokens_per_second') / 1e6:.1f} M | "
                  f"{med('tokenizer_threads_fed'):.1f} | {med('provider_tokens_per_second') / 1e6:.1f} M | {med('pipeline_tokens_per_second') / 1e6:.1f} M | "
                  f"{med('cpu_bound_limit_tokens_per_second') / 1e6:.1f} M | {ratio('cpu_bound_limit_tokens_per_second')} | "
                  f"{ratio('tokenizer_single_thread_tokens_per_second', True)} | {ratio('tokenizer_beside_provider_tokens_per_second', True)} | "
                  f"{med('first_batch_seconds') * 1000:.0f} | {med('peak_rss_bytes') / 1e6:.0f} |")
