#!/usr/bin/env python3
"""Writes what Keras' image pipeline gives for each test photo, as .npy, for test_image.

Usage: pil_reference.py OUT_DIR [IMAGES_DIR]

For every image in IMAGES_DIR (default $KVK_SHARED_DATA/images) and every size HxW in SIZES:
  <stem>_<H>x<W>_<mode>.npy   float32 (H, W, 3)
where mode is
  caffe, tf     keras.utils.load_img(path, target_size=(H, W)) (nearest) + img_to_array
                + keras.applications.imagenet_utils.preprocess_input(mode=...)
  none          the same pixels before preprocessing (0..255, RGB)
  bilinear      load_img(..., interpolation="bilinear"), no preprocessing
and <stem>_full_none.npy, the decoded image at its own size.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras.applications import imagenet_utils  # noqa: E402

SIZES = [(224, 224), (299, 299), (97, 131)]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    images = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.environ["KVK_SHARED_DATA"], "images")
    os.makedirs(out_dir, exist_ok=True)
    for name in sorted(os.listdir(images)):
        stem, ext = os.path.splitext(name)
        if ext.lower() not in (".png", ".jpg", ".jpeg", ".bmp"):
            continue
        path = os.path.join(images, name)
        full = keras.utils.img_to_array(keras.utils.load_img(path), dtype="float32")
        np.save(os.path.join(out_dir, f"{stem}_full_none.npy"), full)
        for h, w in SIZES:
            base = os.path.join(out_dir, f"{stem}_{h}x{w}")
            x = keras.utils.img_to_array(
                keras.utils.load_img(path, target_size=(h, w)), dtype="float32")
            np.save(base + "_none.npy", x)
            for mode in ("caffe", "tf"):
                y = imagenet_utils.preprocess_input(x.copy(), mode=mode)
                np.save(base + f"_{mode}.npy", y.astype(np.float32, copy=False))
            b = keras.utils.img_to_array(
                keras.utils.load_img(path, target_size=(h, w), interpolation="bilinear"),
                dtype="float32")
            np.save(base + "_bilinear.npy", b)


if __name__ == "__main__":
    main()
