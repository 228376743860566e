#!/usr/bin/env python3
"""Generate Keras oracle test cases with random weights.

    make_keras_cases.py OUT_DIR [--case NAME ...] [--list] [--force] [--threads N]

For each case, OUT_DIR/NAME/ gets:
  weights.h5     model.save_weights(): Keras 2 HDF5 layout (root attr
                 layer_names, per-layer attr weight_names like "conv1_conv/kernel:0")
  model.h5       model.save(): legacy HDF5 full model (model_weights + model_config)
                 (only cases that list it)
  weights_th.h5  theano-ordered copy of weights.h5 (only cases that list it):
                 every Conv2D kernel flipped spatially (kernel[::-1, ::-1, :, :],
                 keras conv_utils.convert_kernel); the first Dense after Flatten
                 (VGG fc1) has its kernel rows in channels_first flatten order
                 (c, h, w) instead of (h, w, c); root attr backend = "theano"
  input.npy      float32 NHWC input, uniform per channel over the caffe-mode
                 range of each BGR channel (pixel 0..255 minus the ImageNet mean)
  output.npy     float32 model.predict(input)
  case.json      description of the case (arch, naming, sizes, files, versions)
  done.json      completion marker (script hash, time, bytes); a case whose
                 done.json has this script's hash is skipped on reruns

Random weights are scaled so activations stay O(1) through the deep nets:
conv/dense kernels ~ N(0, 2/fan_in); biases ~ N(0, (0.2 * s)^2) where s is the
std of the layer's pre-bias output on this case's input; BatchNormalization
moving stats are calibrated on the input (mean + N(0, 0.1) * std, var *
U(0.5, 1.5)), gamma ~ U(0.5, 1.5), beta ~ N(0, 0.2); the softmax classifier's
kernel is scaled so logits have std ~2 (softmax not saturated).
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import zlib

# Quiet, reproducible TensorFlow on CPU; must be set before importing it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")   # plain Eigen kernels
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import numpy as np

SCRIPT_HASH = hashlib.sha256(open(os.path.abspath(__file__), "rb").read() +
                             os.environ.get("KVK_ORACLE_SEED", "").encode()).hexdigest()

# Caffe-mode input range per channel (BGR): [0, 255] - ImageNet mean.
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)

# name: (arch, naming, include_top, pooling, classes, height, width, batch, files)
CASES = {
    "vgg16_top":                 ("vgg16", None, True, None, 1000, 224, 224, 1, ["weights.h5", "weights_th.h5"]),
    "vgg16_notop_avg":           ("vgg16", None, False, "avg", 1000, 64, 80, 2, ["weights.h5", "model.h5", "weights_th.h5"]),
    "vgg19_top":                 ("vgg19", None, True, None, 1000, 224, 224, 1, ["weights.h5"]),
    "vgg19_notop_max":           ("vgg19", None, False, "max", 1000, 48, 48, 1, ["weights.h5"]),
    "vgg16_top_classes10":       ("vgg16", None, True, None, 10, 224, 224, 2, ["weights.h5"]),
    "resnet50_top":              ("resnet50", "keras2", True, None, 1000, 224, 224, 1, ["weights.h5", "model.h5"]),
    "resnet50_legacy_top":       ("resnet50", "legacy", True, None, 1000, 224, 224, 1, ["weights.h5", "model.h5"]),
    "resnet50_notop_avg":        ("resnet50", "keras2", False, "avg", 1000, 96, 128, 3, ["weights.h5"]),
    "resnet50_legacy_notop_max": ("resnet50", "legacy", False, "max", 1000, 128, 160, 1, ["weights.h5"]),
    "resnet50_notop_none":       ("resnet50", "keras2", False, None, 1000, 192, 224, 1, ["weights.h5"]),
    "resnet50_classes7":         ("resnet50", "keras2", True, None, 7, 224, 224, 1, ["weights.h5"]),
}


def build_model(tf_keras, arch, naming, include_top, pooling, classes, h, w):
    """Instantiate the Keras Applications model with random (unset) weights."""
    kw = dict(weights=None, include_top=include_top, pooling=pooling,
              classes=classes, input_shape=(h, w, 3))
    if arch == "vgg16":
        return tf_keras.applications.VGG16(**kw)
    if arch == "vgg19":
        return tf_keras.applications.VGG19(**kw)
    if naming == "keras2":
        return tf_keras.applications.ResNet50(**kw)
    # keras-applications 1.0.8: the Keras 2.2.x ResNet50 (conv1, bn_conv1,
    # res2a_branch2a, ..., fc1000), run on tf-keras' backend/layers.
    import keras_applications.resnet50 as kr
    return kr.ResNet50(backend=tf_keras.backend, layers=tf_keras.layers,
                       models=tf_keras.models, utils=tf_keras.utils, **kw)


def init_weights(tf, tf_keras, model, x, rng):
    """Set random weights, walking the graph eagerly on input x so BN stats,
    bias scales and the classifier scale are fitted to actual activations."""
    cfg = model.get_config()
    values = {}  # layer name -> eager output tensor
    for name, _, _ in cfg["input_layers"]:
        values[name] = tf.constant(x)
    for lc in cfg["layers"]:
        layer = model.get_layer(lc["name"])
        if isinstance(layer, tf_keras.layers.InputLayer):
            continue
        inb = [values[n[0]] for n in lc["inbound_nodes"][0]]
        xin = inb[0] if len(inb) == 1 else inb

        if isinstance(layer, (tf_keras.layers.Conv2D, tf_keras.layers.Dense)):
            kernel = layer.kernel
            fan_in = int(np.prod(kernel.shape[:-1]))
            k = rng.standard_normal(kernel.shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
            zero_b = np.zeros(layer.bias.shape, np.float32)
            layer.set_weights([k, zero_b])
            act = layer.activation
            layer.activation = tf_keras.activations.linear
            y = layer(xin).numpy()            # pre-bias, pre-activation output
            layer.activation = act
            if act is tf_keras.activations.softmax:
                # classifier: logits with std ~2
                scale = np.float32(2.0 / max(float(y.std()), 1e-12))
                k *= scale
                y *= scale
            s = float(y.std())
            b = (rng.standard_normal(zero_b.shape) * 0.2 * s).astype(np.float32)
            layer.set_weights([k, b])
            out = act(tf.constant(y + b))
        elif isinstance(layer, tf_keras.layers.BatchNormalization):
            xv = xin.numpy()
            axes = tuple(range(xv.ndim - 1))
            mean = xv.mean(axis=axes)
            var = xv.var(axis=axes)
            # Statistics of a few pixels (small inputs, batch 1) make x - mean cancel almost
            # exactly, which amplifies fp32 rounding until the comparison measures Keras' own
            # float error (seen: Keras fp32 vs fp64 2.8e-3). Centre only halfway and scale by
            # the second moment, so that no BatchNormalization amplifies rounding much.
            var = var + mean * mean + 1e-6
            mean = 0.5 * mean
            c = mean.shape[0]
            gamma = rng.uniform(0.5, 1.5, c).astype(np.float32)
            beta = (rng.standard_normal(c) * 0.2).astype(np.float32)
            mmean = (mean + rng.standard_normal(c) * 0.1 * np.sqrt(var)).astype(np.float32)
            mvar = (var * rng.uniform(0.5, 1.5, c)).astype(np.float32)
            byname = {"gamma": gamma, "beta": beta, "moving_mean": mmean, "moving_variance": mvar}
            layer.set_weights([byname[wt.name.split("/")[-1].split(":")[0]] for wt in layer.weights])
            out = layer(xin, training=False)
        else:
            assert not layer.weights, f"unexpected weighted layer {layer.name} ({type(layer).__name__})"
            out = layer(xin)
        values[layer.name] = out


def write_theano_copy(h5py, src, dst, model, tf_keras):
    """weights_th.h5: weights.h5 with flipped conv kernels, fc1 rows in
    (c, h, w) order and backend = "theano"."""
    shutil.copyfile(src, dst)
    convs = {l.name for l in model.layers if isinstance(l, tf_keras.layers.Conv2D)}
    fc1 = None  # (dense name, (h, w, c)) for the first Dense after a Flatten
    for i, l in enumerate(model.layers):
        if isinstance(l, tf_keras.layers.Flatten):
            for nxt in model.layers[i + 1:]:
                if isinstance(nxt, tf_keras.layers.Dense):
                    fc1 = (nxt.name, tuple(l.input_shape[1:]))
                    break
            break
    with h5py.File(dst, "r+") as f:
        old = f.attrs.get("backend")
        f.attrs["backend"] = b"theano" if isinstance(old, bytes) else "theano"
        for lname in f.attrs["layer_names"]:
            lname = lname.decode() if isinstance(lname, bytes) else lname
            g = f[lname]
            for wname in g.attrs["weight_names"]:
                wname = wname.decode() if isinstance(wname, bytes) else wname
                if not wname.endswith("kernel:0"):
                    continue
                d = g[wname]
                if lname in convs:
                    d[...] = d[()][::-1, ::-1, :, :]
                elif fc1 and lname == fc1[0]:
                    h, w, c = fc1[1]
                    k = d[()]
                    d[...] = k.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(k.shape)
    return fc1


def check_theano_copy(h5py, plain, th, fc1):
    """Undo the theano conversion with numpy and compare with weights.h5."""
    with h5py.File(plain, "r") as a, h5py.File(th, "r") as b:
        nflip = 0
        for lname in a.attrs["layer_names"]:
            lname = lname.decode() if isinstance(lname, bytes) else lname
            for wname in a[lname].attrs["weight_names"]:
                wname = wname.decode() if isinstance(wname, bytes) else wname
                x, y = a[lname][wname][()], b[lname][wname][()]
                if wname.endswith("kernel:0") and y.ndim == 4:
                    y = y[::-1, ::-1]
                    nflip += 1
                elif fc1 and lname == fc1[0] and wname.endswith("kernel:0"):
                    h, w, c = fc1[1]
                    y = y.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(y.shape)
                assert np.array_equal(x, y), f"theano copy mismatch at {lname}/{wname}"
    return nflip


def dir_bytes(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def make_case(name, out_root, mods):
    tf, tf_keras, h5py = mods
    arch, naming, top, pooling, classes, h, w, batch, files = CASES[name]
    d = os.path.join(out_root, name)
    t0 = time.time()
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)

    # KVK_ORACLE_SEED (CI sets a fresh one per run) changes every case's weights and input
    seed = zlib.crc32((name + os.environ.get("KVK_ORACLE_SEED", "")).encode())
    rng = np.random.default_rng(seed)
    tf_keras.backend.clear_session()   # reproducible auto layer names (input_1, ...)
    tf_keras.utils.set_random_seed(seed % (2**31))

    model = build_model(tf_keras, arch, naming, top, pooling, classes, h, w)

    # Input like a caffe-preprocessed BGR image: channel c in [-mean_c, 255 - mean_c].
    x = (rng.uniform(0.0, 255.0, (batch, h, w, 3)).astype(np.float32) - CAFFE_MEAN_BGR).astype(np.float32)
    init_weights(tf, tf_keras, model, x, rng)
    y = model.predict(x, batch_size=batch, verbose=0).astype(np.float32)

    np.save(os.path.join(d, "input.npy"), x)
    np.save(os.path.join(d, "output.npy"), y)
    model.save_weights(os.path.join(d, "weights.h5"))
    if "model.h5" in files:
        model.save(os.path.join(d, "model.h5"), include_optimizer=False)
    fc1 = None
    if "weights_th.h5" in files:
        fc1 = write_theano_copy(h5py, os.path.join(d, "weights.h5"),
                                os.path.join(d, "weights_th.h5"), model, tf_keras)
        check_theano_copy(h5py, os.path.join(d, "weights.h5"), os.path.join(d, "weights_th.h5"), fc1)

    # Reload check: the saved files reproduce output.npy exactly.
    for fname in ("weights.h5", "model.h5"):
        if fname not in files:
            continue
        if fname == "model.h5":
            m2 = tf_keras.models.load_model(os.path.join(d, fname), compile=False)
        else:
            m2 = build_model(tf_keras, arch, naming, top, pooling, classes, h, w)
            m2.load_weights(os.path.join(d, fname))
        y2 = m2.predict(x, batch_size=batch, verbose=0)
        assert np.array_equal(y, y2), f"{name}: {fname} reload gives different output"
        del m2

    weighted = [l for l in model.layers if l.weights]
    bn = [l for l in model.layers if isinstance(l, tf_keras.layers.BatchNormalization)]
    info = {
        "name": name,
        "arch": arch,
        "naming": naming,
        "include_top": top,
        "pooling": pooling,
        "classes": classes,
        "height": h,
        "width": w,
        "batch": batch,
        "files": files + ["input.npy", "output.npy"],
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "input_preprocessing": "caffe (BGR, mean-subtracted, no scaling), uniform random",
        "model_name": model.name,
        "input_layer": model.layers[0].name,
        "output_layer": model.layers[-1].name,
        "bn_epsilon": float(bn[0].epsilon) if bn else None,
        "n_weighted_layers": len(weighted),
        "n_weights": int(sum(np.prod(v.shape) for v in model.weights)),
        "theano_fc1": ({"layer": fc1[0], "feature_map_hwc": list(fc1[1]),
                        "row_order": "chw"} if fc1 else None),
        "seed": seed,
        "keras": "tf-keras " + tf_keras.__version__,
        "tensorflow": tf.__version__,
        "generator": "tests/oracle/make_keras_cases.py",
    }
    if naming == "legacy":
        import keras_applications
        info["keras_applications"] = keras_applications.__version__
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(info, f, indent=2)

    # Stats, and a saturation check for classifiers.
    stats = f"out {tuple(y.shape)} min {y.min():.4g} max {y.max():.4g} mean {y.mean():.4g} std {y.std():.4g}"
    if top:
        p1 = y.max(axis=1)
        stats += f" top1 {y.argmax(axis=1).tolist()} p {np.round(p1, 4).tolist()}"
        if (p1 > 0.9).any():
            print(f"{name}: WARNING softmax nearly saturated", file=sys.stderr)
    secs = time.time() - t0
    nbytes = dir_bytes(d)
    with open(os.path.join(d, "done.json"), "w") as f:
        json.dump({"script_sha256": SCRIPT_HASH, "seconds": round(secs, 2), "bytes": nbytes}, f)
    print(f"{name}: {secs:.1f} s, {nbytes / 1e6:.1f} MB, {stats}", flush=True)
    del model


def is_done(out_root, name):
    try:
        with open(os.path.join(out_root, name, "done.json")) as f:
            return json.load(f).get("script_sha256") == SCRIPT_HASH
    except (OSError, ValueError):
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", nargs="?")
    ap.add_argument("--case", action="append", default=[], metavar="NAME",
                    help="make only this case (repeatable)")
    ap.add_argument("--list", action="store_true", help="print case names and exit")
    ap.add_argument("--force", action="store_true", help="remake cases even if done")
    ap.add_argument("--threads", type=int, default=1,
                    help="TF intra-op threads (default 1, for reproducibility)")
    args = ap.parse_args()

    if args.list:
        for n in CASES:
            print(n)
        return
    if not args.out_dir:
        ap.error("OUT_DIR is required")
    names = args.case or list(CASES)
    for n in names:
        if n not in CASES:
            ap.error(f"unknown case {n!r} (see --list)")

    todo = [n for n in names if args.force or not is_done(args.out_dir, n)]
    for n in names:
        if n not in todo:
            print(f"{n}: up to date")
    if not todo:
        return

    import warnings
    warnings.filterwarnings("ignore")          # "HDF5 format is legacy" etc.
    import tensorflow as tf
    import tf_keras
    import h5py
    tf.get_logger().setLevel("ERROR")          # retracing notices
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()

    os.makedirs(args.out_dir, exist_ok=True)
    t0 = time.time()
    for n in todo:
        make_case(n, args.out_dir, (tf, tf_keras, h5py))
    print(f"total {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
