#!/usr/bin/env bash
# The kvk command line, end to end: real weights give the right class for a photo in text and
# JSON, `inspect` and `devices` work, and every misuse fails with a non-zero exit and a message
# that names what is wrong.
# usage: test_cli.sh KVK_BINARY RESNET_MODEL_JSON
set -u
kvk=$1
weights=$2
images="$KVK_SHARED_DATA/images"
. "$(dirname "$0")/../common/cli_checks.sh"

"$kvk" predict "$images/skimage_chelsea.png" "$images/opencv_orange.jpg" --model resnet50 \
  --weights "$weights" --top 3 >"$tmp/text" 2>"$tmp/err"
check "predict exits 0" test $? -eq 0
cat "$tmp/text"
check "chelsea is a cat" grep -qE "^  1\. n0212[0-9]+ +(tabby|tiger_cat|Egyptian_cat)" "$tmp/text"
check "orange is an orange" grep -qE "^  1\. n07747607 +orange" "$tmp/text"
check "three lines per image" test "$(grep -c '^  [0-9]\.' "$tmp/text")" -eq 6

# --precision fp16: float16 weights on the device, the same classes
"$kvk" predict "$images/skimage_chelsea.png" "$images/opencv_orange.jpg" --model resnet50 \
  --weights "$weights" --top 3 --precision fp16 >"$tmp/text16" 2>"$tmp/err"
check "predict --precision fp16 exits 0" test $? -eq 0
check "fp16: the same three classes per image" test "$(awk '/^  [0-9]\./ {print $3}' "$tmp/text16")" = "$(awk '/^  [0-9]\./ {print $3}' "$tmp/text")"
expect_fail "--precision fp8" "--precision is fp32 or fp16, got fp8" predict x.png --model resnet50 --precision fp8
expect_fail "fp16 on the CPU reference" "CPU reference computes in float32 only" predict "$images/opencv_orange.jpg" --model resnet50 --weights "$weights" --precision fp16 --device cpu-reference

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

# ---- features: layer outputs, against Keras' own Model(base.input, get_layer(name).output) ----
# VGG16 without the top, random weights saved by Keras, at 64x64: one run on the driver under
# test (two layers, two files), one on the CPU reference (--pooling, --batch 1, one file), then
# the JSON values of a third run against that file, and the text summary.
python=${KVK_PYTHON:-}
if [ -n "$python" ] && "$python" -c "
from importlib.util import find_spec
assert find_spec('tf_keras') and find_spec('PIL')" 2>/dev/null; then
  cat >"$tmp/keras_features.py" <<'PY'
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
from PIL import Image
import tf_keras as keras
from tf_keras.applications import vgg16
tmp, chelsea = sys.argv[1], sys.argv[2]
Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(
    f"{tmp}/noise.png")
keras.utils.set_random_seed(1)
base = vgg16.VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))
base.save_weights(f"{tmp}/vgg16.h5")
x = np.stack([keras.utils.img_to_array(keras.utils.load_img(p, target_size=(64, 64)))
              for p in (chelsea, f"{tmp}/noise.png")])
outputs = {n: base.get_layer(n).output for n in ("block2_conv2", "block4_pool")}
outputs["block3_conv3_avg"] = keras.layers.GlobalAveragePooling2D()(
    base.get_layer("block3_conv3").output)
model = keras.Model(inputs=base.input, outputs=outputs)
for name, v in model.predict(vgg16.preprocess_input(x), verbose=0).items():
    np.save(f"{tmp}/keras.{name}.npy", v)
PY
  # compare_npy KVK_FILE KERAS_FILE SHAPE: the header as np.save writes it, and the values
  compare_npy() {
    "$python" - "$@" <<'PY'
import ast, sys
import numpy as np
path, ref, shape = sys.argv[1], sys.argv[2], ast.literal_eval(sys.argv[3])
raw = open(path, "rb").read()
assert raw[:8] == b"\x93NUMPY\x01\x00", raw[:8]
n = int.from_bytes(raw[8:10], "little")
header = ast.literal_eval(raw[10:10 + n].decode("latin1"))
assert header == {"descr": "<f4", "fortran_order": False, "shape": shape}, header
assert (10 + n) % 64 == 0 and len(raw) == 10 + n + 4 * int(np.prod(shape))
a, b = np.load(path), np.load(ref)
assert a.shape == b.shape == shape and a.dtype == np.float32
err = np.abs(a - b).max() / np.abs(b).max()
assert err < 1e-5, f"{path}: max error {err} of the largest value"
PY
  }
  if "$python" "$tmp/keras_features.py" "$tmp" "$images/skimage_chelsea.png"; then
    feat=("$images/skimage_chelsea.png" "$tmp/noise.png" --model vgg16 --weights "$tmp/vgg16.h5" --size 64)
    "$kvk" features "${feat[@]}" --layer block2_conv2 --layer block4_pool --out "$tmp/f.npy" >"$tmp/fout"
    check "features exits 0" test $? -eq 0
    check "features names the files" grep -qxF "block4_pool (2, 4, 4, 512) -> $tmp/f.block4_pool.npy" "$tmp/fout"
    check "features block2_conv2 = Keras" compare_npy "$tmp/f.block2_conv2.npy" "$tmp/keras.block2_conv2.npy" "(2, 32, 32, 128)"
    check "features block4_pool = Keras" compare_npy "$tmp/f.block4_pool.npy" "$tmp/keras.block4_pool.npy" "(2, 4, 4, 512)"
    "$kvk" features "${feat[@]}" --layer block3_conv3 --pooling avg --batch 1 --out "$tmp/p.npy" \
      --device cpu-reference >/dev/null
    check "features --pooling avg --batch 1 = Keras" compare_npy "$tmp/p.npy" "$tmp/keras.block3_conv3_avg.npy" "(2, 256)"
    check "features leaves no temporary file" test "$(ls "$tmp" | grep -c 'npy\.tmp')" -eq 0
    "$kvk" features "${feat[@]}" --layer block3_conv3 --pooling avg --json --device cpu-reference >"$tmp/f.json"
    check "features --json = the .npy" "$python" -c "
