#!/bin/bash
# The op tests (every op against the CPU reference, every kernel variant forced) on lavapipe
# with a GPU's subgroup widths: LP_NATIVE_VECTOR_WIDTH=512 gives subgroups of 16 lanes (Intel's
# GPUs have 8-32), 1024 of 32 (NVIDIA's). --gpu adds KVK_CHOOSE_AS=discrete: a discrete GPU's
# kernel, upload and workgroup choices. Not part of the test command: each width compiles
# every pipeline again, 6-8 minutes of a 2-core machine (the suite keeps one 32-lane run,
# keras_gpu_choices.lavapipe, against Keras).
#
#   scripts/wide-subgroups.sh [--gpu] [BITS...]    (default 512 1024; after a test build)
#
# Each width has its own Mesa shader cache: Mesa 22.3's lavapipe keys cached code without the
# vector width, and would hand one width's code to another.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${KVK_BUILD_DIR:-$root/build}"
cache="${KVK_CACHE_DIR:-$HOME/.cache/kvk}"
choose_as=""
if [ "${1:-}" = "--gpu" ]; then
  choose_as=discrete
  shift
fi
[ $# -gt 0 ] || set -- 512 1024
test_ops="$build/tests/unit/test_ops"
if [ ! -x "$test_ops" ]; then
  echo "wide-subgroups.sh: $test_ops is missing: build with -DKVK_BUILD_TESTS=ON first" >&2
  exit 2
fi
status=0
for bits in "$@"; do
  case "$bits" in
    128 | 256 | 512 | 1024) ;;
    *)
      echo "wide-subgroups.sh: $bits: lavapipe's vector widths are 128, 256, 512 and 1024 bits" >&2
      exit 2
      ;;
  esac
  log="$build/wide-subgroups-$bits${choose_as:+-$choose_as}.log"
  echo "lavapipe at $bits bits${choose_as:+, choosing as $choose_as}: $log"
  if env LP_NATIVE_VECTOR_WIDTH="$bits" KVK_CHOOSE_AS="$choose_as" \
      VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json KVK_VALIDATION=1 \
      KVK_DRIVER=lavapipe MESA_SHADER_CACHE_DIR="$cache/mesa-shader-cache-$bits" \
      XDG_CACHE_HOME="$build/test-cache-$bits" "$test_ops" >"$log" 2>&1; then
    grep -E "^device:|passed, " "$log"
  else
    status=1
    grep -E "^device:|FAIL|passed, " "$log" | head -20
  fi
done
exit $status
