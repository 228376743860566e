#!/usr/bin/env bash
# Runs kvk's fuzz targets (tests/fuzz: the HDF5 / .keras reader, the TF.js reader, the image
# decoders, the .npy reader, the model-config builder) with libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer, in a clang build of the readers only (./build-fuzz).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   fuzz each target for SECONDS (default 60), from the
#       seeds (tests/fuzz/corpus/TARGET) and what earlier runs found (build-fuzz/fuzz/TARGET/
#       corpus). An input that crashes, leaks or hangs in kvk's code is copied to
#       tests/fuzz/corpus/TARGET/crash-SHA1 (one per kind of crash and place): a regression file,
#       replayed by the CTest test fuzz_TARGET from then on (fix the bug, commit both); all of
#       them stay in build-fuzz/fuzz/TARGET/artifacts. Inputs that crash libhdf5 itself
#       (which kvk runs in a child process for that reason) go to tests/fuzz/libhdf5/, one per
#       kind of crash, once the child-process reader was seen to refuse them cleanly.
#   scripts/fuzz.sh --runs N [TARGET...]   N runs per target from the seeds only, with a fixed
#       seed, writing nothing into the source tree (scripts/test.sh); fails on a crash in kvk.
#
# A figure line per target at the end: executions, coverage (libFuzzer's cov: edges and ft:
# features), corpus size, crash inputs in kvk, in libhdf5, and not reproduced alone. One
# fuzzing process at a time: timed runs in fork mode (-fork=1 -ignore_crashes=1: a crash is
# recorded and fuzzing goes on), --runs in a single process (a crash ends that target's run).
# Environment: KVK_FUZZ_BUILD_DIR (default ./build-fuzz), KVK_JOBS (build jobs; default: cores).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build="${KVK_FUZZ_BUILD_DIR:-$root/build-fuzz}"
jobs="${KVK_JOBS:-$(nproc)}"
all_targets=(hdf5 tfjs image npy config)

runs=""
seconds=60
if [ "${1:-}" = "--runs" ]; then
  runs="${2:?--runs needs a number}"
  shift 2
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz.sh: no target '$t' (${all_targets[*]})" >&2; exit 2; }
done

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (scripts/setup-deps.sh installs it)" >&2; exit 1; }
if ! out=$(cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DKVK_FUZZ=ON -DKVK_BUILD_TESTS=OFF 2>&1 &&
  cmake --build "$build" -j "$jobs" --target $(printf 'fuzz_%s ' "${targets[@]}") 2>&1); then
  echo "$out" >&2
  echo "fuzz.sh: the clang build of the fuzz targets ($build) failed" >&2
  exit 1
fi

# Whose crash a crash input is, from running it alone: the first frame of the sanitizer's or
# libFuzzer's stack trace that lies in kvk's sources or in libhdf5 decides ("kvk", "libhdf5");
# "none" when it runs cleanly alone (counted as not reproduced: the fuzzing process's memory
# as a whole, or an empty input fork mode records for a job that crashed before its first).
# Leaves INPUT.kind: the report's kind and that frame's function, e.g. "SEGV-H5HG_read",
# "leak-H5FL_reg_malloc" (the slow unwinder: libhdf5 has no frame pointers).
classify() {
  local exe=$1 input=$2 log
  if log=$(KVK_HDF5_ISOLATION=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ASAN_OPTIONS=fast_unwind_on_malloc=0 "$exe" -timeout=10 -rss_limit_mb=2048 "$input" 2>&1); then
    echo none
    return
  fi
  local first kind
  first=$(grep -E '^ +#[0-9]+ 0x' <<<"$log" | grep -E "libhdf5|$root/(src|tests)/" | head -n 1 || true)
  kind=$(grep -m 1 -oE 'ERROR: (AddressSanitizer: [a-zA-Z-]+|LeakSanitizer|libFuzzer: [a-z-]+)|runtime error' <<<"$log" |
    sed -E 's/.*(AddressSanitizer|libFuzzer): //; s/ERROR: LeakSanitizer/leak/; s/runtime error/ub/' || true)
  echo "${kind:-crash}-$(sed -E 's/.* in ([A-Za-z0-9_]+).*/\1/; t; s/.*/unknown/' <<<"$first")" >"$input.kind"
  case "$first" in
  *libhdf5*) echo libhdf5 ;;
  *) echo kvk ;;
  esac
}