import json
import numpy as np
r = json.load(open('$tmp/f.json'))
assert len(r) == 1 and r[0]['layer'] == 'block3_conv3' and r[0]['shape'] == [2, 256], r[0]['shape']
assert r[0]['images'] == ['$images/skimage_chelsea.png', '$tmp/noise.png']
v, a = np.array(r[0]['values'], dtype=np.float32), np.load('$tmp/p.npy')
assert v.shape == (2, 256) and np.allclose(v, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())
"
    "$kvk" features "${feat[@]}" --layer block1_pool --device cpu-reference >"$tmp/ftext"
    check "features summary: shape" grep -qxF "block1_pool (2, 32, 32, 64):" "$tmp/ftext"
    check "features summary: a line per image" test "$(grep -c '^  .*: min .* max .* mean .* first ' "$tmp/ftext")" -eq 2
  else
    echo "FAIL: the Keras reference script"
    failed=$((failed + 1))
  fi
else
  echo "skip: features against Keras (KVK_PYTHON has no tf_keras and Pillow)"
fi

# features misuse: a message naming what is wrong, and no file left behind (nor a temporary one)
fw=(--model resnet50 --weights "$weights" --device cpu-reference)
expect_fail "features: unknown layer" "no layer named 'no_such_layer'" features "$images/skimage_chelsea.png" "${fw[@]}" --layer no_such_layer --out "$tmp/e.npy"
check "features: no file after an error" test -z "$(ls "$tmp" | grep '^e\.npy')"
expect_fail "features: classifier layer without --include-top" "need --include-top" features "$images/skimage_chelsea.png" "${fw[@]}" --layer fc1000
expect_fail "features: missing --layer" "features needs --layer" features "$images/skimage_chelsea.png" "${fw[@]}"
expect_fail "features: bad --pooling" "--pooling takes avg or max, got bogus" features "$images/skimage_chelsea.png" "${fw[@]}" --layer add_1 --pooling bogus
expect_fail "features: --pooling on a flat layer" "layer 'fc1000' has output shape \(1000,\): global pooling" features "$images/skimage_chelsea.png" "${fw[@]}" --include-top --layer fc1000 --pooling max
expect_fail "features: --include-top at another size" "input shape must be \(224, 224, 3\)" features "$images/skimage_chelsea.png" "${fw[@]}" --include-top --layer fc1000 --size 64
expect_fail "features: bad --size" "--size takes H or HxW" features "$images/skimage_chelsea.png" "${fw[@]}" --layer add_1 --size 0x5
printf 'old' >"$tmp/keep.npy"
expect_fail "features: unreadable image" "nope\.png" features "$images/skimage_chelsea.png" "$tmp/nope.png" "${fw[@]}" --layer add_1 --out "$tmp/keep.npy"
check "features: an existing file is kept after an error" test "$(cat "$tmp/keep.npy")" = old
check "features: no temporary file after errors" test "$(ls "$tmp" | grep -c 'npy\.tmp')" -eq 0
HOME="$tmp" expect_fail "features: default weights without the top" "\.keras/models/vgg19_weights_tf_dim_ordering_tf_kernels_notop\.h5" features x.png --model vgg19 --layer block1_conv1

