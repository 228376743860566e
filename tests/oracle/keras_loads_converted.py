#!/usr/bin/env python3
"""`kvk convert --model resnet50` writes the real ImageNet ResNet50 weights (npm, TF.js) as
Keras' own resnet50_weights_tf_dim_ordering_tf_kernels.h5: tf-keras' ResNet50(weights=path)
must load it (by layer position, as keras.applications does), and its predictions on the
shared photos must be kvk's on the same file.

    keras_loads_converted.py KVK_BINARY MODEL_JSON IMAGES_DIR

Tolerance: each of kvk's top-5 probabilities within 1e-4 of Keras' for the same class, and
the same top-5 classes in the same order."""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import numpy as np  # noqa: E402

kvk, model_json, images = sys.argv[1], sys.argv[2], sys.argv[3]
photos = [os.path.join(images, f) for f in ("skimage_chelsea.png", "opencv_orange.jpg")]
failed = 0
with tempfile.TemporaryDirectory() as tmp:
    h5 = os.path.join(tmp, "resnet50_weights_tf_dim_ordering_tf_kernels.h5")
    subprocess.run([kvk, "convert", model_json, h5, "--model", "resnet50"], check=True)
    out = subprocess.run([kvk, "predict", *photos, "--model", "resnet50", "--weights", h5,
                          "--top", "5", "--json"], check=True, capture_output=True, text=True)
    ours = json.loads(out.stdout)

    import tf_keras  # noqa: E402  (after kvk ran: TensorFlow's LLVM and lavapipe's do not mix)
    from tf_keras.applications.resnet50 import preprocess_input  # noqa: E402
    model = tf_keras.applications.ResNet50(weights=h5)  # raises if the layout does not load
    for photo, mine in zip(photos, ours):
        img = tf_keras.utils.load_img(photo, target_size=(224, 224))
        x = preprocess_input(np.expand_dims(tf_keras.utils.img_to_array(img), 0))
        p = model.predict(x, verbose=0)[0]
        top = [int(i) for i in np.argsort(-p)[:5]]
        got = [d["index"] for d in mine["predictions"]]
        worst = max(abs(d["probability"] - float(p[d["index"]])) for d in mine["predictions"])
        ok = got == top and worst <= 1e-4
        failed += not ok
        print(f"{'ok' if ok else 'FAIL'}: {os.path.basename(photo)}: Keras top-5 {top} "
              f"p {np.round(p[top], 6).tolist()}; kvk {got}, largest difference {worst:.2g}")
print(f"{len(photos) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
