#!/usr/bin/env bash
# Streamed compression of decoders larger than what fits comfortably in memory (bench/README.md, "Streaming"): writes
# random-weight bfloat16 Hugging Face folders (GPT-2 124M, TinyLlama-1.1B; Llama-3.2-3B with --3b) with bench/Streaming,
# then runs `compress run rtn --weight-bits 4 --group-size 32 --stream on` on each and reports peak RSS (GNU time %M),
# wall time (compression + export + ONNX Runtime verification) and compressed.safetensors bytes against theory.
#   usage: bench/streaming/run.sh [OUT_DIR] [--3b]   (needs Release builds: dotnet build host -c Release; bench/Streaming)
#   COMPRESS_DLL=… runs another build (a copy of host/bin, so that rebuilding the worktree cannot disturb a long run);
#   MODELS="tinyllama-1.1b" runs only those models.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp/compress-streaming-bench}
mkdir -p "$out"
compress=(dotnet "${COMPRESS_DLL:-$root/host/bin/Release/net10.0/linux-x64/compress.dll}")
dotnet build "$root/bench/Streaming" -c Release -v q -nologo > /dev/null
dotnet "$root/bench/Streaming/bin/Release/net10.0/linux-x64/Streaming.dll" "$out/models" "${2:-}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
echo '| model | parameters | bf16 input | peak RSS | wall | compressed.safetensors | theory | ratio |' | tee "$out/table.md"
echo '|---|---:|---:|---:|---:|---:|---:|---:|' | tee -a "$out/table.md"
for m in ${MODELS:-gpt2-124m tinyllama-1.1b llama-3b}; do
  [ -d "$out/models/$m" ] || continue
  rm -rf "$out/run-$m"
  /usr/bin/time -f "%M %e" -o "$out/time-$m.txt" "${compress[@]}" run rtn --model "$out/models/$m" --out "$out/run-$m" \
    --weight-bits 4 --group-size 32 --stream on -v q > /dev/null 2> "$out/stderr-$m.txt" || { cat "$out/stderr-$m.txt"; exit 1; }
  read -r kb secs < <(tail -n 1 "$out/time-$m.txt")
  # Theory: every compressed layer's codes + scales (the report's per-layer bytes) plus the float32 tensors kept as they are.
  python3 - "$out/run-$m" "$out/models/$m" "$kb" "$secs" "$m" <<'PY' | tee -a "$out/table.md"
import json, os, sys, struct
run, models, kb, secs, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
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
print(f"| {name} | {report['input']['parameters'] if 'input' in report and 'parameters' in report['input'] else '-'} | {bf16/1e9:.2f} GB | {kb*1024/2**30:.2f} GiB | {secs:.0f} s | {actual/1e9:.3f} GB | {theory/1e9:.3f} GB | {actual/theory:.4f} |")
PY
done
