#!/usr/bin/env bash
# Threads under load (bench/README.md, "Threads under load"): `compress train vit --data digits --epochs 2` with
# libtorch's and ONNX Runtime's default threads (one per CPU) against `--threads 1`, while BUSY other processes keep
# CPUs busy (default: as many as there are CPUs). The two settings alternate, REPS times each, in one script, so that
# both see the same machine; wall and CPU seconds from GNU time. Also counts the runs that failed (the intermittent
# libtorch "Expected false to be true" seen once under load would show here as a non-zero exit).
#   usage: bench/threads/run.sh [REPS] [BUSY]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
reps=${1:-3}
busy=${2:-$(nproc)}
out=$(mktemp -d)
compress=(dotnet "$root/host/bin/Release/net10.0/linux-x64/compress.dll")
unset OMP_NUM_THREADS COMPRESS_THREADS
pids=()
for _ in $(seq "$busy"); do ( while :; do :; done ) & pids+=($!); done
trap '[ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null; rm -rf "$out"' EXIT
echo "$(nproc) CPUs, $busy busy loops, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo '| run | threads | exit | wall s | CPU s (user+sys) |'
echo '|---|---|---:|---:|---:|'
for r in $(seq "$reps"); do
  for setting in default 1; do
    args=(train vit --data digits --epochs 2 --out "$out/$setting-$r" -v q)
    [ "$setting" = 1 ] && args+=(--threads 1)
    rc=0
    /usr/bin/time -f "%e %U %S" -o "$out/time" "${compress[@]}" "${args[@]}" > /dev/null 2> "$out/err" || rc=$?
    read -r wall user sys < <(tail -n 1 "$out/time")
    printf '| %s | %s | %s | %s | %s |\n' "$r" "$setting" "$rc" "$wall" "$(python3 -c "print(f'{$user+$sys:.1f}')")"
    [ "$rc" = 0 ] || sed 's/^/    /' "$out/err" | head -3
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
