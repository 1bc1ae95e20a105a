#!/usr/bin/env bash
# Quality of the post-training methods on a tiny Llama-family decoder TRAINED HERE (issue 17's quality table): a
# character-level Llama (hidden 128, 4 layers, 4 heads / 2 key-value heads, SwiGLU 384, RMSNorm, rotary; ~0.81M
# parameters) trained by `compress train llama` for one epoch on Moby Dick (public domain; bash bench/fetch-data.sh
# text), context 64, the last 5 % of the text held out. Every method runs through `compress run` (compress → export →
# verify on ONNX Runtime → evaluate model.onnx on ONNX Runtime over the held-out windows); the perplexity of the
# compressed model.onnx and of the FP32 model exported to ONNX come from the same run's report.json (metric
# `perplexity`: value and reference). Resumable: a run whose report.json exists is skipped.
#
#   bash bench/llm-quality/run.sh [--epochs N] [--recovery-steps N] [--out DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
compress=(dotnet "$root/host/bin/Release/net10.0/linux-x64/compress.dll" --threads 1)
text="$root/bench/data/text/moby-dick.txt"
out="$here/out"; epochs=1; rec_steps=150
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs="$2"; shift 2 ;;
    --recovery-steps) rec_steps="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
export OMP_NUM_THREADS=1
[ -f "$root/host/bin/Release/net10.0/linux-x64/compress.dll" ] || { echo "error: build first (dotnet build Compressor.sln -c Release)" >&2; exit 1; }
[ -f "$text" ] || { echo "error: no text data (bash bench/fetch-data.sh text)" >&2; exit 1; }
mkdir -p "$out"
data="text:$text,tokenizer=char,context=64,validation=0.05"
base="$out/base/model.safetensors"
if [ ! -f "$base" ]; then
  echo "== $(date -u +%H:%M:%S) training the base model (load $(cut -d' ' -f1-3 /proc/loadavg))"
  "${compress[@]}" train llama --config '{"hidden":128,"layers":4,"heads":4,"kvHeads":2,"intermediate":384}' --data "$data" \
    --out "$out/base" --epochs "$epochs" --batch-size 32 --seed 0 --format json > "$out/base.json" 2> "$out/base.log"
fi
run() {  # run NAME PLUGIN ARGS...
  local name="$1" plugin="$2"; shift 2
  [ -f "$out/$name/report.json" ] && return
  echo "== $(date -u +%H:%M:%S) $name (load $(cut -d' ' -f1-3 /proc/loadavg))"
  local t0=$SECONDS
  "${compress[@]}" run "$plugin" --model "$base" --data "$data" --seed 0 --out "$out/$name" "$@" > "$out/$name.log" 2>&1 \
    || { echo "   failed: $(grep -m1 '^error' "$out/$name.log" || tail -1 "$out/$name.log")" | tee -a "$out/failures.txt"; return 0; }
  echo "$((SECONDS - t0))" > "$out/$name/seconds.txt"
}
run rtn-w4-g32 rtn --weight-bits 4 --group-size 32
run rtn-w4-g128 rtn --weight-bits 4 --group-size 128
run gptq-w4-g128 gptq --weight-bits 4 --group-size 128
run awq-w4-g128 gptq --weight-bits 4 --group-size 128 --awq --rounding nearest
run jlcm-w3 jlcm --weight-bits 3
run jlcm-w2 jlcm --weight-bits 2
run lowrank-50-fit sparsity --structure lowrank --fraction 0.5
run lowrank-50-rec$rec_steps sparsity --structure lowrank --fraction 0.5 --recovery-steps "$rec_steps" --batch-size 16 --learning-rate 1e-3 --checkpoint-every 50
run wina-50 sparsity --structure none --activation-sparsity wina --sparsity 0.5 --calibration-tokens 2048
run teal-50 sparsity --structure none --activation-sparsity teal --sparsity 0.5 --calibration-tokens 2048
python3 "$here/summarize.py" "$out"
