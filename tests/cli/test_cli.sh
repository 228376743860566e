#!/usr/bin/env bash
# The kvk command line, end to end: real weights give the right class for a photo in text and
# JSON, `inspect` and `devices` work, and every misuse fails with a non-zero exit and a message
# that names what is wrong.
# usage: test_cli.sh KVK_BINARY RESNET_MODEL_JSON
set -u
kvk=$1
weights=$2
images="$KVK_SHARED_DATA/images"
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # check NAME COMMAND... : passes when the command succeeds
  local name=$1
  shift
  if "$@"; then passed=$((passed + 1)); else
    failed=$((failed + 1))
    echo "FAIL: $name"
  fi
}

# expect_fail NAME PATTERN ARGS... : kvk must exit non-zero and stderr must match PATTERN
expect_fail() {
  local name=$1 pattern=$2
  shift 2
  if "$kvk" "$@" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL: $name: exit status 0"
    failed=$((failed + 1))
  elif ! grep -qE -- "$pattern" "$tmp/err"; then
    echo "FAIL: $name: stderr does not match /$pattern/:"
    cat "$tmp/err"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
}

"$kvk" predict "$images/skimage_chelsea.png" "$images/opencv_orange.jpg" --model resnet50 \
  --weights "$weights" --top 3 >"$tmp/text" 2>"$tmp/err"
check "predict exits 0" test $? -eq 0
cat "$tmp/text"
check "chelsea is a cat" grep -qE "^  1\. n0212[0-9]+ +(tabby|tiger_cat|Egyptian_cat)" "$tmp/text"
check "orange is an orange" grep -qE "^  1\. n07747607 +orange" "$tmp/text"
check "three lines per image" test "$(grep -c '^  [0-9]\.' "$tmp/text")" -eq 6

"$kvk" predict "$images/opencv_orange.jpg" --model resnet50 --weights "$weights" --json >"$tmp/json"
check "json exits 0" test $? -eq 0
check "json is valid and ranked" python3 -c "
import json, sys
r = json.load(open('$tmp/json'))
p = r[0]['predictions']
assert r[0]['image'].endswith('opencv_orange.jpg') and len(p) == 5
assert p[0]['label'] == 'orange' and p[0]['wnid'] == 'n07747607' and p[0]['index'] == 950
assert all(p[i]['probability'] >= p[i + 1]['probability'] for i in range(4))
"

"$kvk" inspect "$weights" >"$tmp/inspect"
check "inspect exits 0" test $? -eq 0
check "inspect names the format and a layer" grep -q "TensorFlow.js" "$tmp/inspect"
check "inspect lists conv1's kernel" grep -qE "conv1/kernel +\(7, 7, 3, 64\)" "$tmp/inspect"
"$kvk" devices >"$tmp/devices"
check "devices lists one" grep -q "maxStorageBufferRange" "$tmp/devices"

expect_fail "no arguments" "usage" 
expect_fail "unknown command" "unknown command" frobnicate
expect_fail "unknown model" "unknown model 'alexnet'.*vgg16" predict x.png --model alexnet --weights "$weights"
expect_fail "missing image" "nope\.png" predict "$tmp/nope.png" --model resnet50 --weights "$weights"
expect_fail "missing weights" "no-such-file\.h5" predict "$images/opencv_orange.jpg" --model resnet50 --weights "$tmp/no-such-file.h5"
printf 'not an image' >"$tmp/bad.jpg"
expect_fail "corrupt image" "bad\.jpg" predict "$tmp/bad.jpg" --model resnet50 --weights "$weights"
expect_fail "weights of another model" "no weights for layer 'block1_conv1'" predict "$images/opencv_orange.jpg" --model vgg16 --weights "$weights"
HOME="$tmp" expect_fail "default weights missing" "\.keras/models/vgg19_weights_tf_dim_ordering_tf_kernels\.h5" predict "$images/opencv_orange.jpg" --model vgg19
expect_fail "bad --top" "--top needs a positive number" predict x.png --model resnet50 --top zero
expect_fail "bad --device" "no Vulkan device name contains 'no-such-gpu'" predict "$images/opencv_orange.jpg" --model resnet50 --weights "$weights" --device no-such-gpu
expect_fail "bad --resize" "--resize takes nearest or bilinear" predict x.png --model resnet50 --weights "$weights" --resize cubic

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
