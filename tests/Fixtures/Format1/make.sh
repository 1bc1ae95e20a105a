#!/usr/bin/env bash
# Writes the format-1 fixtures of this folder (README.md) with the tool as it was BEFORE the SDK 2.0 redesign:
# `compress` built at commit c7f510b. Never run it with a newer compress: the files exist to prove that what the old
# tool wrote still loads and exports to the same ONNX (tests/Compressor.Host.Tests/Format1Tests.cs).
#
#   git worktree add /tmp/compress-c7f510b c7f510b
#   dotnet build /tmp/compress-c7f510b/host -c Release
#   COMPRESS=/tmp/compress-c7f510b/host/bin/Release/net10.0/linux-x64/compress bash tests/Fixtures/Format1/make.sh [OUT]
#
# OUT (default: a new temporary folder, printed at the end) receives NAME.safetensors for every fixture and
# expected.json (from the ONNX each exported to with that tool; expected.py). Inputs: the embedded digits, a
# repeated sentence, and embed.onnx of this folder (a 3-node ONNX graph: Gather of a 40×16 table, then MatMul + Add).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
c=${COMPRESS:?set COMPRESS to the compress executable built at commit c7f510b (see the top of this file)}
"$c" --version | grep -q '+c7f510b' || { echo "make.sh: $c is not compress at commit c7f510b ($("$c" --version))" >&2; exit 1; }
out=${1:-$(mktemp -d)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
mkdir -p work onnx
export OMP_NUM_THREADS=1
$c train mlp --data digits --epochs 1 --out work/mlp --config '{"hidden":[24]}' -v q
$c train cnn --data digits --epochs 1 --out work/cnn --config '{"channels":[4,8]}' -v q
$c train vit --data digits --epochs 1 --out work/vit --config '{"dim":32,"depth":2,"heads":2}' -v q
printf 'the quick brown fox jumps over the lazy dog. %.0s' $(seq 200) > work/text.txt
$c train gpt-tiny --data text:work/text.txt,context=16 --epochs 1 --out work/gpt --config '{"dim":16,"layers":2,"heads":2}' -v q
run() { name=$1; shift; $c run "$@" --out work/r-$name -v q --format json > work/r-$name.json; cp work/r-$name/compressed.safetensors "$out/$name.safetensors"; }
run rtn-linear-g8-asym rtn --model work/mlp/model.safetensors --weight-bits 4 --group-size 8 --scheme asymmetric
run rtn-linear-2bit rtn --model work/mlp/model.safetensors --weight-bits 2
run rtn-conv rtn --model work/cnn/model.safetensors --weight-bits 8 --include '*'
run rtn-conv-g4 rtn --model work/cnn/model.safetensors --weight-bits 4 --group-size 4 --include '*'
run onnx-rtn-embedding rtn --model "$here/embed.onnx" --weight-bits 4 --embeddings --group-size 8
run onnx-rtn-embedding-2bit rtn --model "$here/embed.onnx" --weight-bits 2 --embeddings --scheme asymmetric
run jlcm-linear jlcm --model work/mlp/model.safetensors --data digits --bits 2
run jlcm-conv jlcm --model work/cnn/model.safetensors --data digits --bits 3 --include '*'
run statsq-vit statsq --model work/vit/model.safetensors --data digits --epochs 1 --cga-epochs 0 --weight-bits 2 --act-bits 4
run sparsity-lowrank sparsity --model work/vit/model.safetensors --data digits --structure low-rank --fraction 0.5
run sparsity-blockshuffle sparsity --model work/gpt/model.safetensors --data text:work/text.txt,context=16 --structure block-shuffle --blocks 2 --first-layer-dense false
run sparsity-blockdense sparsity --model work/gpt/model.safetensors --data text:work/text.txt,context=16 --structure block-dense --rank 8 --first-layer-dense false --deploy-tokens 0
run sparsity-wina sparsity --model work/vit/model.safetensors --data digits --structure none --activation-sparsity wina --sparsity 0.5 --first-layer-dense false
run jlcm-codebooks-explicit jlcm --model work/mlp/model.safetensors --data digits --bits 4 --variant codebooks --groups 2 --permutation explicit --iterations 5
run sparsity-lowrank-premerged sparsity --model work/vit/model.safetensors --data digits --structure low-rank --fraction 0.5 --deploy-tokens 1
cat > work/recipe.json <<'R'
{"seed": 3, "steps": [{"plugin": "sparsity", "options": {"structure": "lowrank", "fraction": 0.5}}, {"plugin": "jlcm", "options": {"bits": 3, "iterations": 5}}]}
R
run sparsity-then-jlcm work/recipe.json --model work/vit/model.safetensors --data digits
$c export work/mlp/model.safetensors --out work/mlp.onnx -v q
run onnx-rtn rtn --model work/mlp.onnx --weight-bits 8
# What the old tool exported from each checkpoint: the expectations of Format1Tests. Its `export` never loaded
# plugins, so it could not rebuild a plugin's own kinds (statsq's: "unknown compressed layer kind 'statsq_linear'", the
# bug the redesign fixed); for those the model.onnx that the run itself wrote stands in (run and export write the same
# bytes: compare r-rtn-conv/model.onnx with onnx/rtn-conv.onnx).
for f in "$out"/*.safetensors; do
  name=$(basename "$f" .safetensors)
  if ! $c export "$f" --out "onnx/$name.onnx" -v q --format json > "onnx/$name.json" 2> "onnx/$name.err"; then
    grep -q "unknown compressed layer kind" "onnx/$name.err" || { cat "onnx/$name.err" >&2; exit 1; }
    cp "work/r-$name/model.onnx" "onnx/$name.onnx"
  fi
done
cmp "work/r-rtn-conv/model.onnx" "onnx/rtn-conv.onnx"
python3 "$here/expected.py" onnx/*.onnx > "$out/expected.json"
ls -la "$out"
