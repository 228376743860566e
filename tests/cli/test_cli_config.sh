#!/usr/bin/env bash
# The kvk command line on models saved with their architecture (make_config_cases.py writes
# them with tf-keras): predict --model-file (and --weights alone) against tf-keras' own
# predict on the same photos, --labels as lines and as a JSON list, inspect's layer table
# against model.summary()'s parameter count, and misuse refused with a message naming it.
# usage: test_cli_config.sh KVK_BINARY ORACLE_DIR
set -u
kvk=$1
oracle=$2
images="$KVK_SHARED_DATA/images"
small="$oracle/cfg_small_functional"
. "$(dirname "$0")/../common/cli_checks.sh"

photos=("$images/skimage_chelsea.png" "$images/opencv_orange.jpg")
# the model was fitted to inputs in [-1, 1]: --preprocess tf (its default, none, would feed
# raw pixels and saturate its softmax)
"$kvk" predict "${photos[@]}" --model-file "$small/model.h5" --top 6 --json --preprocess tf >"$tmp/p.json" 2>"$tmp/err"
check "predict --model-file exits 0" test $? -eq 0
cat "$tmp/err"
"$kvk" predict "${photos[@]}" --weights "$small/model.h5" --top 6 --json --preprocess tf >"$tmp/w.json"
check "--weights alone runs the saved model too" cmp -s "$tmp/p.json" "$tmp/w.json"
check "scores ranked, no ImageNet labels" python3 -c "
import json
r = json.load(open('$tmp/p.json'))
assert len(r) == 2
for img in r:
    p = img['predictions']
    assert len(p) == 6 and sorted(q['index'] for q in p) == list(range(6))
    assert all(q['label'] is None and 'wnid' not in q for q in p)
    assert all(p[i]['score'] >= p[i + 1]['score'] for i in range(5))
"

printf 'apple\nbanana\ncherry\r\ndate\nelder\nfig\n' >"$tmp/labels.txt"
"$kvk" predict "${photos[0]}" --model-file "$small/model.h5" --labels "$tmp/labels.txt" --top 2 >"$tmp/text"
check "--labels lines: text output" test "$(grep -cE '^  [12]\. (apple|banana|cherry|date|elder|fig) +[0-9.]+$' "$tmp/text")" -eq 2
echo '["apple", "banana", "cherry", "date", "elder", "fig"]' >"$tmp/labels.json"
"$kvk" predict "${photos[0]}" --model-file "$small/model.h5" --labels "$tmp/labels.json" --json >"$tmp/l.json"
check "--labels JSON list: labels by index" python3 -c "
import json
names = ['apple', 'banana', 'cherry', 'date', 'elder', 'fig']
p = json.load(open('$tmp/l.json'))[0]['predictions']
assert len(p) == 5 and all(q['label'] == names[q['index']] for q in p), p
"
"$kvk" predict "${photos[0]}" --model-file "$small/model.h5" >"$tmp/idx"
check "without labels: class indices" grep -qE '^  1\. class [0-5] +[0-9.]+$' "$tmp/idx"

"$kvk" inspect "$small/model.h5" >"$tmp/inspect"
check "inspect exits 0" test $? -eq 0
check "inspect says the saved architecture is used" grep -q "architecture: the file's model config" "$tmp/inspect"
check "inspect: the table's header" grep -qE '^Layer \(type\) +Output Shape +Param #$' "$tmp/inspect"
# image 30x34 -> ZeroPadding2D ((1, 2), (0, 1)) 33x35 -> Conv2D 3x3 stride 2 valid 16x17x8
check "inspect: a conv row" grep -qE '^stem \(Conv2D\) +\(None, 16, 17, 8\) +216$' "$tmp/inspect"
check "inspect: the shared conv's row" grep -qE '^shared_conv \(Conv2D\) +\(None, 16, 17, 8\) +584$' "$tmp/inspect"
check "inspect: a flat row" grep -qE '^probs \(Dense\) +\(None, 6\) +78$' "$tmp/inspect"
"$kvk" inspect "$small/weights.h5" >"$tmp/inspect_w"
check "inspect: a save_weights file has no architecture" grep -q "architecture: none in the file" "$tmp/inspect_w"

python=${KVK_PYTHON:-}
if [ -n "$python" ] && "$python" -c "import tf_keras, PIL" 2>/dev/null; then
  TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 "$python" - "$small/model.h5" "$tmp/p.json" "$tmp/inspect" "${photos[@]}" <<'PY'
import json, re, sys
import numpy as np
import tf_keras as keras
path, got, inspect, photos = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
model = keras.models.load_model(path, compile=False)
h, w = model.input_shape[1:3]
x = np.stack([keras.utils.img_to_array(keras.utils.load_img(p, target_size=(h, w)))
              for p in photos]) / 127.5 - 1.0  # preprocess_input mode 'tf'
want = model.predict(x, verbose=0)
assert want.max() < 0.999, f"saturated softmax: {want.max(axis=1)}"
for img, row in zip(json.load(open(got)), want):
    kvk = np.zeros_like(row)
    for q in img["predictions"]:
        kvk[q["index"]] = q["score"]
    err = np.linalg.norm(kvk - row) / np.linalg.norm(row)
    assert err < 1e-4, f"{img['image']}: relative error {err} vs tf-keras"
    print(f"{img['image']}: relative error vs tf-keras {err:.3g}")
total = int(re.search(r"Total params: (\d+)", open(inspect).read()).group(1))
assert total == model.count_params(), (total, model.count_params())
PY
  check "predict --model-file = tf-keras predict; inspect's total = count_params()" test $? -eq 0
else
  echo "skip: comparison with tf-keras (KVK_PYTHON has no tf_keras and Pillow)"
fi

expect_fail "--model and --model-file" "--model and --model-file contradict" predict x.png --model resnet50 --model-file "$small/model.h5"
expect_fail "a file without architecture" "carries no model architecture" predict "${photos[0]}" --model-file "$small/weights.h5"
expect_fail "labels of another count" "has 5 labels, the model has 6 outputs" predict "${photos[0]}" --model-file "$small/model.h5" --labels <(printf 'a\nb\nc\nd\ne\n')
expect_fail "labels file missing" "no-labels\.txt" predict "${photos[0]}" --model-file "$small/model.h5" --labels "$tmp/no-labels.txt"
echo '["a", 2]' >"$tmp/bad.json"
expect_fail "labels JSON with a number" "item 1 of the JSON list is not a string" predict "${photos[0]}" --model-file "$small/model.h5" --labels "$tmp/bad.json"
# a binary classifier (VGG16 base + Dense(1, sigmoid)): one score, printed as class 0
"$kvk" predict "${photos[0]}" --model-file "$oracle/cfg_vgg16_sigmoid/model.h5" --preprocess caffe >"$tmp/sig.out" 2>&1
check "a Dense(1, sigmoid) head predicts one score" grep -q "class 0" "$tmp/sig.out"
expect_fail "features: unknown layer of a saved model" "model 'small' has no layer named 'nope'" features "${photos[0]}" --model-file "$small/model.h5" --layer nope

"$kvk" features "${photos[@]}" --model-file "$small/model.h5" --layer stem_relu --layer gmp --pooling avg --json >"$tmp/f.json"
check "features of a saved model's layers" python3 -c "
import json
r = json.load(open('$tmp/f.json'))
assert [(f['layer'], f['shape']) for f in r] == [('stem_relu', [2, 8]), ('gmp', [2, 12])], r
"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
