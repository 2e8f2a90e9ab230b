#!/usr/bin/env python3
"""A classification corpus of varied lengths for the inference measurement, cut from a JSON Lines corpus (the Python
documentation): its paragraphs are joined into documents whose lengths follow a log-normal law (median about 700
characters, a long tail, capped), as web pages and articles do. Several passes, each cut differently, make it as large
as asked. Standard library only.

    python3 make_corpus.py python3.11-doc-3.11.2-rst.jsonl.gz --passes 8 > corpus.jsonl
"""
import argparse
import gzip
import json
import random
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source")
    p.add_argument("--passes", type=int, default=8)
    p.add_argument("--median", type=float, default=700.0, help="median document length in characters")
    p.add_argument("--cap", type=int, default=8000, help="longest document in characters")
    args = p.parse_args()

    with gzip.open(args.source, "rt", encoding="utf-8") as f:
        paragraphs = [part.strip() for line in f for part in json.loads(line)["text"].split("\n\n") if part.strip()]
    out = sys.stdout
    count = 0
    for n in range(args.passes):
        rng = random.Random(n)
        i = 0
        while i < len(paragraphs):
            target = min(args.cap, int(rng.lognormvariate(0, 1.0) * args.median))
            text = paragraphs[i]
            i += 1
            while len(text) < target and i < len(paragraphs):
                text += "\n\n" + paragraphs[i]
                i += 1
            out.write(json.dumps({"id": f"p{n}-{count}", "text": text[: args.cap]}) + "\n")
            count += 1
    print(f"{count} documents from {len(paragraphs)} paragraphs, {args.passes} passes", file=sys.stderr)


if __name__ == "__main__":
    main()
