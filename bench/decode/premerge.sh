#!/usr/bin/env bash
# Decoding speed with and without pre-merge (StructuredFFN §3.4, `compress export --deploy-tokens`): a random-weight
# Llama-family decoder whose FFN linears (gate/up/down of every block but the first) are low-rank at 50 % of their
# weights (`compress run sparsity --structure lowrank --fraction 0.5`, fitted from dense), exported twice from the same
# checkpoint: as its factors (--deploy-tokens 0, two MatMuls per layer) and decided at the decode shape
# (--deploy-tokens 1: each layer merged into one dense MatMul where the break-even measured here says so), plus the
# dense FP32 model; ONNX Runtime CPU with the key/value cache, prompt 128, 64 new tokens, batch 1, interleaved rounds.
# Usage: bash bench/decode/premerge.sh [SHAPE] [ROUNDS] [THREADS]   (SHAPE: llama-110m (default), llama-300m, tinyllama)
set -euo pipefail
cd "$(dirname "$0")/../.."
shape=${1:-llama-110m}; rounds=${2:-5}; threads=${3:-1}
out=bench/decode/out/$shape
export OMP_NUM_THREADS=$threads
dotnet build bench/DecodeSpeed -c Release -v q -nologo >/dev/null
dotnet build host -c Release -v q -nologo >/dev/null
bench=bench/DecodeSpeed/bin/Release/net10.0/linux-x64/DecodeSpeed
compress="dotnet host/bin/Release/net10.0/linux-x64/compress.dll"
[ -f bench/data/text/moby-dick.txt ] || bash bench/fetch-data.sh text
[ -f "$out/model/model.safetensors" ] || "$bench" write "$out/model" "$shape"
[ -f "$out/fp32/onnx/model.onnx" ] || $compress --threads "$threads" export "$out/model" --out "$out/fp32" --verbosity q
# The fit needs calibration windows; any text works for random weights (64 windows of Moby Dick, byte ids < 94).
# Only the run's checkpoint is needed (its own export, verification and evaluation of the 125M decoder took over 14 min
# on the shared machine), which `compress export` then writes twice.
[ -f "$out/lowrank50/compressed.safetensors" ] || $compress --threads "$threads" run sparsity --model "$out/model" --out "$out/lowrank50" \
  --data "text:bench/data/text/moby-dick.txt,tokenizer=char,context=64,limit=64" --eval-limit 8 --structure lowrank --fraction 0.5 --verbosity q
for d in 0 1; do
  [ -f "$out/lowrank50-deploy$d/onnx/model.onnx" ] || $compress --threads "$threads" export "$out/lowrank50/compressed.safetensors" \
    --out "$out/lowrank50-deploy$d/onnx/model.onnx" --deploy-tokens $d --format json --verbosity n > "$out/lowrank50-deploy$d.json" 2> "$out/lowrank50-deploy$d.log"
done
grep -h "pre-merge" "$out/lowrank50-deploy1.log" || true
"$bench" time "$rounds" 128 64 "$threads" factored="$out/lowrank50-deploy0" premerged="$out/lowrank50-deploy1" fp32="$out/fp32"
