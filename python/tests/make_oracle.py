#!/usr/bin/env python3
"""Writes what the Python package's tests compare against: weight files written by real Keras
(tf-keras, Keras 2 .h5, the layout of Keras' own ImageNet files) and Keras' outputs on them.

    make_oracle.py OUT_DIR        (seed: KVK_ORACLE_SEED, else the time; printed)

OUT_DIR gets, for the two examples of the Keras documentation run on a shared photo:
  resnet50.h5 / resnet50_x.npy / resnet50_preds.npy   ResNet50 (top, 224) random weights,
      the photo through Keras' load_img, img_to_array, preprocess_input, and model.predict
  vgg19.h5 / vgg19_x.npy / vgg19_block4_pool.npy     VGG19 without the top at 96x96: the
      block4_pool features of Model(base.input, base.get_layer('block4_pool').output)
  small_model.h5 / small_x.npy / small_y.npy          a small functional model saved whole
      (model.save: config and weights) for kvk.models.load_model
  oracle.json                                         seed, photo, versions, layer names
Random weights are calibrated on the input (tests/oracle/make_keras_cases.py init_weights)
so activations stay O(1) and the comparison means something."""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "oracle"))

PHOTO = "skimage_chelsea.png"


def main():
    out = sys.argv[1]
    seed = int(os.environ.get("KVK_ORACLE_SEED") or time.time())
    print(f"make_oracle: seed {seed}")
    os.makedirs(out, exist_ok=True)
    data = os.environ.get("KVK_SHARED_DATA", os.path.join(HERE, "..", "..", "..", "shared", "data"))
    photo = os.path.join(data, "images", PHOTO)

    import tensorflow as tf
    import tf_keras
    from make_keras_cases import init_weights

    rng = np.random.default_rng(seed)
    tf.random.set_seed(seed)
    image = tf_keras.preprocessing.image
    t0 = time.time()

    # Example 1: ResNet50 classification.
    from tf_keras.applications.resnet50 import ResNet50, preprocess_input

    img = image.load_img(photo, target_size=(224, 224))
    x = preprocess_input(np.expand_dims(image.img_to_array(img), axis=0))
    model = ResNet50(weights=None)
    init_weights(tf, tf_keras, model, x, rng)
    model.save_weights(os.path.join(out, "resnet50.h5"))
    np.save(os.path.join(out, "resnet50_x.npy"), x.astype(np.float32))
    np.save(os.path.join(out, "resnet50_preds.npy"), model.predict(x, verbose=0))
    layers = {"resnet50": [layer.name for layer in model.layers]}

    # Example 2: VGG19 features of block4_pool.
    from tf_keras.applications.vgg19 import VGG19
    from tf_keras.applications.vgg19 import preprocess_input as vgg_preprocess
    from tf_keras.models import Model

    img = image.load_img(photo, target_size=(96, 96))
    x = vgg_preprocess(np.expand_dims(image.img_to_array(img), axis=0))
    base = VGG19(weights=None, include_top=False, input_shape=(96, 96, 3))
    init_weights(tf, tf_keras, base, x, rng)
    base.save_weights(os.path.join(out, "vgg19.h5"))
    features = Model(inputs=base.input, outputs=base.get_layer("block4_pool").output)
    np.save(os.path.join(out, "vgg19_x.npy"), x.astype(np.float32))
    np.save(os.path.join(out, "vgg19_block4_pool.npy"), features.predict(x, verbose=0))
    layers["vgg19_block4_pool"] = [layer.name for layer in features.layers]

    # A small model saved whole, for load_model.
    L = tf_keras.layers
    inp = L.Input((32, 32, 3))
    y = L.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inp)
    y = L.BatchNormalization(name="bn")(y)
    y = L.MaxPooling2D(name="pool")(y)
    y = L.Conv2D(16, 3, strides=2, activation="relu", name="c2")(y)
    y = L.GlobalAveragePooling2D(name="gap")(y)
    y = L.Dense(10, activation="softmax", name="out")(y)
    small = tf_keras.Model(inp, y, name="small")
    xs = rng.uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    init_weights(tf, tf_keras, small, xs, rng)
    small.save(os.path.join(out, "small_model.h5"))
    np.save(os.path.join(out, "small_x.npy"), xs)
    np.save(os.path.join(out, "small_y.npy"), small.predict(xs, verbose=0))

    with open(os.path.join(out, "oracle.json"), "w") as f:
        json.dump(
            {"seed": seed, "photo": photo, "tf_keras": tf_keras.__version__, "layers": layers}, f
        )
    print(f"make_oracle: wrote {out} in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
