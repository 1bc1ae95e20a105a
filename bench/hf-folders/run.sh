#!/usr/bin/env bash
# The user's own models through compress (issue: Hugging Face folders and timm checkpoints). Writes the inputs with
# bench/HfFolders, then runs, each into bench/hf-folders/out/<name>/ with its report.json:
#   deit-statsq   a DeiT-S timm checkpoint (.pth, no config, 22M parameters) → statsq W4A4 + QKR, 2 + 2 steps on
#                 images:DIR (80 digit PNGs, resized to 224 and normalised as timm does: 16 for training, 8 held out), export
#   minilm-jlcm   the real all-MiniLM-L6-v2 as a BERT folder → jlcm (2-bit codebooks), calibration texts from a
#                 jsonl file tokenized with the folder's own tokenizer.json
#   gpt2-rtn, gpt2-sparsity, llama-rtn, llama-sparsity   GPT-2 (124M) and Llama-style (74M) folders → rtn / sparsity
#                 (low-rank FFNs from dense; SwiGLU gate/up/down for Llama), calibration from Moby Dick (GPT-2 BPE)
# and prints one line per run: parameters, bits/weight, ONNX parity (SQNR dB, ORT vs TorchSharp; for activation-quantized
# exports also the lowest teacher-forced layer SQNR, which the gate checks), wall time.
# Usage: bash bench/hf-folders/run.sh [NAME...]   (default: all; needs bench/fetch-data.sh text)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/hf-folders/out; models=$out/models
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
dotnet build host -c Release -v q -nologo >/dev/null
dotnet build bench/HfFolders -c Release -v q -nologo >/dev/null
[ -f bench/data/text/moby-dick.txt ] || bash bench/fetch-data.sh text
[ -d "$models/digits-images" ] || dotnet bench/HfFolders/bin/Release/net10.0/linux-x64/HfFolders.dll "$models"
compress=host/bin/Release/net10.0/linux-x64/compress
text="text:bench/data/text/moby-dick.txt,tokenizer=gpt2,context=64,calibration=32,limit=256,validation=0.01"
want="${*:-deit-statsq minilm-jlcm gpt2-rtn gpt2-sparsity llama-rtn llama-sparsity}"
run() { # name args...
  local name="$1"; shift
  [[ " $want " == *" $name "* ]] || return 0
  local start=$SECONDS
  "$compress" run "$@" --out "$out/$name" --verbosity m --seed 0 > "$out/$name.log" 2>&1 || { echo "$name: failed (see $out/$name.log)"; tail -3 "$out/$name.log"; return 0; }
  python3 - "$out/$name/report.json" "$name" "$((SECONDS - start))" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); o = r["output"]; v = r.get("verification") or {}
tf = v.get("teacherForcedSqnrDb")
print(f'{sys.argv[2]:15s} params {r["input"]["parameters"]:>12,}  bits/w {o.get("bitsPerWeight") or 0:6.3f}  '
      f'onnx {o["bytesOnDisk"]:>12,} B  parity {v.get("sqnrDb", float("nan")):6.1f} dB (max abs {v.get("maxAbsError", float("nan")):.2e})'
      + (f', teacher-forced {tf:.1f} dB (gated)' if tf is not None else '') + f'  {sys.argv[3]} s')
PY
}
run deit-statsq statsq --model "$models/deit_small_patch16_224.pth" --heads 6 --data "images:$models/digits-images,limit=16,calibration=8" \
  --bits 4 --qkr true --epochs 1 --cga-epochs 1 --batch-size 8
run minilm-jlcm jlcm --model "$models/all-MiniLM-L6-v2" --data "jsonl:$models/moby.jsonl,context=32,calibration=64" \
  --bits 2 --groups 4 --iterations 20 --calibration-samples 64
run gpt2-rtn rtn --model "$models/gpt2" --weight-bits 4 --group-size 128
run gpt2-sparsity sparsity --model "$models/gpt2" --data "$text" --structure low-rank --fraction 0.32
run llama-rtn rtn --model "$models/llama" --weight-bits 4 --group-size 128
run llama-sparsity sparsity --model "$models/llama" --data "$text" --structure low-rank --fraction 0.32
