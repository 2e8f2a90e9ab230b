#!/usr/bin/env bash
# The issue-3 measurements, run on the lent GPU machine from the repository root with .carry/ present
# (made here by scripts/gpu/prepare-carry.sh). Writes JSON under $OUT (the device tool's output folder) or ./gpu-results.
#
#   part=doctor   TorchSharp against the machine's own libtorch (PyTorch's torch/lib): what loads, what symbol is missing
#   part=scaling  loader tokens/s for 1, 2, 4, 8, 16 workers (MLM, WordPiece, no model)
#   part=starve   BERT-base MLM in PyTorch, bf16: pre-built GPU batches (ceiling) vs StreamLoader over a pipe, seq 128 and 512
#   part=torchsharp  the same model shape trained through TorchSharp on CUDA, if doctor passed
#
# Each part fits in one 10-minute device call: scripts/gpu/run-h100.sh doctor scaling ; ... starve ; ... torchsharp
set -uo pipefail
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
[ -x /tmp/streamloader-linux-x64/streamloader ] || tar -C /tmp -xzf .carry/streamloader-linux-x64.tar.gz
SL=/tmp/streamloader-linux-x64/streamloader
CORPUS=.carry/python3.11-doc-3.11.2-rst.jsonl.gz
VOCAB=.carry/bert-base-uncased-vocab.txt
TORCHLIB=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)
export PYTHONUNBUFFERED=1

for part in "$@"; do
  case "$part" in
    doctor)
      nvidia-smi -L | tee "$OUT/gpu.txt"
      nproc >> "$OUT/gpu.txt"
      python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' | tee -a "$OUT/gpu.txt"
      "$SL" doctor --libtorch "$TORCHLIB" --json "$OUT/doctor.json" 2>&1 | tee "$OUT/doctor.txt"
      ;;
    scaling)
      for w in 1 2 4 8 16; do
        "$SL" bench --task mlm --source "$CORPUS" --vocab "$VOCAB" --workers "$w" --epochs 6 --shuffle-buffer 0 \
          --seq-len 128 --batch-size 64 --queue 32 --progress none --summary-json "$OUT/bench-w$w.json" > /dev/null 2>&1
        python3 -c "import json,sys; d=json.load(open('$OUT/bench-w$w.json')); print('workers $w', d['outcome'], round(d['tokens_per_second']/1e6, 2), 'M tokens/s')"
      done
      ;;
    starve)
      for seq in 128 512; do
        bs=$([ "$seq" = 128 ] && echo 256 || echo 64)
        python3 scripts/gpu/train_bert_pipe.py --source synthetic --seq-len "$seq" --batch-size "$bs" | tee "$OUT/synthetic-$seq.json"
        "$SL" --role loader --out - --task mlm --source "$CORPUS" --vocab "$VOCAB" --seq-len "$seq" --batch-size "$bs" \
          --epochs 0 --workers 14 --progress none --summary-json "$OUT/loader-$seq.json" 2> "$OUT/loader-$seq.log" \
          | python3 scripts/gpu/train_bert_pipe.py --source pipe --seq-len "$seq" --batch-size "$bs" | tee "$OUT/pipe-$seq.json"
      done
      ;;
    torchsharp)
      STREAMLOADER_LIBTORCH="$TORCHLIB" "$SL" --task mlm --all --source "$CORPUS" --vocab "$VOCAB" --model base \
        --seq-len 128 --batch-size 64 --max-steps 200 --device cuda --log-every 20 --checkpoint none --progress plain \
        --summary-json "$OUT/torchsharp-cuda.json" 2>&1 | tee "$OUT/torchsharp.log" | tail -30
      ;;
    *) echo "unknown part $part (doctor, scaling, starve, torchsharp)"; exit 2 ;;
  esac
done
