#!/usr/bin/env bash
# Run compress on CUDA through the libtorch of a Python PyTorch install (issue 21; docs/packaging.md, "GPU").
#
# Two modes, because the GPU machine has no network and no .NET:
#
#   bash build/gpu-libtorchsharp.sh pack --torchsharp-src DIR [--rev REV] [--out DIR]
#       HERE (a machine with the .NET SDK and the NuGet feed): writes into DIR (default .gpu-inputs/, added to
#       .git/info/exclude so that it travels only when named in the device tool's `carry`):
#         compress-linux-x64.tar.xz   compress published for linux-x64 WITHOUT the bundled libtorch
#                                     (-p:TorchBackend=none; it runs on the libtorch it is pointed at)
#         dotnet-runtime-linux-x64.tar.xz   the .NET runtime it needs (this SDK's dotnet host and shared framework)
#         torchsharp-native.tar.xz    TorchSharp's native sources (src/Native) at the revision of the TorchSharp
#                                     version compress uses, from DIR: a TorchSharp checkout, a bare git directory (the
#                                     device tool's `fetch github:dotnet/TorchSharp` gives one) or an extracted
#                                     src/Native. The revision is checked: build/BranchInfo.props must name our
#                                     TorchSharp version, and every THS* entry point the shipped libLibTorchSharp.so
#                                     exports must be defined by the sources (nm). Third-party sources never go into
#                                     this repository: they travel in DIR only.
#         inputs.txt                  versions, revision, sha256 of the archives
#
#   bash build/gpu-libtorchsharp.sh run --inputs DIR --out DIR [--python PY] [--torch-lib DIR] [--jobs N]
#                                       [--libtorchsharp FILE] [--skip-build] [--minilm FILE] [--quick]
#       ON THE GPU MACHINE (CUDA driver, a Python with torch, cmake and a C++ compiler for the build step):
#         1. finds torch/lib (python3 -c 'import torch'), its version, CUDA version and card;
#         2. unpacks compress and probes TorchSharp's own LibTorchSharp against that libtorch
#            (COMPRESS_LIBTORCH=torch/lib compress --version; then with COMPRESS_LIBTORCH_VERSION_CHECK=off, which
#            only tells whether its symbols resolve);
#         3. unless the probe passed with the version check on (same libtorch minor version) or --skip-build:
#            checks for cmake, a C++ compiler and the torch headers, builds libLibTorchSharp.so from the carried
#            sources against torch's headers and libraries (TorchSharp's CMake project, -Werror dropped), writes its
#            build-info (torchsharp=, libtorch=) and probes again with COMPRESS_LIBTORCHSHARP;
#         4. runs `compress demo` with --device cuda and with --device cpu (same seed, same libtorch), a StatsQ QAT
#            step-time run on a larger ViT on both devices, every other installed plugin of jlcm/sparsity/gptq on
#            both devices, and (--minilm FILE) jlcm on the real MiniLM ONNX on cuda;
#         5. writes into --out (at most 8 files, as the device tool brings back): summary.md, results.json,
#            probe.log, build.log, libLibTorchSharp.so and its .build-info (when built), runs.tar.gz (every
#            report.json, recipe.json and log).
#       --quick runs only the probe, the build and `compress demo --quick` on both devices.
#
# The device tool call, from the repository root here (the inputs travel through `carry`):
#   bash build/gpu-libtorchsharp.sh pack --torchsharp-src /work/.mirror/dotnet+TorchSharp/repo
#   run(command='bash build/gpu-libtorchsharp.sh run --inputs .gpu-inputs --out "$OUT"', carry=['.gpu-inputs'], timeout_s=600)
#
# Exit status: 0 when compress ran on CUDA and every run succeeded; 1 on a failed step (the reason is the last line
# of the output and of summary.md); 2 on bad arguments.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

die() { echo "error: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is needed${2:+ ($2)} and not on PATH"; }

# The TorchSharp version compress is built with (one source: Directory.Packages.props).
torchsharp_version() {
  sed -n 's/.*PackageVersion Include="TorchSharp" Version="\([^"]*\)".*/\1/p' "$root/Directory.Packages.props" | head -n 1
}

