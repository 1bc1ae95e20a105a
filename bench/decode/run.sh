#!/usr/bin/env bash
# Decoding speed of a random-weight Llama-family decoder on ONNX Runtime CPU with its key/value cache: FP32 vs rtn
# 8-bit (per channel) vs rtn 4-bit (group 32), prompt 128, 64 new tokens, batch 1, interleaved rounds.
# Usage: bash bench/decode/run.sh [SHAPE] [ROUNDS] [THREADS]   (SHAPE: llama-110m (default), llama-300m, tinyllama)
set -euo pipefail
cd "$(dirname "$0")/../.."
shape=${1:-llama-110m}; rounds=${2:-5}; threads=${3:-1}
out=bench/decode/out/$shape
dotnet build bench/DecodeSpeed -c Release -v q -nologo >/dev/null
dotnet build host -c Release -v q -nologo >/dev/null
bench=bench/DecodeSpeed/bin/Release/net10.0/linux-x64/DecodeSpeed
compress="dotnet host/bin/Release/net10.0/linux-x64/compress.dll"
[ -f "$out/model/model.safetensors" ] || "$bench" write "$out/model" "$shape"
[ -f "$out/fp32/onnx/model.onnx" ] || $compress --threads "$threads" export "$out/model" --out "$out/fp32" --verbosity q
[ -f "$out/rtn8/onnx/model.onnx" ] || $compress --threads "$threads" run rtn --model "$out/model" --out "$out/rtn8" --weight-bits 8 --group-size 0 --verbosity q
[ -f "$out/rtn4/onnx/model.onnx" ] || $compress --threads "$threads" run rtn --model "$out/model" --out "$out/rtn4" --weight-bits 4 --group-size 32 --verbosity q
"$bench" time "$rounds" 128 64 "$threads" fp32="$out/fp32" rtn8="$out/rtn8" rtn4="$out/rtn4"
