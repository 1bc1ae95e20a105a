#!/usr/bin/env bash
# Streamed compression of decoders larger than what fits comfortably in memory (bench/README.md, "Streaming"): writes
# random-weight bfloat16 Hugging Face folders (GPT-2 124M, TinyLlama-1.1B; Llama-3.2-3B with --3b) with bench/Streaming,
# then runs `compress run rtn --weight-bits 4 --group-size 32 --stream on` on each and reports peak RSS (GNU time %M),
# wall time (compression + export + ONNX Runtime verification) and compressed.safetensors bytes against theory.
#   usage: bench/streaming/run.sh [OUT_DIR] [--3b]   (needs Release builds: dotnet build host -c Release; bench/Streaming)
#   COMPRESS_DLL=… runs another build (a copy of host/bin, so that rebuilding the worktree cannot disturb a long run);
#   MODELS="tinyllama-1.1b" runs only those models.
#   METHOD=rtn (default) | jlcm | lowrank | gptq chooses the plugin run streamed: rtn 4-bit g32 (data-free); jlcm 2-bit,
#   G = 4, 20 learning iterations per layer; sparsity's from-dense low-rank fit at --fraction 0.5 of the FFN linears;
#   gptq 4-bit g128. The methods with calibration data take TEXT (a public-domain text file, bench/README.md
#   "Streaming") as char-level windows of 64 tokens, 16 calibration samples. Every method runs under the same
#   --max-memory (MAX_MEMORY, default 4GiB): below the whole-model estimate of GPT-2 124M with data, so the run never
#   exports the float reference whole and the rows compare the streamed phases alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp/compress-streaming-bench}
mkdir -p "$out"
compress=(dotnet "${COMPRESS_DLL:-$root/host/bin/Release/net10.0/linux-x64/compress.dll}")
dotnet build "$root/bench/Streaming" -c Release -v q -nologo > /dev/null
dotnet "$root/bench/Streaming/bin/Release/net10.0/linux-x64/Streaming.dll" "$out/models" "${2:-}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
method=${METHOD:-rtn}
data="text:${TEXT:-$root/bench/data/text/moby-dick.txt},tokenizer=char,context=64,calibration=16"
case "$method" in
  rtn) args=(rtn --weight-bits 4 --group-size 32) ;;
  jlcm) args=(jlcm --weight-bits 2 --groups 4 --iterations 20 --calibration-samples 16 --batch-size 8 --data "$data") ;;
  lowrank) args=(sparsity --structure lowrank --fraction 0.5 --data "$data") ;;
  gptq) args=(gptq --weight-bits 4 --group-size 128 --calibration-samples 16 --batch-size 8 --data "$data") ;;
  *) echo "METHOD must be rtn, jlcm, lowrank or gptq" >&2; exit 2 ;;
esac
echo "| model | method | parameters | bf16 input | peak RSS | wall | compressed.safetensors | theory | ratio |" | tee -a "$out/table.md"
echo '|---|---|---:|---:|---:|---:|---:|---:|---:|' | tee -a "$out/table.md"
for m in ${MODELS:-gpt2-124m tinyllama-1.1b llama-3b}; do
  [ -d "$out/models/$m" ] || continue
  run="$out/run-$m-$method"
  rm -rf "$run"
  echo "load before $m $method: $(uptime)" >> "$out/load.txt"
  /usr/bin/time -f "%M %e" -o "$out/time-$m-$method.txt" "${compress[@]}" run "${args[@]}" --model "$out/models/$m" --out "$run" \
    --stream on --max-memory "${MAX_MEMORY:-4GiB}" -v q > /dev/null 2> "$out/stderr-$m-$method.txt" || { cat "$out/stderr-$m-$method.txt"; exit 1; }
  echo "load after $m $method: $(uptime)" >> "$out/load.txt"
  read -r kb secs < <(tail -n 1 "$out/time-$m-$method.txt")
  # Theory: every compressed layer's codes + scales (the report's per-layer bytes) plus the float32 tensors kept as they are.
  python3 - "$run" "$out/models/$m" "$kb" "$secs" "$m" "$method" <<'PY' | tee -a "$out/table.md"
import json, os, sys, struct
run, models, kb, secs, name, method = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
report = json.load(open(os.path.join(run, "report.json")))
ckpt = os.path.join(run, "compressed.safetensors")
with open(ckpt, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]; header = json.loads(f.read(n))
meta = json.loads(header["__metadata__"]["compress.manifest"])
layers = set(meta["layers"])
def under(t): return any(t.startswith(l + ".") for l in layers)
size = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U8": 1, "I8": 1}
plain = sum(size[v["dtype"]] * eval("*".join(map(str, v["shape"])) or "1") for k, v in header.items() if k != "__metadata__" and not under(k))
rows = report["layers"]
theory = plain + sum(r["bytes"] for r in rows)
params = report.get("inputParameters") or sum(1 for _ in [])
bf16 = sum(os.path.getsize(os.path.join(models, f)) for f in os.listdir(models) if f.endswith(".safetensors"))
actual = os.path.getsize(ckpt)
print(f"| {name} | {method} | {report['input']['parameters'] if 'input' in report and 'parameters' in report['input'] else '-'} | {bf16/1e9:.2f} GB | {kb*1024/2**30:.2f} GiB | {secs:.0f} s | {actual/1e9:.3f} GB | {theory/1e9:.3f} GB | {actual/theory:.4f} |")
PY
done