# ---------------------------------------------------------------------------------------------------------------------
# pack
# ---------------------------------------------------------------------------------------------------------------------
pack() {
  local src="" rev="" out="$root/.gpu-inputs"
  while [ $# -gt 0 ]; do
    case "$1" in
      --torchsharp-src) src="$2"; shift 2 ;;
      --rev) rev="$2"; shift 2 ;;
      --out) out="$2"; shift 2 ;;
      -h|--help) usage ;;
      *) echo "error: unknown argument $1" >&2; usage ;;
    esac
  done
  [ -n "$src" ] || { echo "error: pack needs --torchsharp-src DIR" >&2; usage; }
  need dotnet "the .NET SDK"; need tar; need xz; need sha256sum
  local version; version="$(torchsharp_version)"
  [ -n "$version" ] || die "cannot read the TorchSharp version from Directory.Packages.props"
  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
  local stage; stage="$(mktemp -d)"
  trap 'rm -rf "$stage"' RETURN

  # 1. TorchSharp's native sources at the revision of our version.
  echo "== TorchSharp $version native sources from $src"
  local described="folder $src"
  if git --git-dir="$src" rev-parse --git-dir >/dev/null 2>&1 || git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    local g=(git --git-dir="$src"); git --git-dir="$src" rev-parse --git-dir >/dev/null 2>&1 || g=(git -C "$src")
    if [ -z "$rev" ]; then
      if "${g[@]}" rev-parse -q --verify "refs/tags/v$version" >/dev/null; then rev="v$version"; else rev="HEAD"; fi
    fi
    local branch_info; branch_info="$("${g[@]}" show "$rev:build/BranchInfo.props")" || die "$rev has no build/BranchInfo.props"
    local at; at="$(printf '%s' "$branch_info" | tr -d ' \r\n' | sed -n 's/.*<MajorVersion>\([0-9]*\)<\/MajorVersion><MinorVersion>\([0-9]*\)<\/MinorVersion><PatchVersion>\([0-9]*\)<\/PatchVersion>.*/\1.\2.\3/p')"
    [ "$at" = "$version" ] || die "TorchSharp revision $rev is version ${at:-unknown}, compress uses $version (pass --rev)"
    "${g[@]}" archive --format=tar "$rev" src/Native | tar -x -C "$stage"
    described="$("${g[@]}" rev-parse "$rev") ($rev)"
  elif [ -f "$src/src/Native/LibTorchSharp/CMakeLists.txt" ]; then
    mkdir -p "$stage/src"; cp -R "$src/src/Native" "$stage/src/"
  elif [ -f "$src/LibTorchSharp/CMakeLists.txt" ]; then
    mkdir -p "$stage/src"; cp -R "$src" "$stage/src/Native"
  else
    die "$src is neither a TorchSharp git repository nor a folder holding src/Native"
  fi
  echo "$described" > "$stage/src/Native/TORCHSHARP_REVISION"
  echo "$version" > "$stage/src/Native/TORCHSHARP_VERSION"

  # Every entry point the shipped LibTorchSharp exports must be defined by these sources (else they are not its sources).
  local shipped="${NUGET_PACKAGES:-$HOME/.nuget/packages}/torchsharp/$version/runtimes/linux-x64/native/libLibTorchSharp.so"
  if [ -f "$shipped" ] && command -v nm >/dev/null 2>&1; then
    nm -D --defined-only "$shipped" | awk '{print $3}' | grep -E '^THS' | sort -u > "$stage/exports.txt"
    grep -rhoE 'EXPORT_API\([^)]*\)[[:space:]]*\**[[:space:]]*[A-Za-z_0-9]+[[:space:]]*\(' "$stage/src/Native" \
      | sed -E 's/.*\)[[:space:]]*\**[[:space:]]*([A-Za-z_0-9]+)[[:space:]]*\($/\1/' | sort -u > "$stage/declared.txt"
    local missing; missing="$(comm -23 "$stage/exports.txt" "$stage/declared.txt" | head -n 5)"
    [ -z "$missing" ] || die "the sources do not declare entry points the shipped LibTorchSharp $version exports (not its revision?): $missing"
    echo "   $(wc -l < "$stage/exports.txt") exported entry points of the shipped LibTorchSharp are declared by the sources"
  else
    echo "   warning: cannot compare with the shipped LibTorchSharp (no $shipped or no nm): revision not cross-checked" >&2
  fi
  tar -C "$stage/src" -cf - Native | xz -9 -T0 > "$out/torchsharp-native.tar.xz"

  # 2. compress, framework-dependent, without the bundled libtorch. (A self-contained publish would copy the runtime
  #    into every bundled plugin's folder as well: the global property reaches their builds.)
  echo "== dotnet publish host (linux-x64, no bundled libtorch)"
  dotnet publish "$root/host/Compressor.Host.csproj" -c Release -p:TorchBackend=none -o "$stage/compress" -v q -nologo
  [ -f "$stage/compress/compress.dll" ] || die "the publish did not produce compress.dll"
  if [ -e "$stage/compress/libtorch_cpu.so" ]; then die "the publish still carries libtorch_cpu.so"; fi
  if find "$stage/compress/plugins" -name System.Private.CoreLib.dll | grep -q .; then
    die "host/bin holds plugins built self-contained (a stale output): remove host/bin and host/obj and pack again"
  fi
  # ONNX Runtime's package also drops its Windows natives into a linux-x64 output: not needed there.
  find "$stage/compress" -maxdepth 1 -name 'onnxruntime*.dll' -delete
  tar -C "$stage" -cf - compress | xz -6 -T0 > "$out/compress-linux-x64.tar.xz"

  # 3. The .NET runtime compress needs (the GPU machine has none): this SDK's dotnet host and shared framework.
  local framework; framework="$(sed -n 's/.*"version": *"\([0-9][^"]*\)".*/\1/p' "$stage/compress/compress.runtimeconfig.json" | head -n 1)"
  local listed; listed="$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" { print $2, $3 }' | sort -V | tail -n 1)"
  local runtime_version="${listed%% *}" runtime_dir="${listed#* }"
  runtime_dir="${runtime_dir#[}"; runtime_dir="${runtime_dir%]}"
  local dotnet_root; dotnet_root="$(cd "$runtime_dir/../.." && pwd)"
  if [ ! -x "$dotnet_root/dotnet" ] || [ ! -d "$runtime_dir/$runtime_version" ]; then die "cannot find the .NET runtime (dotnet --list-runtimes: $listed)"; fi
  case "$runtime_version" in "${framework%.*}".*) ;; *) die ".NET runtime $runtime_version does not serve compress's framework ${framework:-unknown}" ;; esac
  echo "== .NET runtime $runtime_version from $dotnet_root"
  tar -C "$dotnet_root" -cf - dotnet host "shared/Microsoft.NETCore.App/$runtime_version" | xz -6 -T0 > "$out/dotnet-runtime-linux-x64.tar.xz"

  {
    echo "torchsharp=$version"
    echo "torchsharp_revision=$described"
    echo "expected_libtorch=$(sed -n 's/.*PackageVersion Include="libtorch-cpu-linux-x64" Version="\([^"]*\)".*/\1/p' "$root/Directory.Packages.props")"
    echo "compress_commit=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "packed=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "dotnet_runtime=$runtime_version"
    (cd "$out" && sha256sum compress-linux-x64.tar.xz dotnet-runtime-linux-x64.tar.xz torchsharp-native.tar.xz)
  } > "$out/inputs.txt"

  # Travel only through `carry`: ignored by git here (the device tool sends tracked and untracked-not-ignored files).
  case "$out" in
    "$root"/*)
      local rel="/${out#"$root"/}/"
      if [ -d "$root/.git" ] && ! grep -qxF "$rel" "$root/.git/info/exclude" 2>/dev/null; then echo "$rel" >> "$root/.git/info/exclude"; fi ;;
  esac
  du -ch "$out"/*.tar.xz | tail -n 1 | sed 's/total/in all (the device tool carries at most 64 MiB with the repository)/'
  echo "done: $out"
}

# ---------------------------------------------------------------------------------------------------------------------
# run (on the GPU machine)
# ---------------------------------------------------------------------------------------------------------------------
run() {
  local inputs="" out="" python="python3" torch_lib="" jobs="" sharp="" skip_build=0 minilm="" quick=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --inputs) inputs="$2"; shift 2 ;;
      --out) out="$2"; shift 2 ;;
      --python) python="$2"; shift 2 ;;
      --torch-lib) torch_lib="$2"; shift 2 ;;
      --jobs) jobs="$2"; shift 2 ;;
      --libtorchsharp) sharp="$2"; shift 2 ;;
      --skip-build) skip_build=1; shift ;;
      --minilm) minilm="$2"; shift 2 ;;
      --quick) quick=1; shift ;;
      -h|--help) usage ;;
      *) echo "error: unknown argument $1" >&2; usage ;;
    esac
  done
  if [ -z "$inputs" ] || [ -z "$out" ]; then echo "error: run needs --inputs DIR and --out DIR" >&2; usage; fi
  [ -f "$inputs/compress-linux-x64.tar.xz" ] || die "$inputs/compress-linux-x64.tar.xz missing (run the pack mode here first)"
  need tar; need xz; need "$python" "the Python that holds torch"
  jobs="${jobs:-$(nproc)}"
  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
  inputs="$(cd "$inputs" && pwd)"
  local work="${TMPDIR:-/tmp}/compress-gpu-$$"
  mkdir -p "$work/runs"
  local summary="$out/summary.md" results="$work/results.tsv" probe_log="$out/probe.log"
  : > "$results"; : > "$probe_log"
  note() { echo "$*"; echo "$*" >> "$summary"; }
  fail() { note ""; note "**Stopped: $***"; pack_runs; echo "error: $*" >&2; exit 1; }
  pack_runs() { tar -C "$work" -czf "$out/runs.tar.gz" --exclude='*.onnx' --exclude='*.safetensors' --exclude='.work' runs 2>/dev/null || true; }

  {
    echo "# compress on CUDA through a PyTorch install's libtorch"
    echo
    echo "Run $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), by build/gpu-libtorchsharp.sh run."
    echo
    echo '```'
    cat "$inputs/inputs.txt" 2>/dev/null || true
    echo '```'
  } > "$summary"

  # 1. The PyTorch install: torch/lib, version, CUDA, the card.
  note ""; note "## 1. PyTorch install"
  local facts
  facts="$("$python" - <<'PY' 2>&1
import os, torch
d = os.path.dirname(torch.__file__)
print("torch_dir=" + d)
print("torch_version=" + torch.__version__)
print("torch_cuda=" + str(torch.version.cuda))
print("cuda_available=" + str(torch.cuda.is_available()))
print("card=" + (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"))
PY
)" || fail "$python cannot import torch: $facts"
  local torch_dir torch_version torch_cuda card
  torch_dir="$(printf '%s\n' "$facts" | sed -n 's/^torch_dir=//p')"
  torch_version="$(printf '%s\n' "$facts" | sed -n 's/^torch_version=//p')"
  torch_cuda="$(printf '%s\n' "$facts" | sed -n 's/^torch_cuda=//p')"
  card="$(printf '%s\n' "$facts" | sed -n 's/^card=//p')"
  torch_lib="${torch_lib:-$torch_dir/lib}"
  note "- torch $torch_version (CUDA $torch_cuda) at $torch_dir; card: $card"
  note "- libraries: $torch_lib"
  command -v nvidia-smi >/dev/null 2>&1 && note "- nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n 1)"
  [ -f "$torch_lib/libtorch.so" ] || fail "$torch_lib holds no libtorch.so"

  # 2. compress, and the probe of TorchSharp's own LibTorchSharp.
  note ""; note "## 2. Probe: TorchSharp's LibTorchSharp against libtorch $torch_version"
  tar -C "$work" -xJf "$inputs/compress-linux-x64.tar.xz"
  [ -f "$work/compress/compress.dll" ] || fail "the compress archive holds no compress.dll"
  if [ -f "$inputs/dotnet-runtime-linux-x64.tar.xz" ]; then
    mkdir -p "$work/dotnet"
    tar -C "$work/dotnet" -xJf "$inputs/dotnet-runtime-linux-x64.tar.xz"
    export DOTNET_ROOT="$work/dotnet"
  elif command -v dotnet >/dev/null 2>&1; then
    DOTNET_ROOT="$(dirname "$(readlink -f "$(command -v dotnet)")")"; export DOTNET_ROOT
  else
    fail "no .NET runtime: neither $inputs/dotnet-runtime-linux-x64.tar.xz nor dotnet on PATH"
  fi
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  local compress="$work/compress/compress"
  [ -x "$compress" ] || compress="$work/compress-launcher"
  if [ "$compress" = "$work/compress-launcher" ]; then
    printf '#!/bin/sh\nexec "%s/dotnet" "%s/compress/compress.dll" "$@"\n' "$DOTNET_ROOT" "$work" > "$compress"
    chmod +x "$compress"
  fi
  note "- compress: $("$compress" --version 2>/dev/null | head -n 1 || echo 'does not start') on .NET at $DOTNET_ROOT"
  export COMPRESS_LIBTORCH="$torch_lib"
  unset COMPRESS_LIBTORCHSHARP COMPRESS_LIBTORCH_VERSION_CHECK
  local probe rc
  probe_once() {   # $1: label; the environment says what to load
    set +e
    probe="$("$compress" --version 2>&1)"; rc=$?
    set -e
    { echo "### $1 (exit $rc)"; echo "$probe"; echo; } >> "$probe_log"
    note "- $1: exit $rc: \`$(printf '%s' "$probe" | tail -n 1)\`"
  }
  local use_shipped=0 build=1
  if [ -n "$sharp" ]; then
    export COMPRESS_LIBTORCHSHARP="$sharp"
    probe_once "given LibTorchSharp $sharp"
    [ "$rc" = 0 ] || fail "the given LibTorchSharp does not load"
    build=0
  else
    probe_once "shipped LibTorchSharp, version check on"
    if [ "$rc" = 0 ]; then use_shipped=1; build=0; fi
    if [ "$use_shipped" = 0 ]; then
      COMPRESS_LIBTORCH_VERSION_CHECK=off probe_once "shipped LibTorchSharp, version check off (do its symbols resolve?)"
      if [ "$rc" = 0 ]; then
        note "  its symbols resolve against $torch_version; a LibTorchSharp is still built for it (types may differ between minor versions)"
      else
        note "  its symbols do not resolve: a LibTorchSharp must be built for $torch_version"
      fi
    fi
  fi
  if [ "$skip_build" = 1 ] && [ "$build" = 1 ]; then
    note "- --skip-build: running the shipped LibTorchSharp with the version check off"
    export COMPRESS_LIBTORCH_VERSION_CHECK=off
    build=0
  fi

  # 3. Build LibTorchSharp against this libtorch.
  if [ "$build" = 1 ]; then
    note ""; note "## 3. Build LibTorchSharp for libtorch $torch_version"
    local build_log="$out/build.log"
    : > "$build_log"
    [ -f "$inputs/torchsharp-native.tar.xz" ] || fail "$inputs/torchsharp-native.tar.xz missing (pack mode)"
    command -v cmake >/dev/null 2>&1 || fail "cmake is not on PATH (pip's cmake package: $python -m pip install cmake, carried as a wheel)"
    local cxx=""
    for c in "${CXX:-}" c++ g++ clang++; do [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && { cxx="$(command -v "$c")"; break; }; done
    [ -n "$cxx" ] || fail "no C++ compiler (c++, g++ or clang++) on PATH"
    local cmake_dir="$torch_dir/share/cmake"
    [ -f "$cmake_dir/Torch/TorchConfig.cmake" ] || fail "$cmake_dir/Torch/TorchConfig.cmake missing: this torch install carries no CMake config/headers"
    [ -f "$torch_dir/include/torch/csrc/api/include/torch/torch.h" ] || fail "torch's C++ headers are missing under $torch_dir/include"
    note "- cmake $(cmake --version | head -n 1 | awk '{print $3}'), $cxx ($("$cxx" --version | head -n 1)), $jobs jobs"
    local src="$work/native"
    mkdir -p "$src"
    tar -C "$src" -xJf "$inputs/torchsharp-native.tar.xz"
    local ts_version ts_revision
    ts_version="$(cat "$src/Native/TORCHSHARP_VERSION")"
    ts_revision="$(cat "$src/Native/TORCHSHARP_REVISION")"
    note "- sources: TorchSharp $ts_version, $ts_revision"
    # TorchSharp builds with -Werror against the libtorch it targets; newer headers warn (deprecations): not errors here.
    sed -i 's/add_definitions(-Werror)/# -Werror dropped by gpu-libtorchsharp.sh/' "$src/Native/CMakeLists.txt"
    echo 'static char sccsid[] __attribute__((used)) = "@(#)LibTorchSharp built by compress build/gpu-libtorchsharp.sh";' > "$src/version.c"
    local generator=(-G "Unix Makefiles"); command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
    local started; started="$(date +%s)"
    if ! cmake -S "$src/Native" -B "$work/native-build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx" \
         -DLIBTORCH_PATH="$cmake_dir" -DCMAKE_PREFIX_PATH="$cmake_dir" -DVERSION_FILE_PATH="$src/version.c" >> "$build_log" 2>&1; then
      fail "cmake could not configure TorchSharp's native project against $cmake_dir (see build.log)"
    fi
    if ! cmake --build "$work/native-build" --parallel "$jobs" >> "$build_log" 2>&1; then
      fail "LibTorchSharp does not compile against libtorch $torch_version (first errors in build.log: $(grep -m 3 -E 'error' "$build_log" | tr '\n' ' ' | cut -c1-300))"
    fi
    local built; built="$(find "$work/native-build" -name libLibTorchSharp.so -type f | head -n 1)"
    [ -n "$built" ] || fail "the build produced no libLibTorchSharp.so"
    cp "$built" "$out/libLibTorchSharp.so"
    {
      echo "torchsharp=$ts_version"
      echo "libtorch=$torch_version"
      echo "cuda=$torch_cuda"
      echo "source=$ts_revision"
      echo "compiler=$("$cxx" --version | head -n 1)"
      echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } > "$out/libLibTorchSharp.so.build-info"
    note "- built in $(( $(date +%s) - started )) s: libLibTorchSharp.so ($(du -h "$out/libLibTorchSharp.so" | cut -f1)), build-info beside it"
    export COMPRESS_LIBTORCHSHARP="$out/libLibTorchSharp.so"
    unset COMPRESS_LIBTORCH_VERSION_CHECK
    probe_once "built LibTorchSharp"
    [ "$rc" = 0 ] || fail "the built LibTorchSharp does not load (probe.log)"
  fi
  case "$probe" in
    *"device: cuda"*) note "- compress sees CUDA: \`$(printf '%s' "$probe" | tail -n 1)\`" ;;
    *) fail "compress loaded libtorch but sees no CUDA device: $(printf '%s' "$probe" | tail -n 1)" ;;
  esac

  # 4. Runs: the same work on cuda and on cpu (same libtorch, same seed).
  note ""; note "## 4. Runs (same seed; cpu = the same libtorch on this machine's CPU)"
  local failures=0
  timed() {   # $1: name, $2: device, rest: compress arguments; output under runs/NAME-DEVICE
    local name="$1" device="$2"; shift 2
    local dir="$work/runs/$name-$device" t0 t1 code
    mkdir -p "$dir"
    t0="$(date +%s.%N)"
    set +e
    "$compress" "$@" --device "$device" > "$dir/stdout.log" 2> "$dir/stderr.log"; code=$?
    set -e
    t1="$(date +%s.%N)"
    local secs; secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$device" "$code" "$secs" "$dir" >> "$results"
    if [ "$code" = 0 ]; then note "- $name on $device: ok, $secs s"; else note "- $name on $device: **exit $code**, $secs s: $(tail -n 1 "$dir/stderr.log")"; failures=$((failures + 1)); fi
  }
  local demo_flags=(); [ "$quick" = 1 ] && demo_flags=(--quick)
  for device in cuda cpu; do timed demo "$device" demo "${demo_flags[@]}" --seed 0 --out "$work/runs/demo-$device/out" -v m; done
  if [ "$quick" = 0 ]; then
    # QAT step time on a ViT large enough for a GPU to matter (digits, 8x8, dim 192, depth 6, 6 heads).
    local base="$work/runs/vit-base"
    if "$compress" train vit --data digits --config '{"dim":192,"depth":6,"heads":6}' --epochs 2 --seed 0 --device cuda --out "$base" -v q \
         > "$work/runs/vit-base.log" 2>&1; then
      for device in cuda cpu; do
        timed statsq-qat "$device" run statsq --model "$base/model.safetensors" --data digits --seed 0 --bits 4 --epochs 1 --cga-epochs 0 \
          --out "$work/runs/statsq-qat-$device/out" -v m
      done
      local installed; installed="$("$compress" plugin list --format json 2>/dev/null || true)"
      for plugin in jlcm sparsity gptq; do
        case "$installed" in *"\"id\": \"$plugin\""*) ;; *) note "- $plugin: not installed, skipped"; continue ;; esac
        for device in cuda cpu; do
          timed "$plugin" "$device" run "$plugin" --model "$base/model.safetensors" --data digits --seed 0 --out "$work/runs/$plugin-$device/out" -v m
        done
      done
    else
      note "- training the ViT for the QAT step-time runs failed: $(tail -n 1 "$work/runs/vit-base.log")"; failures=$((failures + 1))
    fi
    if [ -n "$minilm" ]; then
      timed jlcm-minilm cuda run jlcm --model "$minilm" --seed 0 --out "$work/runs/jlcm-minilm-cuda/out" -v m
    else
      note "- jlcm on MiniLM: no --minilm FILE (its 90 MB ONNX does not fit the 64 MiB the device tool carries with the inputs)"
    fi
  fi

  # 5. Summary: accuracy and timings per run, cuda next to cpu.
  "$python" - "$results" "$work/results.json" >> "$summary" <<'PY' || note "(the summary script failed)"
import json, os, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
out = []
def report(path):
    try:
        return json.load(open(path))
    except Exception:
        return None
print("\n### Results\n")
print("| run | device | exit | wall s | what the report says |")
print("|---|---|---|---|---|")
for name, device, code, secs, d in rows:
    info = {"run": name, "device": device, "exit": int(code), "seconds": float(secs)}
    text = ""
    demo = report(os.path.join(d, "out", "report.json")) if name == "demo" else None
    run = report(os.path.join(d, "out", "report.json")) if name != "demo" else None
    if demo is not None:
        primary = demo.get("primaryMetric") or "accuracy"
        steps = []
        parts = []
        for s in demo.get("steps") or []:
            value = (s.get("metrics") or {}).get(primary)
            passed = (s.get("verification") or {}).get("passed")
            steps.append({"name": s.get("name"), "status": s.get("status"), primary: value, "verified": passed, "seconds": s.get("seconds")})
            parts.append(f"{s.get('name')} {s.get('status')}" + (f" {primary} {value:.4f}" if isinstance(value, (int, float)) else "")
                         + ("" if passed is None else (" verified" if passed else " NOT verified")) + f" ({s.get('seconds')} s)")
        info["primaryMetric"] = primary
        info["steps"] = steps
        text = "; ".join(parts)
    if run is not None:
        metrics = {m.get("name"): m.get("value") for m in run.get("metrics", []) if isinstance(m, dict)}
        keep = {k: v for k, v in metrics.items() if k and any(t in k for t in ("Accuracy", "stepSeconds", "StepSeconds", "reconstruction", "perplexity"))}
        info["metrics"] = keep
        info["timings"] = run.get("timings")
        info["verified"] = (run.get("verification") or {}).get("passed")
        text = ", ".join(f"{k} {v:.4g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in keep.items())
    out.append(info)
    print(f"| {name} | {device} | {code} | {secs} | {text} |")
json.dump(out, open(sys.argv[2], "w"), indent=2)
PY
  cp "$work/results.json" "$out/results.json" 2>/dev/null || true
  pack_runs
  [ "$failures" = 0 ] || fail "$failures run(s) failed (runs.tar.gz holds their logs)"
  note ""; note "All runs succeeded; compress ran on CUDA through $torch_lib."
  rm -rf "$work"
}

[ $# -ge 1 ] || usage
mode="$1"; shift
case "$mode" in
  pack) pack "$@" ;;
  run) run "$@" ;;
  -h|--help|help) usage ;;
  *) echo "error: unknown mode $mode (pack or run)" >&2; usage ;;
esac
