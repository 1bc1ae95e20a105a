#!/usr/bin/env bash
# Coverage-guided fuzzing campaign (docs/fuzzing.md): builds the harness with overflow-checked arithmetic, instruments
# the SDK and host assemblies with SharpFuzz, writes the seeds, and runs AFL++ on each target for EXECS executions.
#   usage: bench/Fuzz/run-campaign.sh OUT_DIR [EXECS] [TARGET...]     (default: 100000 executions, every target)
# Needs: afl++ (apt-get install afl++) and the sharpfuzz tool (dotnet tool install --global SharpFuzz.CommandLine
# --version 2.3.0, or SHARPFUZZ=/path/to/sharpfuzz). PARALLEL=N runs N targets at a time (default 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd); shift
execs=${1:-100000}; [ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors pytorch-zip pickle onnx idx recipe manifest torchsharp onnx-external checkpoint)
sharpfuzz=${SHARPFUZZ:-sharpfuzz}
parallel=${PARALLEL:-1}

dotnet build "$root/bench/Fuzz/Compressor.Fuzz.csproj" -c Fuzz -p:Optimize=true -p:CheckForOverflowUnderflow=true -v q -nologo
bin="$root/bench/Fuzz/bin/Fuzz/net10.0/linux-x64"
inst="$out/bin"
rm -rf "$inst" && cp -al "$bin" "$inst"   # hard links (libtorch is large) …
for dll in Compressor.Sdk.dll compress.dll; do   # … except the assemblies instrumented in place
  rm "$inst/$dll" && cp "$bin/$dll" "$inst/$dll"
  "$sharpfuzz" "$inst/$dll"
done
dotnet "$bin/Compressor.Fuzz.dll" seeds "$out/seeds"   # uninstrumented: instrumented code runs only under afl-fuzz

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
run() {
  local t=$1
  rm -rf "$out/afl/$t"
  FUZZ_TIME_LIMIT_S=10 afl-fuzz -i "$out/seeds/$t" -o "$out/afl/$t" -t 10000 -m none -E "$execs" \
    -- dotnet "$inst/Compressor.Fuzz.dll" afl "$t" > "$out/afl-$t.log" 2>&1
  local s="$out/afl/$t/default/fuzzer_stats"
  printf '%-12s execs %s  paths %s  edges %s/%s  crashes %s  hangs %s  seconds %s\n' "$t" \
    "$(awk -F' *: *' '$1=="execs_done"{print $2}' "$s")" "$(awk -F' *: *' '$1=="corpus_count"{print $2}' "$s")" \
    "$(awk -F' *: *' '$1=="edges_found"{print $2}' "$s")" "$(awk -F' *: *' '$1=="total_edges"{print $2}' "$s")" \
    "$(awk -F' *: *' '$1=="saved_crashes"{print $2}' "$s")" "$(awk -F' *: *' '$1=="saved_hangs"{print $2}' "$s")" \
    "$(( $(awk -F' *: *' '$1=="last_update"{print $2}' "$s") - $(awk -F' *: *' '$1=="start_time"{print $2}' "$s") ))"
}
mkdir -p "$out/afl"
running=0
for t in "${targets[@]}"; do
  run "$t" | tee -a "$out/summary.txt" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then wait -n; running=$((running - 1)); fi
done
wait
echo "crashing inputs (if any): $out/afl/*/default/crashes/id:*"
