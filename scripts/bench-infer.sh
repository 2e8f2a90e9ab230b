#!/usr/bin/env bash
# Inference throughput, fixed against length-sorted batching, on the shared corpora: trains two small Made-With-ML
# classifiers once (a tiny transformer at --seq-len 128 and at 512; kept in $BENCH_INFER_DIR), then runs
# `streamloader infer` over each corpus with --batching fixed and --batching sorted, one after the other, and prints
# one markdown row per (model, corpus): documents per second in the model and end to end, padding, and the ratios.
# Usage: scripts/bench-infer.sh   (after dotnet build -c Release; needs ../shared/data and python3)
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data
cli=(dotnet "$PWD/src/Cli/bin/Release/net10.0/streamloader.dll")
work=${BENCH_INFER_DIR:-/tmp/streamloader-bench-infer}
mkdir -p "$work"
vocab=$data/tokenizers/bert-base-uncased-vocab.txt
csv=$data/labelled/made-with-ml/dataset.csv

train() { # $1 = name, $2 = seq-len, $3 = max steps
    [ -f "$work/$1/checkpoint.json" ] && return
    "${cli[@]}" --task classify --all --source "$csv" --text-column title,description --label-column tag --vocab "$vocab" \
        --model tiny --seq-len "$2" --batch-size 16 --epochs 5 --max-steps "$3" --eval-split 0 --checkpoint "$work/$1" --progress none > /dev/null 2>&1
}
train tiny128 128 240
train tiny512 512 60

run() { # $1 = model, $2 = batching, $3.. = source arguments; prints the summary's figures
    local out="$work/out-$1-$2.jsonl"
    rm -f "$out" "$out.done"; rm -rf "$out.work"
    "${cli[@]}" infer --checkpoint "$work/$1" "${@:3}" --output "$out" --batching "$2" --compare-fixed 0 --progress none \
        --summary-json "$work/summary.json" > /dev/null 2>&1
    python3 - "$work/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); w = s["inference"]["written"]
print(s["inference"]["documents"], w["documents_per_second"], s["documents_per_second"], w["padding_fraction"], w["seconds"], s["wall_seconds"])
PY
}

echo "| model | corpus | documents | fixed: docs/s in the model (end to end) | sorted: docs/s in the model (end to end) | padding fixed → sorted | speed-up in the model (end to end) |"
echo "|---|---|---:|---:|---:|---:|---:|"
for model in tiny128 tiny512; do
    for corpus in made-with-ml goemotions-dev python-docs wikipedia; do
        case $corpus in
            made-with-ml) args=(--source "$csv");;
            goemotions-dev) args=(--source "$data/labelled/goemotions/dev.tsv" --columns text,labels,id --text-column text);;
            python-docs) args=(--source "$data/text/python3.11-doc-3.11.2-rst.jsonl.gz" --text-column text);;
            wikipedia) args=(--source "$data/wiki/enwiki-sample-cirrussearch-content.json.gz" --text-column text);;
        esac
        read -r n fm fe fp fs fw < <(run "$model" fixed "${args[@]}")
        read -r _ sm se sp ss sw < <(run "$model" sorted "${args[@]}")
        python3 -c "import sys; n,fm,fe,fp,sm,se,sp=map(float,sys.argv[3:]); print(f'| {sys.argv[1]} | {sys.argv[2]} | {int(n):,} | {fm:,.0f} ({fe:,.0f}) | {sm:,.0f} ({se:,.0f}) | {fp:.1%} → {sp:.1%} | {sm/fm:.2f}x ({se/fe:.2f}x) |')" \
            "$model" "$corpus" "$n" "$fm" "$fe" "$fp" "$sm" "$se" "$sp"
    done
done
