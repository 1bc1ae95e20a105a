#!/usr/bin/env bash
# The third-party path of issue 9, end to end, against packages only (called by .ci/run after the solution's tests,
# which built everything in Release): pack the SDK, the conformance kit, the template and the host tool into a local
# folder; create a plugin from the template outside the solution; build it and run its conformance tests against the
# packed SDK (TRX into $1, so .ci/run counts them); install the packed tool into a temporary tool path; and run the
# new plugin through it on the embedded digits data (train, compress, export, verify, evaluate).
# Usage: .ci/third-party.sh RESULTS_DIR
set -euo pipefail
results="$(cd "${1:?usage: third-party.sh RESULTS_DIR}" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
work="$(mktemp -d)"
[ -n "${KEEP_THIRD_PARTY_WORK:-}" ] || trap 'rm -rf "$work"' EXIT
feed="$work/feed"; mkdir -p "$feed"
# A version of its own per run, so no stale copy in the NuGet cache can stand in for what was just packed.
stamp="ci.$(date -u +%Y%m%d%H%M%S).$$"
sdk_base="$(sed -n 's:.*<CompressSdkVersion>\(.*\)</CompressSdkVersion>.*:\1:p' Directory.Build.props)"
sdk="$sdk_base-$stamp"
layers_base="$(sed -n 's:.*<CompressLayersVersion>\(.*\)</CompressLayersVersion>.*:\1:p' Directory.Build.props)"
layers="$layers_base-$stamp"
tool="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' host/Compressor.Host.csproj | head -n 1)-$stamp"
template_default="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["symbols"]["sdkVersion"]["defaultValue"])' \
  templates/Compressor.Templates/content/compress-plugin/.template.config/template.json 2>/dev/null || echo "?")"
if [ "$template_default" != "$sdk_base" ]; then
  echo "third-party: the template's default sdkVersion ($template_default) differs from CompressSdkVersion ($sdk_base)"; exit 1
fi
template_layers="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["symbols"]["layersVersion"]["defaultValue"])' \
  templates/Compressor.Templates/content/compress-plugin/.template.config/template.json 2>/dev/null || echo "?")"
if [ "$template_layers" != "$layers_base" ]; then
  echo "third-party: the template's default layersVersion ($template_layers) differs from CompressLayersVersion ($layers_base)"; exit 1
fi

t0=$SECONDS
echo "== third-party: packing SDK $sdk, engine, layers $layers, conformance kit, template and tool $tool into $feed"
# Each project takes its version from its own property (the contract, engine, kit and template CompressSdkVersion;
# the layers library CompressLayersVersion), so the kit's package dependencies carry the versions packed here.
for p in sdk/Compressor.Sdk sdk/Compressor.Layers sdk/Compressor.Engine sdk/Compressor.Sdk.Testing templates/Compressor.Templates; do
  dotnet pack "$p" -c Release --no-build -p:CompressSdkVersion="$sdk" -p:CompressLayersVersion="$layers" -o "$feed" -v q -nologo
done
dotnet pack host -c Release --no-build -p:PackageVersion="$tool" -o "$feed" -v q -nologo
ls -l "$feed"

echo "== third-party: a plugin from the template, outside the solution"
src="$work/src"; mkdir -p "$src"
cat > "$src/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="compress-local" value="$feed" />
  </packageSources>
</configuration>
CONFIG
hive="$work/template-hive"
dotnet new install "$feed/Compressor.Templates.$sdk.nupkg" --debug:custom-hive "$hive" >/dev/null
(cd "$src" && dotnet new compress-plugin -n AcmeQuant --pluginId acme-quant --sdkVersion "$sdk" --layersVersion "$layers" --debug:custom-hive "$hive")
# Built against the packed SDK only: no reference to this repository can be in the generated projects.
if grep -rq "$root" "$src"; then echo "third-party: the generated plugin refers to the repository"; exit 1; fi

echo "== third-party: the plugin's conformance tests"
(cd "$src/AcmeQuant" && dotnet test AcmeQuant.Tests -c Release --logger "trx;LogFilePrefix=third-party" --results-directory "$results" -nologo)
(cd "$src/AcmeQuant" && dotnet build AcmeQuant -c Release -v q -nologo)
# --plugins takes a folder of plugin folders (each: the assembly and plugin.json), as $COMPRESS_PLUGIN_PATH does.
plugin_dir="$work/plugins"; mkdir -p "$plugin_dir/acme-quant"
cp "$src/AcmeQuant/AcmeQuant/bin/Release/net10.0/"* "$plugin_dir/acme-quant/"

echo "== third-party: the packed tool, installed, runs the plugin"
dotnet tool install compress --version "$tool" --add-source "$feed" --tool-path "$work/tools" --configfile "$src/nuget.config"
compress="$work/tools/compress"
"$compress" --plugins "$plugin_dir" plugin list | tee "$work/plugins.txt"
grep -q "acme-quant" "$work/plugins.txt" || { echo "third-party: acme-quant not listed"; exit 1; }
grep -q "rtn" "$work/plugins.txt" || { echo "third-party: the tool's bundled plugins were not found"; exit 1; }
"$compress" train mlp --data digits --epochs 2 --out "$work/base" --verbosity m
"$compress" --plugins "$plugin_dir" run acme-quant --model "$work/base/model.safetensors" --out "$work/out" --weight-bits 8 --data digits --verbosity m
for f in compressed.safetensors model.onnx recipe.json report.json report.html; do
  [ -s "$work/out/$f" ] || { echo "third-party: $f missing from the run's outputs"; exit 1; }
done
echo "== third-party: passed in $((SECONDS - t0)) s"
