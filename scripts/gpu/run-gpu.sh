#!/usr/bin/env bash
# The GPU measurements (docs/GPU.md), run on the lent GPU machine from the repository root with .carry/ present (made
# here by scripts/gpu/prepare-carry.sh). Each part writes its raw outputs (the JSON each program prints, the loader's
# summary and log, the commands) into $RES; after each part they are packed into $OUT/results.tar.gz, so a run cut
# short still returns what it finished.
#
#   info        the GPU (nvidia-smi), cores, PyTorch
#   doctor      TorchSharp against the machine's own libtorch (PyTorch's torch/lib): what loads, what symbol is missing
#   scaling     loader tokens/s for MLM with WordPiece at 1, 2, 4, 8, 16 workers, against the raw tokenizer ceiling
#   starve      BERT-base MLM in PyTorch, bf16, seq 128 and 512: the loader's batches held in GPU memory (ceiling)
#               against the same loader feeding it over a pipe
#   infer       a BERT-base classifier over a corpus: sorted batches in GPU memory (ceiling) against the loader's pipe
#   torchsharp  the same model shape trained through TorchSharp on CUDA, against PyTorch in fp32, if doctor passed
#
#   scripts/gpu/run-gpu.sh info doctor scaling starve infer torchsharp      (about 6 minutes on an H200)
#   GPU_SMOKE=1 scripts/gpu/run-gpu.sh ...    the same commands on a CPU with a tiny model and short runs (checks the kit)
set -uo pipefail
OUT=${OUT:-gpu-results}
RES=${RES:-/tmp/gpu-results}
mkdir -p "$OUT" "$RES"
SL=${SL:-/tmp/streamloader-linux-x64/streamloader}
if [ ! -x "$SL" ]; then tar -C /tmp -xzf .carry/streamloader-linux-x64.tar.gz || exit 1; fi
CORPUS=.carry/python3.11-doc-3.11.2-rst.jsonl.gz
VOCAB=.carry/bert-base-uncased-vocab.txt
PY=${PY:-python3}
TORCHLIB=$($PY -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)
CORES=$(nproc)
LOADER_WORKERS=$(( CORES > 3 ? CORES - 2 : 1 ))  # two cores stay with the Python process (reader and training threads)
export PYTHONUNBUFFERED=1
if [ "${GPU_SMOKE:-0}" = 1 ]; then
  DEV=(--device cpu --model tiny); STEPS=(--steps 6 --warmup 2 --precision fp32); EPOCHS=(1 1 1 1 1); PASSES=1; WORKER_COUNTS="1 2"
else
  DEV=(--device cuda --model base); STEPS=(--steps 300 --warmup 30); EPOCHS=(30 60 100 150 200); PASSES=8; WORKER_COUNTS="1 2 4 8 16"
fi

pack() { tar -C "$RES" -czf "$OUT/results.tar.gz" . ; }
log() { echo "$*" | tee -a "$RES/commands.txt"; }