# help and version: exit 0, usage on stdout; each command takes only its own options
# expect_ok NAME PATTERN ARGS... : kvk must exit 0 and stdout must match PATTERN
expect_ok "kvk --help" "kvk predict IMAGE" --help
expect_ok "kvk -h" "kvk bench --model" -h
expect_ok "kvk help" "kvk features IMAGE" help
expect_ok "kvk help predict" "kvk predict IMAGE" help predict
check "kvk help predict: predict only" test "$(grep -c '^  kvk ' "$tmp/out")" -eq "$(grep -c '^  kvk predict ' "$tmp/out")"
expect_ok "kvk features --help" "kvk features IMAGE" features --help
check "kvk features --help: features only" test "$(grep -c '^  kvk ' "$tmp/out")" -eq "$(grep -c '^  kvk features ' "$tmp/out")"
expect_ok "kvk inspect -h" "kvk inspect FILE" inspect -h
expect_ok "kvk --version" "^kvk [0-9]+\.[0-9]+\.[0-9]+" --version
expect_fail "kvk help of no command" "help: unknown command nope" help nope
expect_fail "predict --out" "predict does not take --out \(an option of features\)" predict "$images/opencv_orange.jpg" --model resnet50 --weights "$weights" --out "$tmp/predict_out.npy"
check "predict --out wrote nothing" test ! -e "$tmp/predict_out.npy"
expect_fail "predict --size 0x0 --out /nonexistent" "predict does not take --out" predict "$images/opencv_orange.jpg" --model resnet50 --weights "$weights" --size 0x0 --out /nonexistent
expect_fail "predict --size without --model-file" "predict takes --size only with --model-file" predict "$images/opencv_orange.jpg" --model resnet50 --weights "$weights" --size 0x0
expect_fail "predict --layer" "predict does not take --layer \(an option of features\)" predict x.png --model resnet50 --layer fc1000
expect_fail "features --top" "features does not take --top \(an option of predict\)" features x.png --model resnet50 --layer fc1000 --top 3
expect_fail "bench --weights" "bench does not take --weights" bench --model vgg16 --weights "$weights"
expect_fail "bench with a file" "unexpected argument x\.png" bench x.png --model vgg16
expect_fail "inspect --json" "inspect does not take --json" inspect "$weights" --json
expect_fail "devices --model" "devices does not take --model" devices --model vgg16
expect_fail "unknown option" "unknown option --frobnicate" predict x.png --frobnicate
# keras.applications' width arguments: MobileNet's alpha and depth_multiplier
expect_ok "bench --alpha 0.25 --depth-multiplier 2" "throughput" bench --model mobilenet --alpha 0.25 --depth-multiplier 2 --size 32 --runs 1 --no-top --no-reference
expect_fail "--alpha on VGG16" "VGG16 has no alpha \(got 0\.5" bench --model vgg16 --alpha 0.5 --size 32 --runs 1 --no-reference
expect_fail "--alpha 0" "--alpha needs a width multiplier above 0" bench --model mobilenet --alpha 0
HOME=$tmp expect_fail "--alpha picks Keras' file name" "mobilenet_5_0_224_tf\.h5 does not exist" predict "$images/opencv_orange.jpg" --model mobilenet --alpha 0.5

# --json is written whole or not at all: a bad image after a good one is an error with nothing
# on stdout (not half a document)
"$kvk" predict "$images/opencv_orange.jpg" "$tmp/bad.jpg" --model resnet50 --weights "$weights" \
  --json --batch 1 >"$tmp/half.json" 2>"$tmp/err"
check "json: a bad image in the middle fails" test $? -ne 0
check "json: and names it" grep -q "bad\.jpg" "$tmp/err"
check "json: nothing half-written on stdout" test ! -s "$tmp/half.json"

# NaN is not JSON: a copy of the weights with a NaN in fc1000's bias makes every probability
# NaN (softmax of a row holding NaN, as TensorFlow), written as null
mkdir "$tmp/nan_model"
cp "$(dirname "$weights")"/* "$tmp/nan_model/"
python3 - "$tmp/nan_model" <<'PY'
import json, os, struct, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "model.json")))
for g in m["weightsManifest"]:
    offset = 0
    for w in g["weights"]:
        n = 1
        for s in w["shape"]:
            n *= s
        if w["name"] == "fc1000/bias":
            for p in g["paths"]:  # find the shard holding byte `offset`
                size = os.path.getsize(os.path.join(d, p))
                if offset < size:
                    with open(os.path.join(d, p), "r+b") as f:
                        f.seek(offset)
                        f.write(struct.pack("<f", float("nan")))
                    sys.exit(0)
                offset -= size
        offset += 4 * n
sys.exit("fc1000/bias not found")
PY
check "json: the NaN copy is written" test $? -eq 0
"$kvk" predict "$images/opencv_orange.jpg" --model resnet50 --weights "$tmp/nan_model/model.json" \
  --json --top 2 >"$tmp/nan.json" 2>"$tmp/err"
check "json: NaN output exits 0" test $? -eq 0
check "json: NaN probabilities are null" python3 -c "
import json
r = json.load(open('$tmp/nan.json'))
p = r[0]['predictions']
assert len(p) == 2 and all(x['probability'] is None for x in p), p
"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
