#!/usr/bin/env bash
# kvk against its peers, in one run on one machine (issue 7, section 4). Not a test.
#
#   scripts/compare.sh [--models vgg16,resnet50,...] [--batch N] [--runs R]
#                      [--engines kvk,ncnn-vulkan,ncnn-cpu,ort,keras] [--drivers lavapipe,swiftshader]
#                      [--benchncnn PATH] [--kvk PATH] [--doc FILE | --no-doc] [--note TEXT]
#
# For each model (default: all five) it times, each in its own process:
#   kvk          `kvk bench` on each CPU Vulkan driver (lavapipe, SwiftShader)
#   ncnn-vulkan  ncnn (PyPI wheel, Vulkan) on the same drivers
#   ncnn-cpu     ncnn on the CPU, 2 threads
#   ort          ONNX Runtime on the CPU, 2 threads
#   keras        Keras (tf_keras on TensorFlow) on the CPU, 2 threads
#   benchncnn    with --benchncnn PATH: ncnn's own benchncnn (built from source) on the drivers and the CPU
# ncnn and ONNX Runtime run the same architecture: the Keras model (random weights,
# weights=None: same FLOPs) exported with tf2onnx, then converted to ncnn with pnnx.
# Batch 1 by default; warm median of --runs runs (default 10) after one first inference.
# It prints one table (latency, GFLOP/s, kvk's fraction of its --peak GEMM probe, the same for
# its Conv2D and Dense layers alone from a second run timed per layer, peak RSS and
# kvk's device memory, kvk ÷ peer on the same device) and
# writes it, with this command, the date and the CPU, into the "Last run" section of
# docs/performance.md (the rest of that file is kept). A peer that fails shows as
# "n/a (reason)"; the script exits non-zero only on its own errors.
#
# The peers go into their own venv, ${KVK_CACHE_DIR:-~/.cache/kvk}/peers-venv (not the
# test venv), from PyPI by name, pinned; converted models are cached under
# ${KVK_CACHE_DIR:-~/.cache/kvk}/compare/. The drivers come from scripts/setup-deps.sh.
# The CPU drivers' speed depends on the host CPU: only ratios within one run mean anything.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${KVK_CACHE_DIR:-$HOME/.cache/kvk}"
VENV="$CACHE/peers-venv"
PY="$VENV/bin/python"
HELPER="$ROOT/scripts/compare_peers.py"

MODELS="vgg16,vgg19,resnet50,inception_v3,xception"
ENGINES="kvk,ncnn-vulkan,ncnn-cpu,ort,keras"
DRIVERS="lavapipe,swiftshader"
BATCH=1
RUNS=10
THREADS=2
BENCHNCNN=""
KVK="${KVK_BIN:-}"
DOC="$ROOT/docs/performance.md"
NOTE=""
quote() { # the arguments as a shell would need them, plainly where it can
  local a out=""
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./,=:+@%-]+$ ]]; then out+=" $a"; else out+=" '${a//\'/\'\\\'\'}'"; fi
  done
  printf '%s' "$out"
}
COMMAND="scripts/compare.sh$(quote "$@")"

log() { echo "compare: $*" >&2; }
die() { log "$*"; exit 2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --models) MODELS="$2"; shift 2 ;;
    --engines) ENGINES="$2"; shift 2 ;;
    --drivers) DRIVERS="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --benchncnn) BENCHNCNN="$2"; shift 2 ;;
    --kvk) KVK="$2"; shift 2 ;;
    --doc) DOC="$2"; shift 2 ;;
    --no-doc) DOC=""; shift ;;
    --note) NOTE="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done
[[ "$BATCH" =~ ^[1-9][0-9]*$ ]] || die "--batch takes a positive number"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs takes a positive number"
for m in ${MODELS//,/ }; do
  case "$m" in vgg16|vgg19|resnet50|inception_v3|xception) ;; *) die "unknown model $m" ;; esac
done
for e in ${ENGINES//,/ }; do
  case "$e" in kvk|ncnn-vulkan|ncnn-cpu|ort|keras) ;; *) die "unknown engine $e" ;; esac
done
if [ -n "$BENCHNCNN" ]; then
  [ -x "$BENCHNCNN" ] || die "--benchncnn $BENCHNCNN is not an executable"
  BENCHNCNN="$(cd "$(dirname "$BENCHNCNN")" && pwd)/$(basename "$BENCHNCNN")"
fi
has() { [[ ",$1," == *",$2,"* ]]; }

