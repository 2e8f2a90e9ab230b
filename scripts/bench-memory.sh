#!/usr/bin/env bash
# Peak memory of `streamloader scan` over generated JSON Lines, zstd-compressed and streamed from a pipe-free file,
# at two sizes (default 100 MB and 2 GB decompressed): streaming means the peak RSS does not grow with the input.
# Usage: scripts/bench-memory.sh [small_mb] [large_mb]   (needs zstd and /usr/bin/time; builds nothing)
# COMMAND=bench measures the whole loader instead (provider, tokenizer workers, MLM batches; no model), with the
# BERT vocabulary from ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-100}
large=${2:-2000}
cli=(dotnet src/Cli/bin/Release/net10.0/streamloader.dll)
command=${COMMAND:-scan}
extra=()
if [ "$command" = bench ]; then
    extra=(--vocab ../shared/data/tokenizers/bert-base-uncased-vocab.txt --ceiling false)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

generate() { # $1 = decompressed MB; documents of 2-8 KB of varied words, one id each
    python3 - "$1" <<'PY' | zstd -q -3 -T2 -o "$work/gen-$1.jsonl.zst"
import json, random, sys
target = int(sys.argv[1]) * 1_000_000
rng = random.Random(1)
words = [''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rng.randint(2, 9))) for _ in range(5000)]
written = 0
i = 0
out = sys.stdout
while written < target:
    text = ' '.join(rng.choice(words) for _ in range(rng.randint(300, 1300)))
    line = json.dumps({"id": str(i), "text": text}) + "\n"
    out.write(line)
    written += len(line)
    i += 1
PY
}

for mb in "$small" "$large"; do
    generate "$mb"
    compressed=$(stat -c %s "$work/gen-$mb.jsonl.zst")
    /usr/bin/time -f "%M" -o "$work/rss-$mb" "${cli[@]}" "$command" --source "$work/gen-$mb.jsonl.zst" "${extra[@]}" --progress none --summary-json "$work/scan-$mb.json" > /dev/null
    python3 - "$mb" "$compressed" "$work/rss-$mb" "$work/scan-$mb.json" <<'PY'
import json, sys
mb, compressed, rss_file, scan = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.load(open(sys.argv[4]))
rss_kb = int(open(rss_file).read().split()[-1])
if 'bytes_read' in scan:
    rate = f"{scan['bytes_read']/1e6:,.0f} MB read at {scan['megabytes_per_second']:.0f} MB/s"
else:
    rate = f"{scan['tokens']:,} tokens in {scan['batches']:,} batches at {scan['pipeline_tokens_per_second']/1e6:.1f} M tokens/s"
print(f"{mb:>6} MB decompressed ({compressed/1e6:.1f} MB zstd): {scan['documents']:,} documents, {rate}, peak RSS {rss_kb/1024:.0f} MiB")
PY
done
