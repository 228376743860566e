#!/usr/bin/env python3
"""A small Keras 2 save_weights() file written by h5py, as Keras writes one: fixed-length
string attributes layer_names / weight_names, variable-length string attributes (backend,
keras_version: h5py keeps them in a global heap), one group per layer, float32 datasets. The
corruption test flips bytes in its attribute and heap areas.
usage: make_small_keras_h5.py OUT.h5 [OUT_KERAS3.weights.h5]"""
import sys

import h5py
import numpy as np

rng = np.random.default_rng(0)
layers = [("conv1", [("kernel:0", (3, 3, 3, 4)), ("bias:0", (4,))]),
          ("bn1", [("gamma:0", (4,)), ("beta:0", (4,)), ("moving_mean:0", (4,)),
                   ("moving_variance:0", (4,))]),
          ("fc", [("kernel:0", (4, 5)), ("bias:0", (5,))]),
          ("flatten", [])]
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["layer_names"] = np.array([n.encode() for n, _ in layers])
    f.attrs["backend"] = "tensorflow"
    f.attrs["keras_version"] = "2.2.4"
    for name, weights in layers:
        g = f.create_group(name)
        g.attrs["weight_names"] = np.array([f"{name}/{w}".encode() for w, _ in weights])
        for w, shape in weights:
            g.create_dataset(f"{name}/{w}", data=rng.standard_normal(shape).astype(np.float32))

# The same weights in Keras 3's layout (weights_keras3.h), when a second path is given: one
# group per layer under `layers`, variables as datasets "0", "1", ... in `vars`, the layer's
# name as a variable-length string attribute of `vars` (kept in the global heap).
if len(sys.argv) > 2:
    rng = np.random.default_rng(0)
    with h5py.File(sys.argv[2], "w") as f:
        f.create_group("vars")
        for group, (name, weights) in zip(["conv2d", "batch_normalization", "dense"], layers):
            v = f.create_group(f"layers/{group}/vars")
            v.attrs["name"] = name
            for i, (_, shape) in enumerate(weights):
                v.create_dataset(str(i), data=rng.standard_normal(shape).astype(np.float32))
        f.create_group("layers/flatten/vars").attrs["name"] = "flatten"
