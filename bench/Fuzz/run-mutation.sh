#!/usr/bin/env bash
# Blind mutation campaign (docs/fuzzing.md, "Blind campaign"): the same targets and invariants as the AFL++ campaign,
# without coverage feedback or instrumentation, for machines without AFL++: EXECS executions per target (default
# 100000), PARALLEL targets at a time (default 1), one summary line per target in OUT/summary.txt.
#   usage: bench/Fuzz/run-mutation.sh OUT_DIR [EXECS] [TARGET...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd); shift
execs=${1:-100000}; [ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors pytorch-zip pickle onnx idx recipe manifest torchsharp onnx-external checkpoint)
parallel=${PARALLEL:-1}
dotnet build "$root/bench/Fuzz/Compressor.Fuzz.csproj" -c Fuzz -p:Optimize=true -p:CheckForOverflowUnderflow=true -v q -nologo
bin="$root/bench/Fuzz/bin/Fuzz/net10.0/linux-x64"
export OMP_NUM_THREADS=1 COMPRESS_THREADS=1
running=0
for t in "${targets[@]}"; do
  ( cd "$out" && /usr/bin/time -f "$t wall %e s, peak RSS %M KB" dotnet "$bin/Compressor.Fuzz.dll" mutate "$t" 36000 1 "$execs" \
      > "$out/mutate-$t.log" 2>&1; tail -n 2 "$out/mutate-$t.log" | tee -a "$out/summary.txt" ) &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then wait -n; running=$((running - 1)); fi
done
wait
