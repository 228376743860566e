#!/bin/bash
# Issue 7's checks on a real GPU, as one prepared run on a machine that has one but none of
# kvk's build tools (the device machine some sessions are lent: an NVIDIA H200, no Debian
# packages, minutes of time). Two halves:
#
#   scripts/gpu-check.sh --prepare   here, after a build in build/: packs the CLI, the op tests,
#                                    every shared library they load (the C library and its
#                                    loader too, so the host's glibc does not matter), the Vulkan
#                                    loader and the validation layer (Debian packages, by name)
#                                    and the smallest Keras oracle cases into .gpu/pack.tar.xz
#                                    (.gpu/ is ignored; about 19 MiB)
#   scripts/gpu-check.sh --run       there, from the repository root with .gpu carried: unpacks,
#                                    then prints the device record, runs every kernel variant the
#                                    GPU can run against the CPU reference with validation on
#                                    (tests/unit/test_ops: the cooperative-matrix one included
#                                    where the GPU has it), runs the smallest Keras oracle cases
#                                    against Keras' own outputs (tests/oracle/test_keras),
#                                    benchmarks ResNet50 at batch 1, 64 and 256 (fp32, then
#                                    fp16 weights, then the cooperative-matrix kernel forced),
#                                    then once more at batch 1 with --peak and --layers; the logs
#                                    go to $OUT
#
# Nothing is downloaded there; --run works on any machine with a Vulkan driver (on lavapipe,
# with GPU_CHECK_BATCHES="1" for the batches, it checks the script itself).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
gpu=$root/.gpu
KERAS_CASES="mobilenet_top_a025 mobilenet_v2_notop_avg_a035 k3_mobilenet_v2_notop_avg_a050
cfg_small_functional cfg_sequential_cnn cfg_new_layers cfg_keras3_functional"

