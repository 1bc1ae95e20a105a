#!/usr/bin/env bash
# Regenerates the tracked public API of the SDK packages (docs/sdk-versioning.md):
#   bash build/update-public-api.sh          add every public symbol missing from PublicAPI.*.txt to PublicAPI.Unshipped.txt
#                                            and mark the ones that no longer exist as *REMOVED* (what the analyzer's
#                                            RS0016/RS0017 code fixes do, read from the analyzer's own diagnostics)
#   bash build/update-public-api.sh [PROJECT.csproj ...]   the same for the named projects only
#   bash build/update-public-api.sh --ship   at a release: move PublicAPI.Unshipped.txt's entries into PublicAPI.Shipped.txt
# Review the diff of the PublicAPI files: every added line is new public API, every *REMOVED* line a breaking change.
# (`dotnet format analyzers --diagnostics RS0016` does the same in an IDE-like workspace, but on this machine it loads
# the workspace with warnings and applies nothing, so the script builds and reads the diagnostics instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
projects=(sdk/Compressor.Sdk/Compressor.Sdk.csproj sdk/Compressor.Layers/Compressor.Layers.csproj sdk/Compressor.Sdk.Testing/Compressor.Sdk.Testing.csproj)
if [ $# -gt 0 ] && [ "$1" != "--ship" ]; then projects=("$@"); fi   # or only the projects named
header='#nullable enable'

if [ "${1:-}" = "--ship" ]; then
  for p in "${projects[@]}"; do
    d="$(dirname "$p")"
    { cat "$d/PublicAPI.Shipped.txt"; grep -v '^#nullable' "$d/PublicAPI.Unshipped.txt" | grep -v '^\*REMOVED\*' || true; } \
      | { read -r first; echo "$first"; grep -v '^$' | LC_ALL=C sort -u; } > "$d/PublicAPI.Shipped.txt.new"
    # Removed entries (*REMOVED*X) delete X from the shipped list.
    grep '^\*REMOVED\*' "$d/PublicAPI.Unshipped.txt" | sed 's/^\*REMOVED\*//' > "$d/.removed" || true
    grep -vxF -f "$d/.removed" "$d/PublicAPI.Shipped.txt.new" > "$d/PublicAPI.Shipped.txt" || true
    rm -f "$d/.removed" "$d/PublicAPI.Shipped.txt.new"
    echo "$header" > "$d/PublicAPI.Unshipped.txt"
    echo "shipped: $d/PublicAPI.Shipped.txt"
  done
  exit 0
fi

for p in "${projects[@]}"; do
  d="$(dirname "$p")"
  [ -f "$d/PublicAPI.Shipped.txt" ] || echo "$header" > "$d/PublicAPI.Shipped.txt"
  [ -f "$d/PublicAPI.Unshipped.txt" ] || echo "$header" > "$d/PublicAPI.Unshipped.txt"
  log="$(mktemp)"
  # A full (non-incremental) build reports every RS0016 (public symbol not declared) and RS0017 (declared symbol gone).
  dotnet build "$p" -c Release --no-incremental -p:TreatWarningsAsErrors=false -p:WarningsAsErrors= > "$log" 2>&1 || true
  added="$(grep -o "RS0016: Symbol '.*' is not part of the declared public API" "$log" | sed "s/^RS0016: Symbol '//; s/' is not part of the declared public API$//" | LC_ALL=C sort -u || true)"
  removed="$(grep -o "RS0017: Symbol '.*' is part of the declared API" "$log" | sed "s/^RS0017: Symbol '//; s/' is part of the declared API$//" | LC_ALL=C sort -u || true)"
  if grep -q "error CS" "$log"; then echo "$p does not compile:"; grep "error CS" "$log" | sort -u | head -20; rm -f "$log"; exit 1; fi
  rm -f "$log"
  {
    tail -n +2 "$d/PublicAPI.Unshipped.txt"
    [ -n "$added" ] && echo "$added"
    [ -n "$removed" ] && echo "$removed" | sed 's/^/*REMOVED*/'
  } | grep -v '^$' | LC_ALL=C sort -u > "$d/PublicAPI.Unshipped.body" || true
  { echo "$header"; cat "$d/PublicAPI.Unshipped.body"; } > "$d/PublicAPI.Unshipped.txt"
  rm -f "$d/PublicAPI.Unshipped.body"
  echo "updated: $d/PublicAPI.Unshipped.txt ($(($(wc -l < "$d/PublicAPI.Unshipped.txt") - 1)) entries: $(echo -n "$added" | grep -c . || true) added, $(echo -n "$removed" | grep -c . || true) removed now)"
done