# ---------------------------------------------------------------- the peers' venv
# Pinned (tested together on Python 3.11, Debian 12). tensorflow-cpu instead of the full
# tensorflow that tf-keras asks for (hence --no-deps), as scripts/setup-python.sh does.
# pnnx is installed --no-deps too: the wheel's converter binary needs nothing, torch is
# only for its Python export helpers (and would add gigabytes).
PINS=(
  tensorflow-cpu==2.21.0
  keras==3.15.1
  h5py==3.14.0
  numpy==2.4.6
  tf2onnx==1.17.0
  onnx==1.23.2
  onnxruntime==1.32.0
  ncnn==1.0.20261020
)
NODEPS_PINS=(tf-keras==2.21.0 pnnx==20261020)

setup_peers() {
  if [ ! -x "$PY" ]; then
    log "creating venv $VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  fi
  if ! "$PY" "$(dirname "${BASH_SOURCE[0]}")/pins_installed.py" compare "${PINS[@]}" "${NODEPS_PINS[@]}"; then
    log "installing the peers into $VENV (a few minutes the first time)"
    "$PY" -m pip install -q --disable-pip-version-check --upgrade pip >&2
    "$PY" -m pip install -q --disable-pip-version-check "${PINS[@]}" >&2
    "$PY" -m pip install -q --disable-pip-version-check --no-deps "${NODEPS_PINS[@]}" >&2
  fi
  TF_CPP_MIN_LOG_LEVEL=3 "$PY" -c 'import tensorflow, tf_keras, tf2onnx, onnx, onnxruntime, ncnn' \
    >/dev/null 2>&1 || die "the peers' venv $VENV does not import; remove it and run again"
}

# ---------------------------------------------------------------- kvk and the drivers
find_kvk() {
  if [ -z "$KVK" ]; then
    KVK="$ROOT/build/kvk"
    if [ ! -x "$KVK" ]; then
      log "building kvk in $ROOT/build"
      cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DKVK_BUILD_TESTS=OFF >&2 && cmake --build "$ROOT/build" -j"$(nproc)" --target kvk_cli >&2 ||
        die "cannot build kvk (scripts/setup-deps.sh installs what it needs)"
    fi
  fi
  [ -x "$KVK" ] || die "no kvk at $KVK"
}

icd_of() {
  case "$1" in
    lavapipe) echo /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ;;
    swiftshader) echo "$CACHE/swiftshader/root/usr/lib/chromium/vk_swiftshader_icd.json" ;;
    *) die "unknown driver $1 (lavapipe, swiftshader)" ;;
  esac
}

# ---------------------------------------------------------------- measuring
RESULTS="$(mktemp "${TMPDIR:-/tmp}/kvk-compare.XXXXXX.jsonl")"
trap 'rm -f "$RESULTS" "$RESULTS.out"' EXIT

# record MODEL ENGINE DEVICE CMD...: runs CMD, keeps its last JSON line; a crash or a
# missing line becomes an error entry (the peer shows as n/a with the reason).
record() {
  local model="$1" engine="$2" device="$3"; shift 3
  log "$model: $engine on $device"
  local rc=0
  "$@" >"$RESULTS.out" 2>&1 || rc=$?
  local line
  line="$(grep '^{' "$RESULTS.out" | tail -n 1 || true)"
  if [ -n "$line" ]; then
    echo "$line" >>"$RESULTS"
  else
    local why
    why="$(grep -v '^\s*$' "$RESULTS.out" | tail -n 1 | tr -d '"\\' | cut -c1-150)"
    printf '{"model": "%s", "engine": "%s", "device": "%s", "error": "exited with %s: %s"}\n' \
      "$model" "$engine" "$device" "$rc" "$why" >>"$RESULTS"
  fi
}
na() { # na MODEL ENGINE DEVICE REASON
  printf '{"model": "%s", "engine": "%s", "device": "%s", "error": "%s"}\n' "$1" "$2" "$3" "$4" >>"$RESULTS"
}

kvk_bench() { # model icd device
  # The latency run, then a short run timed per layer (a timestamp and a barrier after every
  # step, so its latency is not the one reported) for the Conv2D and Dense layers' share of
  # the GEMM probe: the "large convolutions at 80%" figure.
  { VK_ICD_FILENAMES="$2" "$KVK" bench --model "$1" --batch "$BATCH" --runs "$RUNS" --no-reference --peak 2>&1
    VK_ICD_FILENAMES="$2" "$KVK" bench --model "$1" --batch "$BATCH" --runs 3 --no-reference --peak --layers 2>&1 |
      grep -E '^  products ' || true; } |
    "$PY" "$HELPER" kvk-parse --model "$1" --batch "$BATCH" --device "$3"
}

