#!/usr/bin/env bash
# Hostile and broken inputs through the command line (issue 8), on the CPU reference device with
# the real ResNet50 weights: memory asked for from declared sizes (--batch, image headers) under
# `ulimit -v`, things that are not image files, and the pixel limit's option and variable.
# usage: test_hostile_cli.sh KVK_BINARY RESNET_MODEL_JSON
set -u
kvk=$1
weights=$2
images="$KVK_SHARED_DATA/images"
export KVK_DEVICE=cpu-reference
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { passed=$((passed + 1)); }
bad() {
  failed=$((failed + 1))
  echo "FAIL: $*"
}

# A 6 GB address-space limit, unless kvk cannot even start under one (AddressSanitizer reserves
# terabytes of address space: the sanitizer build runs without it)
limit=6000000
if ! (ulimit -v "$limit" && exec "$kvk" --version) >/dev/null 2>&1; then
  echo "note: no address-space limit ($kvk does not start under one: a sanitizer build?)"
  limit=unlimited
fi

# run NAME EXPECT PATTERN ARGS... : kvk exits 0 (EXPECT=pass) or non-zero (EXPECT=fail), under
# the address-space limit, and its stdout+stderr match PATTERN. The timeout only catches a hang:
# a ResNet50 predict on the CPU reference in the sanitizer build, sharing CI's two cores with
# ops.lavapipe, once took over 60 s.
run() {
  local name=$1 expect=$2 pattern=$3
  shift 3
  (ulimit -v "$limit" && exec timeout 240 "$kvk" "$@") >"$tmp/out" 2>&1
  local rc=$?
  if [ "$expect" = pass ] && [ $rc -ne 0 ]; then
    bad "$name: exit status $rc"
    cat "$tmp/out"
  elif [ "$expect" = fail ] && { [ $rc -eq 0 ] || [ $rc -ge 124 ]; }; then
    bad "$name: exit status $rc (expected a clean error)"
    cat "$tmp/out"
  elif ! grep -qE -- "$pattern" "$tmp/out"; then
    bad "$name: output does not match /$pattern/:"
    cat "$tmp/out"
  else
    ok
  fi
}

orange="$images/opencv_orange.jpg"
model=(--model resnet50 --weights "$weights")

# --- memory from declared sizes ----------------------------------------------------------
run "predict --batch 1000000 with one image" pass "orange" predict "$orange" "${model[@]}" --batch 1000000 --top 1
run "features --batch 1000000" pass "bn_conv1" features "$orange" "${model[@]}" --layer bn_conv1 --pooling avg --batch 1000000 --size 64

# a 40x30 PNG (1200 pixels), written with Python's standard library
python3 - "$tmp/small.png" <<'PY'
import struct, sys, zlib
w, h = 40, 30
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
raw = b"".join(b"\0" + bytes([200, 120, 40]) * w for _ in range(h))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
run "--max-pixels 1000 refuses 40x30" fail "small\.png.*40x30 = 1200 pixels.*1000" predict "$tmp/small.png" "${model[@]}" --max-pixels 1000
run "--max-pixels 2000 warns" pass "warning.*40x30" predict "$tmp/small.png" "${model[@]}" --max-pixels 2000 --top 1
KVK_MAX_IMAGE_PIXELS=1000 run "KVK_MAX_IMAGE_PIXELS=1000" fail "40x30 = 1200 pixels" predict "$tmp/small.png" "${model[@]}"
KVK_MAX_IMAGE_PIXELS=1000 run "--max-pixels overrides the variable" pass "small\.png" predict "$tmp/small.png" "${model[@]}" --max-pixels 0
run "--max-pixels takes a number" fail "--max-pixels needs a number" predict "$tmp/small.png" "${model[@]}" --max-pixels lots

# --- not image files -----------------------------------------------------------------------
run "/dev/zero as an image" fail "/dev/zero: not a regular file" predict /dev/zero "${model[@]}"
mkfifo "$tmp/fifo.jpg"
run "a FIFO as an image" fail "fifo\.jpg: not a regular file \(a FIFO\)" predict "$tmp/fifo.jpg" "${model[@]}"
run "a directory as an image" fail "not a regular file \(a directory\)" predict "$tmp" "${model[@]}"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
