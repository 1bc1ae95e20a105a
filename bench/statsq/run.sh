#!/usr/bin/env bash
# StatsQ benchmark (issue 5): an FP ViT trained here with `compress train`, then W{4,3,2}A{4,3,2} x {LSQ, StatsQ,
# StatsQ+QKR, StatsQ+QKR+CGA} x seeds with `compress run statsq`, same data, data order and epoch budget per variant.
# Every run exports model.onnx through the verification gate and evaluates it on ONNX Runtime; summarize.py turns
# the report.json files into the table of plugins/StatsQ/README.md.
#
#   bash bench/statsq/run.sh [--quick] [--data SPEC] [--seeds "0 1 2"] [--bits "4 3 2"] [--variants "lsq statsq qkr cga"]
#                            [--fp-epochs N] [--epochs N] [--cga-epochs N] [--out DIR] [--compress PATH]
#
# Full mode (sized for about an hour on 2 free cores): MNIST (bash bench/fetch-data.sh mnist), 10k training images,
# ViT 28x28 / patch 7 / dim 64 / depth 4 / 4 heads, FP 5 epochs, QAT 3 epochs + 3 CGA epochs, 3 seeds.
# --quick: digits, an 8x8 ViT of dim 32 / depth 2 / 2 heads, FP 15 epochs, QAT 1 epoch + 1 CGA epoch, seed 0,
# W4A4 and W2A2 (minutes on a free machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
compress="${COMPRESS:-$root/host/bin/Release/net10.0/linux-x64/compress}"
data="idx:$root/bench/data/mnist,limit=10000"
config='{"imageSize":28,"patchSize":7,"inChannels":1,"dim":64,"depth":4,"heads":4,"mlpRatio":2,"classes":10}'
seeds="0 1 2"; bits="4 3 2"; variants="lsq statsq qkr cga"
fp_epochs=5; epochs=3; cga_epochs=3; batch=64; lr=5e-4; fp_lr=1e-3
out="$root/bench/statsq/out"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) data="digits"; config='{"dim":32,"depth":2,"heads":2}'; seeds="0"; bits="4 2"; fp_epochs=15; epochs=1; cga_epochs=1; fp_lr=3e-3; shift ;;
    --data) data="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --bits) bits="$2"; shift 2 ;;
    --variants) variants="$2"; shift 2 ;;
    --fp-epochs) fp_epochs="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --cga-epochs) cga_epochs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --compress) compress="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$compress" ] || { echo "error: $compress not found (dotnet build host -c Release)" >&2; exit 1; }
mkdir -p "$out"
if [ ! -f "$out/fp/model.safetensors" ]; then
  echo "== FP baseline: compress train vit --data $data --epochs $fp_epochs"
  "$compress" train vit --data "$data" --config "$config" --epochs "$fp_epochs" --learning-rate "$fp_lr" --batch-size "$batch" --out "$out/fp"
fi
for b in $bits; do
  for v in $variants; do
    case "$v" in
      lsq) flags="--quantizer lsq --qkr false --cga false" ;;
      statsq) flags="--quantizer statsq --qkr false --cga false" ;;
      qkr) flags="--quantizer statsq --qkr true --cga false" ;;
      cga) flags="--quantizer statsq --qkr true --cga true --cga-epochs $cga_epochs" ;;
      *) echo "unknown variant $v" >&2; exit 2 ;;
    esac
    for s in $seeds; do
      dir="$out/runs/w${b}a${b}-$v-seed$s"
      [ -f "$dir/report.json" ] && continue
      echo "== W${b}A${b} $v seed $s"
      # A failed run is retried once with stack traces on (-v diag, kept in $dir.failed.log); the plugin resumes from
      # its work folder, so the retry continues where the failure stopped and the result is the same.
      for attempt in 1 2; do
        verbosity=n; [ "$attempt" = 2 ] && verbosity=diag
        # shellcheck disable=SC2086
        if "$compress" run statsq --model "$out/fp/model.safetensors" --data "$data" --seed "$s" --out "$dir" \
             --bits "$b" $flags --epochs "$epochs" --batch-size "$batch" --learning-rate "$lr" -v "$verbosity" 2> >(tee -a "$dir.log" >&2); then
          break
        fi
        [ "$attempt" = 2 ] && { echo "error: W${b}A${b} $v seed $s failed twice (see $dir.log)" >&2; exit 1; }
        echo "== W${b}A${b} $v seed $s failed; retrying once (see $dir.log)"
      done
    done
  done
done
python3 "$here/summarize.py" "$out"