status=0
summary=()
for t in "${targets[@]}"; do
  exe="$build/tests/fuzz/fuzz_$t"
  work="$build/fuzz/$t"
  rm -rf "$work/artifacts"
  [ -z "$runs" ] || rm -rf "$work/corpus" # from the seeds only: repeatable
  mkdir -p "$work/corpus" "$work/artifacts"
  # the targets' temporary folders: a crashing process leaves its own behind
  rm -rf "$work/tmp" && mkdir -p "$work/tmp"
  export TMPDIR="$work/tmp"
  # libFuzzer adds what it finds to its corpus folders: the seeds are copied, never written to
  cp -n "$root/tests/fuzz/corpus/$t"/* "$work/corpus/"
  args=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/")
  if [ -n "$runs" ]; then
    # one process, exactly N runs (a crash ends it early, and is sorted below)
    args+=(-runs="$runs" -seed=1)
  else
    args+=(-fork=1 -ignore_crashes=1 -max_total_time="$seconds")
  fi
  echo "fuzz.sh: fuzz_$t ${args[*]:3}" >&2
  log="$work/fuzz.log"
  # libhdf5 runs in this process under the fuzzer (tests/fuzz/fuzz_hdf5.c says why)
  KVK_HDF5_ISOLATION=0 "$exe" "${args[@]}" "$work/corpus" >"$log" 2>&1 || true
  # "#4019: cov: 1205 ft: 1050 corp: 53 exec/s 1163 oom/timeout/crash: 0/0/3 time: 9s ..." (-fork)
  # "#2000	DONE   cov: 88 ft: 143 corp: 38/4929b lim: 168 exec/s: 0 rss: 69Mb" (one process)
  last=$(grep -E '^#[0-9]+:?[[:space:]].*cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n 1 || true)
  if [ -z "$last" ]; then
    echo "fuzz.sh: fuzz_$t did not run; its log ($log) ends with:" >&2
    tail -n 20 "$log" >&2
    status=1
    continue
  fi
  kvk_crashes=0
  hdf5_crashes=0
  unreproduced=0
  filed=" " # the kinds of kvk crash filed in this run: one regression file each
  for a in "$work/artifacts"/*; do
    [ -f "$a" ] || continue
    case "$a" in *.kind) continue ;; esac
    rm -f "$a.kind"
    who=$(classify "$exe" "$a")
    [ -f "$a.kind" ] || echo none >"$a.kind"
    if [ "$who" = libhdf5 ]; then
      # kvk's defence: the same input through the child-process reader must end in an error
      if ! KVK_HDF5_ISOLATION=1 KVK_HDF5_TIMEOUT=20 "$exe" "$a" >/dev/null 2>&1; then
        who=kvk
        echo "fuzz.sh: $a crashes libhdf5 AND the child-process reader's caller" >&2
      fi
    fi
    case "$who" in
    none) unreproduced=$((unreproduced + 1)) ;;
    libhdf5)
      hdf5_crashes=$((hdf5_crashes + 1))
      if [ -z "$runs" ]; then
        # one file per kind of crash
        kind=$(tr -c 'A-Za-z0-9_\n-' _ <"$a.kind" | head -c 60)
        mkdir -p "$root/tests/fuzz/libhdf5"
        ls "$root/tests/fuzz/libhdf5/$kind-"* >/dev/null 2>&1 ||
          cp "$a" "$root/tests/fuzz/libhdf5/$kind-$(sha1sum "$a" | cut -c1-12)"
      fi
      ;;
    kvk)
      kvk_crashes=$((kvk_crashes + 1))
      status=1
      echo "fuzz.sh: fuzz_$t: crash in kvk ($(cat "$a.kind")): $a" >&2
      kind=$(cat "$a.kind")
      if [ -z "$runs" ] && [[ "$filed" != *" $kind "* ]]; then
        cp "$a" "$root/tests/fuzz/corpus/$t/crash-$(sha1sum "$a" | cut -c1-40)"
        filed+="$kind "
      fi
      ;;
    esac
  done
  figures=$(sed -E 's/^#([0-9]+):?[[:space:]].*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/runs \1  cov \2  ft \3  corpus \4/' <<<"$last")
  rm -rf "$work/tmp"
  summary+=("fuzz_$t: $figures  crashes: kvk $kvk_crashes, libhdf5 $hdf5_crashes, not reproduced alone $unreproduced")
done
printf 'fuzz.sh: %s\n' "${summary[@]}"
[ $status = 0 ] || echo "fuzz.sh: crashes in kvk's code (above)" >&2
exit $status
