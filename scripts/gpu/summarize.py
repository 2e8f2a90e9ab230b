#!/usr/bin/env python3
"""Summarises one results folder of scripts/gpu/run-gpu.sh into summary.json: the starvation test per sequence
length (fed against ceiling, data wait), inference fed against ceiling, the loader's scaling curve, and TorchSharp on
CUDA against PyTorch. Standard library only.

    python3 scripts/gpu/summarize.py docs/gpu/results/2026-12-04-run2 > docs/gpu/results/2026-12-04-run2/summary.json
"""
import json
import os
import sys


def load(folder, name):
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read().strip()
    return json.loads(text.splitlines()[-1]) if name.endswith(".json") and text.startswith("{\"") else json.loads(text)


def main():
    folder = sys.argv[1]
    out = {"folder": folder}
    machine = os.path.join(folder, "machine.txt")
    if os.path.exists(machine):
        out["machine"] = open(machine).read().strip().splitlines()
    starvation = []
    for seq in (128, 512):
        fed, ceiling = load(folder, f"fed-{seq}.json"), load(folder, f"ceiling-{seq}.json")
        if fed and ceiling:
            starvation.append({
                "device": fed["device"], "seq_len": seq, "batch_shape": fed["batch_shape"], "precision": fed["precision"],
                "fed_steps_per_second": fed["steps_per_second"], "ceiling_steps_per_second": ceiling["steps_per_second"],
                "fed_over_ceiling": round(fed["steps_per_second"] / ceiling["steps_per_second"], 4),
                "data_wait_fraction": fed["data_wait_fraction"], "host_wait_fraction": fed["host_wait_fraction"],
                "fed_tokens_per_second": fed["tokens_per_second"], "ceiling_tokens_per_second": ceiling["tokens_per_second"],
            })
    if starvation:
        out["starvation"] = starvation
    fed, ceiling = load(folder, "infer-fed.json"), load(folder, "infer-ceiling.json")
    if fed and ceiling:
        out["inference"] = {
            "device": fed["device"], "documents": fed["documents"], "distinct_documents": fed["distinct_documents"],
            "fed_documents_per_second": fed["documents_per_second"], "ceiling_documents_per_second": ceiling["documents_per_second"],
            "fed_tokens_per_second": fed["tokens_per_second"], "ceiling_tokens_per_second": ceiling["tokens_per_second"],
            "fed_over_ceiling": round(fed["documents_per_second"] / ceiling["documents_per_second"], 4),
            "data_wait_fraction": fed["data_wait_fraction"], "gpu_idle_fraction": fed["gpu_idle_fraction"],
            "padding_fraction": fed["padding_fraction"],
        }
    scaling = []
    for w in (1, 2, 4, 8, 16):
        d = load(folder, f"bench-w{w}.json")
        if d:
            scaling.append({"workers": w, "tokens_per_second": round(d["pipeline_tokens_per_second"]),
                            "tokenizer_ceiling_tokens_per_second": round(d["tokenizer_ceiling_tokens_per_second"]),
                            "efficiency": round(d["efficiency"], 3), "cores_busy": round(d["cores_busy"], 2),
                            "bottleneck_stage": d.get("bottleneck_stage")})
    if scaling:
        out["loader_scaling"] = scaling
    ts, pt = load(folder, "torchsharp-cuda.json"), load(folder, "pytorch-fp32-128x64.json")
    if ts and pt:
        device = next(s for s in ts["stages"] if s["name"] == "device")
        ts_steps = ts["steps"] / device["busy_seconds"]
        out["torchsharp"] = {
            "outcome": ts["outcome"], "steps": ts["steps"], "device_busy_seconds": round(device["busy_seconds"], 3),
            "torchsharp_steps_per_second": round(ts_steps, 3), "pytorch_fp32_steps_per_second": pt["steps_per_second"],
            "torchsharp_over_pytorch": round(ts_steps / pt["steps_per_second"], 4),
            "torchsharp_tokens_per_second": round(ts["tokens"] / device["busy_seconds"]),
            "pytorch_fp32_tokens_per_second": pt["tokens_per_second"],
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
