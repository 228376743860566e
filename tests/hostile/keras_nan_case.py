#!/usr/bin/env python3
"""A NaN weight through a whole Keras model: VGG16 without its top at 32x32, random weights,
one NaN in block5_conv3's bias (channel 7). Writes to OUT_DIR:
  weights.h5        save_weights()
  input.npy         (2, 32, 32, 3) caffe-range input
  conv.npy          block5_conv3's output: channel 7 NaN (ReLU keeps it)
  pool.npy          block5_pool's output: channel 7 -3.4e38 (MaxPool2D skips NaN)
  gmax.npy, gavg.npy  reduce_max / reduce_mean of block5_conv3 over (1, 2): channel 7 NaN
TensorFlow's Eigen kernels (TF_ENABLE_ONEDNN_OPTS=0), as the oracle cases.
usage: keras_nan_case.py OUT_DIR"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras.applications import vgg16

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
keras.utils.set_random_seed(3)
base = vgg16.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
layer = base.get_layer("block5_conv3")
kernel, bias = layer.get_weights()
bias[7] = np.nan
layer.set_weights([kernel, bias])
base.save_weights(os.path.join(out, "weights.h5"))
rng = np.random.default_rng(3)
x = (rng.uniform(0, 255, (2, 32, 32, 3)) - np.array([103.939, 116.779, 123.68])).astype(np.float32)
model = keras.Model(base.input, [layer.output, base.get_layer("block5_pool").output])
conv, pool = model.predict(x, verbose=0)
gmax = tf.reduce_max(conv, axis=[1, 2]).numpy()
gavg = keras.layers.GlobalAveragePooling2D()(conv).numpy()
assert np.isnan(conv[..., 7]).all() and (pool[..., 7] == -np.finfo(np.float32).max).all()
assert np.isnan(gmax[:, 7]).all() and np.isnan(gavg[:, 7]).all()
assert np.isfinite(np.delete(conv, 7, axis=3)).all()
for name, v in (("input", x), ("conv", conv), ("pool", pool), ("gmax", gmax), ("gavg", gavg)):
    np.save(os.path.join(out, name + ".npy"), v.astype(np.float32))