prepare() {
    local build=${1:-$root/build}
    for f in "$build/kvk" "$build/tests/unit/test_ops" "$build/tests/oracle/test_keras"; do
        [ -x "$f" ] || { echo "gpu-check: no $f: build with -DKVK_BUILD_TESTS=ON first" >&2; exit 1; }
    done
    rm -rf "$gpu/stage" "$gpu/out"
    mkdir -p "$gpu/stage/bin" "$gpu/stage/lib" "$gpu/stage/deb"
    strip -o "$gpu/stage/bin/kvk" "$build/kvk"
    strip -o "$gpu/stage/bin/test_ops" "$build/tests/unit/test_ops"
    strip -o "$gpu/stage/bin/test_keras" "$build/tests/oracle/test_keras"
    # the smallest Keras oracle cases (MobileNet, MobileNetV2, the config-built models, Keras
    # 3's archives: 14 MiB), which the test build's oracle test wrote from real Keras
    mkdir -p "$gpu/stage/cases"
    local case
    for case in $KERAS_CASES; do
        [ -f "$build/oracle/$case/done.json" ] ||
            { echo "gpu-check: no $build/oracle/$case: run the oracle test (ctest -R oracle_keras_cases) first" >&2; exit 1; }
        cp -r "$build/oracle/$case" "$gpu/stage/cases/"
    done
    # every library either binary loads, resolved here, and the dynamic loader itself
    ldd "$build/kvk" "$build/tests/unit/test_ops" | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}' |
        sort -u | while read -r lib; do cp -L "$lib" "$gpu/stage/lib/"; done
    (cd "$gpu/stage/deb" && apt-get download libvulkan1 vulkan-validationlayers > ../apt.log 2>&1) ||
        { cat "$gpu/stage/apt.log" >&2; exit 1; }
    for deb in "$gpu/stage/deb"/*.deb; do dpkg -x "$deb" "$gpu/stage/root"; done
    rm -rf "$gpu/stage/deb" "$gpu/stage/apt.log" "$gpu/stage/root/usr/share/doc"
    # the validation layer's own libraries (libstdc++ and the like), from here too
    ldd "$gpu/stage/root/usr/lib/x86_64-linux-gnu/libVkLayer_khronos_validation.so" |
        awk '/=> \//{print $3}' | while read -r lib; do cp -nL "$lib" "$gpu/stage/lib/"; done
    tar -C "$gpu/stage" -cJf "$gpu/pack.tar.xz" .
    rm -rf "$gpu/stage"
    echo "gpu-check: $(du -h "$gpu/pack.tar.xz" | cut -f1) in $gpu/pack.tar.xz; on the device:"
    echo "  carry .gpu, then run: bash scripts/gpu-check.sh --run"
}

run() {
    local out=${OUT:-$gpu/out}
    [ -f "$gpu/pack.tar.xz" ] || { echo "gpu-check: no $gpu/pack.tar.xz: --prepare it first" >&2; exit 1; }
    local r
    r=$(mktemp -d "${TMPDIR:-/tmp}/kvk-gpu.XXXXXX") # outside .gpu, which travels
    mkdir -p "$out"
    tar -C "$r" -xJf "$gpu/pack.tar.xz"
    local libs=$r/lib:$r/root/usr/lib/x86_64-linux-gnu
    local ldso
    ldso=$(ls "$r"/lib/ld-linux-x86-64.so.* | head -1)
    export VK_LAYER_PATH=$r/root/usr/share/vulkan/explicit_layer.d
    # the NVIDIA driver's ICD where the device machine keeps it (its README), else the system's
    local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    if [ -f "$icd" ] && [ -z "${VK_ICD_FILENAMES:-}" ]; then export VK_DRIVER_FILES=$icd; fi
    # every binary through the packed loader and libraries, then the driver's (the NVIDIA
    # ICD's libraries where containers keep them, else the host's ld.so.cache)
    local nv
    for nv in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$nv" ] && libs=$libs:$nv; done
    libs=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    k() { timeout 300 "$ldso" --library-path "$libs" "$r/bin/$1" "${@:2}"; }
    set +e
    {
        echo "== $(date -u) on $(uname -n)"
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3
        k kvk devices --verbose
    } 2>&1 | tee "$out/devices.txt"
    echo "== op tests: every variant the device runs, forced, against the CPU reference"
    k test_ops > "$out/test_ops.txt" 2>&1
    echo "test_ops exit $? (whole log: test_ops.txt)"
    grep -E "^kernel|FAIL|tests? passed|failed|^[0-9.]+ s$" "$out/test_ops.txt" | head -60
    echo "== Keras' own outputs (fp32, tolerance 1e-4):" $KERAS_CASES
    k test_keras "$r"/cases/* > "$out/test_keras.txt" 2>&1
    echo "test_keras exit $? (whole log: test_keras.txt)"
    grep -E "largest relative error vs Keras: |FAIL|passed" "$out/test_keras.txt" | tail -12
    echo "== ResNet50, random weights, no CPU reference"
    local batches mode
    batches=$(echo ${GPU_CHECK_BATCHES:-1 64 256} | tr ' ' ,)
    for mode in fp32 fp16 coopmat; do
        local args=(bench --model ResNet50 --batch "$batches" --runs 10 --no-reference)
        [ "$mode" != fp32 ] && args+=(--precision fp16)
        echo "-- $mode"
        if [ "$mode" = coopmat ]; then
            KVK_KERNELS=conv2d_coopmat_f16 k kvk "${args[@]}" 2>&1
        else
            k kvk "${args[@]}" 2>&1
        fi
    done 2>&1 | tee "$out/bench.txt"
    echo "== ResNet50 batch 1, fp32: the device's GEMM and copy ceilings, the time per layer"
    k kvk bench --model ResNet50 --runs 10 --no-reference --peak --layers > "$out/layers.txt" 2>&1
    grep -E "peak|latency|throughput" "$out/layers.txt"
}

case "${1:-}" in
--prepare) prepare "${2:-}" ;;
--run) run ;;
*) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