for part in "$@"; do
  echo "=== $part $(date -u +%H:%M:%S)"
  case "$part" in
    info)
      { nvidia-smi -L; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv; echo "cores $CORES"; uname -r
        $PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "device", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")'
      } 2>&1 | tee "$RES/machine.txt"
      ;;
    doctor)
      log "$SL doctor --libtorch $TORCHLIB --json doctor.json"
      "$SL" doctor --libtorch "$TORCHLIB" --json "$RES/doctor.json" > "$RES/doctor.txt" 2>&1
      echo "doctor exit $?" | tee -a "$RES/doctor.txt"; tail -15 "$RES/doctor.txt"
      ;;
    scaling)
      i=0
      for w in $WORKER_COUNTS; do
        e=${EPOCHS[$i]}; i=$((i + 1))
        cmd=("$SL" bench --task mlm --source "$CORPUS" --vocab "$VOCAB" --workers "$w" --epochs "$e" --shuffle-buffer 0
             --seq-len 128 --batch-size 64 --queue 32 --progress none --summary-json "$RES/bench-w$w.json")
        log "${cmd[*]}"
        "${cmd[@]}" > "$RES/bench-w$w.txt" 2>&1
        $PY -c "import json; d=json.load(open('$RES/bench-w$w.json')); print('workers $w', d['outcome'], round(d['pipeline_tokens_per_second']/1e6, 2), 'M tokens/s; tokenizer ceiling', round(d['tokenizer_ceiling_tokens_per_second']/1e6, 2), 'M; efficiency', round(d['efficiency'], 3), '; cores busy', round(d['cores_busy'], 1), '; bottleneck', d.get('bottleneck_stage'))"
      done
      ;;
    starve)
      for seq in 128 512; do
        bs=$([ "$seq" = 128 ] && echo 256 || echo 64)
        [ "${GPU_SMOKE:-0}" = 1 ] && bs=8
        loader=("$SL" --role loader --task mlm --source "$CORPUS" --vocab "$VOCAB" --seq-len "$seq" --batch-size "$bs" --progress none)
        log "${loader[*]} --epochs 1 --out mlm-$seq.frames"
        "${loader[@]}" --epochs 1 --out "$RES/mlm-$seq.frames" --summary-json "$RES/loader-frames-$seq.json" 2> "$RES/loader-frames-$seq.log"
        log "$PY scripts/gpu/train_bert_pipe.py --source resident --frames mlm-$seq.frames --seq-len $seq ${DEV[*]} ${STEPS[*]}"
        $PY scripts/gpu/train_bert_pipe.py --source resident --frames "$RES/mlm-$seq.frames" --seq-len "$seq" "${DEV[@]}" "${STEPS[@]}" | tee "$RES/ceiling-$seq.json"
        rm -f "$RES/mlm-$seq.frames"
        log "${loader[*]} --epochs 0 --workers $LOADER_WORKERS --out - | $PY scripts/gpu/train_bert_pipe.py --source pipe --seq-len $seq ${DEV[*]} ${STEPS[*]}"
        "${loader[@]}" --epochs 0 --workers "$LOADER_WORKERS" --out - --summary-json "$RES/loader-pipe-$seq.json" 2> "$RES/loader-pipe-$seq.log" \
          | $PY scripts/gpu/train_bert_pipe.py --source pipe --seq-len "$seq" "${DEV[@]}" "${STEPS[@]}" | tee "$RES/fed-$seq.json"
      done
      ;;
    infer)
      log "$PY scripts/gpu/make_corpus.py $CORPUS --passes $PASSES > corpus.jsonl"
      $PY scripts/gpu/make_corpus.py "$CORPUS" --passes "$PASSES" > /tmp/corpus.jsonl 2> "$RES/corpus.txt"; cat "$RES/corpus.txt"
      loader=("$SL" infer --role loader --source /tmp/corpus.jsonl --vocab "$VOCAB" --seq-len 512 --batch-size 64 --compare-fixed 0 --progress none)
      log "${loader[*]} --out infer.frames"
      "${loader[@]}" --out /tmp/infer.frames --summary-json "$RES/loader-infer-frames.json" 2> "$RES/loader-infer-frames.log"
      model=("${DEV[@]}"); [ "${GPU_SMOKE:-0}" = 1 ] || model=(--device cuda --model base)
      log "$PY scripts/gpu/infer_bert_pipe.py --source resident --frames infer.frames ${model[*]}"
      $PY scripts/gpu/infer_bert_pipe.py --source resident --frames /tmp/infer.frames "${model[@]}" | tee "$RES/infer-ceiling.json"
      rm -f /tmp/infer.frames
      log "${loader[*]} --workers $LOADER_WORKERS --out - | $PY scripts/gpu/infer_bert_pipe.py --source pipe ${model[*]}"
      "${loader[@]}" --workers "$LOADER_WORKERS" --out - --summary-json "$RES/loader-infer-pipe.json" 2> "$RES/loader-infer-pipe.log" \
        | $PY scripts/gpu/infer_bert_pipe.py --source pipe "${model[@]}" | tee "$RES/infer-fed.json"
      ;;
    torchsharp)
      if ! grep -q "doctor exit 0" "$RES/doctor.txt" 2>/dev/null; then
        echo "TorchSharp did not load against $TORCHLIB (doctor.json says why): no TorchSharp training" | tee "$RES/torchsharp.txt"
      else
        cmd=("$SL" --task mlm --all --source "$CORPUS" --vocab "$VOCAB" --model base --seq-len 128 --batch-size 64 --max-steps 200
             --device cuda --log-every 20 --checkpoint none --progress plain --summary-json "$RES/torchsharp-cuda.json")
        log "STREAMLOADER_LIBTORCH=$TORCHLIB ${cmd[*]}"
        STREAMLOADER_LIBTORCH="$TORCHLIB" timeout 240 "${cmd[@]}" > "$RES/torchsharp.log" 2>&1; echo "torchsharp exit $?" | tee -a "$RES/torchsharp.log"
        tail -12 "$RES/torchsharp.log"
        log "$PY scripts/gpu/train_bert_pipe.py --source resident (seq 128, batch 64, fp32)"
        "$SL" --role loader --task mlm --source "$CORPUS" --vocab "$VOCAB" --seq-len 128 --batch-size 64 --progress none --epochs 1 --out /tmp/mlm-ts.frames 2>/dev/null
        $PY scripts/gpu/train_bert_pipe.py --source resident --frames /tmp/mlm-ts.frames --seq-len 128 --precision fp32 --device cuda --model base --steps 200 --warmup 20 | tee "$RES/pytorch-fp32-128x64.json"
      fi
      ;;
    *) echo "unknown part $part (info, doctor, scaling, starve, infer, torchsharp)"; exit 2 ;;
  esac
  pack
done
echo "=== done $(date -u +%H:%M:%S)"