benchncnn_run() { # model icd-or-empty device gpu-index
  local shape="[3,224,224]"
  case "$1" in inception_v3|xception) shape="[3,299,299]" ;; esac
  local param="$WORK/$1.ncnn.param"
  [ -f "$param" ] || { echo '{"model": "'"$1"'", "engine": "benchncnn", "device": "'"$3"'", "error": "not converted"}'; return; }
  # benchncnn reads the .param only and fills the weights itself. Its input blob is the
  # NHWC image as pnnx left it (w=3, h=H, c=W). Warm loops = RUNS, 2 threads.
  (cd "$WORK" && VK_ICD_FILENAMES="$2" /usr/bin/time -v "$BENCHNCNN" "$RUNS" "$THREADS" 0 "$4" 0 \
    param="$param" shape="$shape" 2>&1) |
    "$PY" "$HELPER" benchncnn-parse --model "$1" --device "$3" --runs "$RUNS"
}

# ---------------------------------------------------------------- the run
setup_peers
has "$ENGINES" kvk && find_kvk
WORK="$CACHE/compare/models-tf2onnx1.17.0-pnnx20261020"
mkdir -p "$WORK"
export TF_CPP_MIN_LOG_LEVEL=3 OMP_NUM_THREADS="$THREADS"

for m in ${MODELS//,/ }; do
  if has "$ENGINES" ncnn-vulkan || has "$ENGINES" ncnn-cpu || has "$ENGINES" ort || [ -n "$BENCHNCNN" ]; then
    log "$m: exporting (Keras -> ONNX -> ncnn; cached in $WORK)"
    # At most 16 GB of address space: a converter that wants more fails (its peers show
    # n/a) instead of pushing a shared machine into the OOM killer.
    (ulimit -v 16000000; "$PY" "$HELPER" export --model "$m" --dir "$WORK" 2>"$WORK/$m.export.log") | tail -n 1 >&2 ||
      log "$m: export failed (see $WORK/$m.export.log); its peers will show n/a"
  fi
  for d in ${DRIVERS//,/ }; do
    icd="$(icd_of "$d")"
    if [ ! -f "$icd" ]; then
      for e in kvk ncnn-vulkan; do
        if has "$ENGINES" "$e"; then na "$m" "${e%-vulkan}" "$d" "driver not installed: $icd (scripts/setup-deps.sh)"; fi
      done
      if [ -n "$BENCHNCNN" ]; then na "$m" benchncnn "$d" "driver not installed: $icd"; fi
      continue
    fi
    has "$ENGINES" kvk && record "$m" kvk "$d" kvk_bench "$m" "$icd" "$d"
    has "$ENGINES" ncnn-vulkan && record "$m" ncnn "$d" env VK_ICD_FILENAMES="$icd" \
      "$PY" "$HELPER" ncnn --model "$m" --dir "$WORK" --device vulkan --label "$d" \
      --batch "$BATCH" --runs "$RUNS" --threads "$THREADS"
    if [ -n "$BENCHNCNN" ]; then record "$m" benchncnn "$d" benchncnn_run "$m" "$icd" "$d" 0; fi
  done
  has "$ENGINES" ncnn-cpu && record "$m" ncnn cpu "$PY" "$HELPER" ncnn --model "$m" --dir "$WORK" \
    --device cpu --label cpu --batch "$BATCH" --runs "$RUNS" --threads "$THREADS"
  if [ -n "$BENCHNCNN" ]; then record "$m" benchncnn cpu benchncnn_run "$m" "" cpu -1; fi
  has "$ENGINES" ort && record "$m" onnxruntime cpu "$PY" "$HELPER" ort --model "$m" --dir "$WORK" \
    --batch "$BATCH" --runs "$RUNS" --threads "$THREADS"
  has "$ENGINES" keras && record "$m" keras cpu "$PY" "$HELPER" keras --model "$m" \
    --batch "$BATCH" --runs "$RUNS" --threads "$THREADS"
done

echo
if [ -n "$DOC" ]; then
  mkdir -p "$(dirname "$DOC")"
  "$PY" "$HELPER" report --results "$RESULTS" --command "$COMMAND" --doc "$DOC" ${NOTE:+--note "$NOTE"}
  log "table written to $DOC"
else
  "$PY" "$HELPER" report --results "$RESULTS" --command "$COMMAND"
fi
