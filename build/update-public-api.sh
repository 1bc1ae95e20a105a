#!/usr/bin/env bash
# Regenerates the tracked public API of the SDK packages (docs/sdk-versioning.md):
#   bash build/update-public-api.sh          add every public symbol missing from PublicAPI.*.txt to PublicAPI.Unshipped.txt
#                                            and drop the ones that no longer exist (the analyzer's RS0016/RS0017 code fixes)
#   bash build/update-public-api.sh [PROJECT.csproj ...]   the same for the named projects only
#   bash build/update-public-api.sh --ship   at a release: move PublicAPI.Unshipped.txt's entries into PublicAPI.Shipped.txt
# Review the diff of the PublicAPI files: every added line is new public API, every removed line a breaking change.
set -euo pipefail
cd "$(dirname "$0")/.."
projects=(sdk/Compressor.Sdk/Compressor.Sdk.csproj sdk/Compressor.Sdk.Testing/Compressor.Sdk.Testing.csproj)
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
  # The analyzer's own code fixes, applied by dotnet format (it restores and builds the project's compilation).
  dotnet format analyzers "$p" --diagnostics RS0016 RS0017 --severity warn -v q
  # Keep the file sorted (the analyzer does not care about order; sorted files diff well).
  { head -n 1 "$d/PublicAPI.Unshipped.txt"; tail -n +2 "$d/PublicAPI.Unshipped.txt" | grep -v '^$' | LC_ALL=C sort -u; } > "$d/PublicAPI.Unshipped.txt.new"
  mv "$d/PublicAPI.Unshipped.txt.new" "$d/PublicAPI.Unshipped.txt"
  echo "updated: $d/PublicAPI.Unshipped.txt ($(($(wc -l < "$d/PublicAPI.Unshipped.txt") - 1)) entries)"
done
