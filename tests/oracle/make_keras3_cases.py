#!/usr/bin/env python3
"""Generate Keras 3 oracle test cases with random weights.

    make_keras3_cases.py OUT_DIR [--case NAME ...] [--list] [--force] [--threads N]

The Keras 3 counterpart of make_keras_cases.py (a separate process: that script runs
tf-keras, this one the `keras` package, Keras 3, on the TensorFlow CPU backend). For each
case, OUT_DIR/NAME/ gets the same case.json / input.npy / output.npy / done.json as there,
and the weight files Keras 3 writes:
  weights.weights.h5  model.save_weights(): Keras 3's layout, layers/<class_N>/vars/<i>, each
                      vars group with the layer's name as attribute (Keras >= 3.6)
  model.keras         model.save(): zip of metadata.json, config.json, model.weights.h5
                      (members stored, as Keras writes them)
  model_legacy.keras  model.keras rewritten as Keras 3.0-3.5 and tf.keras wrote it: no `name`
                      attributes in model.weights.h5 (only config.json tells which group is
                      which layer), and every member deflated (only cases that list it)
Each file is loaded back by Keras (load_weights, into the model with its weights zeroed first;
for an archive, its model.weights.h5 after zipfile's CRC check) and must reproduce output.npy
exactly.

k3_xception_notop_none is built after a few unnamed layers (OFFSET_NAMES), so its automatic
layer names are offset (conv2d_3, ...), as in a session that built other models first.

tfk_inception_v3_notop_max is a .keras archive written by tf-keras 2.21 (the same layout,
never with names; metadata.json says keras_version 2.21.0).

The nested case saves a Sequential holding the ResNet50 base (pooling avg) and a Dense head,
the usual fine-tuning shape; output.npy is the base's output, which kvk's resnet50 must give
from the file's inner layers (exposed by their own names).

Weights are drawn as in make_keras_cases.py (kernels He-scaled, bias and BatchNormalization
statistics fitted to the case's input, see init_weights there).
"""
import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import time
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_keras_cases as k2  # noqa: E402  (sets the TF environment; imports only numpy)

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np  # noqa: E402

SCRIPT_HASH = hashlib.sha256(open(os.path.abspath(__file__), "rb").read() +
                             open(os.path.join(HERE, "make_keras_cases.py"), "rb").read() +
                             os.environ.get("KVK_ORACLE_SEED", "").encode()).hexdigest()

WH5, KER, LEG = "weights.weights.h5", "model.keras", "model_legacy.keras"

# name: (arch, include_top, pooling, classes, height, width, batch, files, nested)
CASES = {
    "k3_vgg16_notop_avg":        ("vgg16", False, "avg", 1000, 48, 64, 2, [WH5, KER], False),
    "k3_vgg19_notop_max":        ("vgg19", False, "max", 1000, 40, 48, 1, [WH5], False),
    "k3_resnet50_notop_avg":     ("resnet50", False, "avg", 1000, 64, 96, 2, [WH5], False),
    "k3_resnet50_top_classes10": ("resnet50", True, None, 10, 224, 224, 1, [WH5], False),
    "k3_inception_v3_notop_avg": ("inception_v3", False, "avg", 1000, 80, 96, 2, [WH5, LEG], False),
    "k3_xception_notop_none":    ("xception", False, None, 1000, 71, 90, 1, [WH5, LEG], False),
    "k3_resnet50_nested":        ("resnet50", False, "avg", 1000, 48, 64, 2, [WH5, KER, LEG], True),
    # applications beyond the five (alpha passed through OPTIONS below)
    "k3_mobilenet_v2_notop_avg_a050": ("mobilenet_v2", False, "avg", 1000, 64, 64, 1, [WH5, KER], False),
    "k3_resnet50_v2_notop_none": ("resnet50_v2", False, None, 1000, 40, 56, 1, [KER], False),
}
OPTIONS = {"k3_mobilenet_v2_notop_avg_a050": {"alpha": 0.5}}
# tf-keras (2.13 and later) writes .keras archives in the same layout, without names: one case
# written by tf-keras 2.21 (model.save("model.keras")), InceptionV3 since its model.layers
# order is not its creation order.
TFK_CASES = {
    "tfk_inception_v3_notop_max": ("inception_v3", False, "max", 1000, 75, 90, 1, [KER], False),
}

# Layers created (unnamed) before the model in the same session, so that its automatic names
# continue their count (conv2d_3, batch_normalization_2, add_5, ...), as when a user builds
# other models first; kvk matches such names in creation order.
OFFSET_NAMES = {"k3_xception_notop_none": {"Conv2D": 3, "BatchNormalization": 2, "Add": 5}}


def init_weights(keras, model, x, rng):
    """make_keras_cases.init_weights for a Keras 3 functional model: walk the layers in
    topological order eagerly on x, setting each layer's weights from its actual input."""
    L = keras.layers
    values = {model.inputs[0]._keras_history.operation.name: x}
    for layer in model.layers:
        if isinstance(layer, L.InputLayer):
            continue
        node = layer._inbound_nodes[0]
        inb = [values[t._keras_history.operation.name] for t in node.input_tensors]
        xin = inb[0] if len(inb) == 1 else inb
        if isinstance(layer, (L.Conv2D, L.Dense, L.SeparableConv2D, L.DepthwiseConv2D)):
            kernels = {}
            if isinstance(layer, (L.SeparableConv2D, L.DepthwiseConv2D)):
                # (Keras 3's DepthwiseConv2D calls its kernel "kernel")
                dk = getattr(layer, "depthwise_kernel", None)
                dk = layer.kernel if dk is None else dk
                last = k2.weight_key(dk)
                kernels[last] = (rng.standard_normal(dk.shape, dtype=np.float32) *
                                 np.float32(np.sqrt(2.0 / (dk.shape[0] * dk.shape[1]))))
                if isinstance(layer, L.SeparableConv2D):
                    pk = layer.pointwise_kernel
                    kernels["pointwise_kernel"] = (rng.standard_normal(pk.shape, dtype=np.float32) *
                                                   np.float32(np.sqrt(2.0 / pk.shape[2])))
                    last = "pointwise_kernel"
            else:
                kernel = layer.kernel
                fan_in = int(np.prod(kernel.shape[:-1]))
                kernels["kernel"] = (rng.standard_normal(kernel.shape, dtype=np.float32) *
                                     np.float32(np.sqrt(2.0 / fan_in)))
                last = "kernel"
            bias = layer.bias if getattr(layer, "use_bias", True) else None
            zero_b = np.zeros(bias.shape, np.float32) if bias is not None else None

            def put(b):
                vals = dict(kernels)
                if b is not None:
                    vals["bias"] = b
                layer.set_weights([vals[k2.weight_key(wt)] for wt in layer.weights])

            put(zero_b)
            act = layer.activation
            layer.activation = keras.activations.linear
            y = np.array(layer(xin))
            layer.activation = act
            if getattr(act, "__name__", "") == "softmax":
                scale = np.float32(2.0 / max(float(y.std()), 1e-12))
                kernels[last] *= scale
                y *= scale
            if zero_b is not None:
                b = (rng.standard_normal(zero_b.shape) * 0.2 * float(y.std())).astype(np.float32)
                put(b)
                y = y + b
            else:
                put(None)
            out = np.asarray(act(y))
        elif isinstance(layer, L.BatchNormalization):
            xv = np.asarray(xin)
            axes = tuple(range(xv.ndim - 1))
            mean, var = xv.mean(axis=axes), xv.var(axis=axes)
            m2 = var + mean * mean
            wgt = var / np.maximum(m2, 1e-30)
            avg = float(m2.mean())
            mean = 0.5 * wgt * mean
            var = wgt * m2 + (1.5 - wgt) * avg + 1e-6
            c = mean.shape[0]
            byname = {
                "gamma": rng.uniform(0.5, 1.5, c).astype(np.float32),
                "beta": (rng.standard_normal(c) * 0.2).astype(np.float32),
                "moving_mean": (mean + rng.standard_normal(c) * 0.1 * np.sqrt(var)).astype(np.float32),
                "moving_variance": (var * rng.uniform(0.5, 1.5, c)).astype(np.float32),
            }
            layer.set_weights([byname[k2.weight_key(wt)] for wt in layer.weights])
            out = np.asarray(layer(xin, training=False))
        else:
            assert not layer.weights, f"unexpected weighted layer {layer.name}"
            out = np.asarray(layer(xin))
        values[layer.name] = out


def write_legacy_archive(h5py, src, dst):
    """model.keras as Keras 3.0-3.5 wrote it: model.weights.h5 without the vars groups'
    `name` attributes; all members deflated. Returns how many names were removed."""
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    buf = io.BytesIO(members["model.weights.h5"])
    removed = []
    with h5py.File(buf, "r+") as f:
        def strip(name, obj):
            if isinstance(obj, h5py.Group) and name.split("/")[-1] == "vars" and "name" in obj.attrs:
                del obj.attrs["name"]
                removed.append(name)
        f.visititems(strip)
        if "name" in f["vars"].attrs:
            del f["vars"].attrs["name"]
    members["model.weights.h5"] = buf.getvalue()
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n in ("metadata.json", "config.json", "model.weights.h5"):
            z.writestr(n, members[n])
    with zipfile.ZipFile(dst) as z:
        h = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
        left = []
        h.visititems(lambda n, o: left.append(n) if "name" in o.attrs else None)
        assert not left, f"names left in {dst}: {left[:3]}"
    return len(removed)


def make_tfk_case(name, out_root, mods):
    """A .keras archive written by tf-keras."""
    tf, _, h5py = mods
    import tf_keras
    arch, top, pooling, classes, h, w, batch, files, _ = TFK_CASES[name]
    d = os.path.join(out_root, name)
    t0 = time.time()
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    seed = zlib.crc32((name + os.environ.get("KVK_ORACLE_SEED", "")).encode())
    rng = np.random.default_rng(seed)
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(seed % (2**31))
    model = getattr(tf_keras.applications, k2.ARCHS[arch][0])(
        weights=None, include_top=top, pooling=pooling, classes=classes, input_shape=(h, w, 3))
    x = k2.make_input(arch, rng, (batch, h, w, 3))
    k2.init_weights(tf, tf_keras, model, x, rng)
    y = model.predict(x, batch_size=batch, verbose=0).astype(np.float32)
    np.save(os.path.join(d, "input.npy"), x)
    np.save(os.path.join(d, "output.npy"), y)
    model.save(os.path.join(d, KER))
    with zipfile.ZipFile(os.path.join(d, KER)) as z:
        assert z.testzip() is None, f"{name}: bad CRC"
        metadata = json.loads(z.read("metadata.json"))
        member = os.path.join(d, "member.weights.h5")
        with open(member, "wb") as f:
            f.write(z.read("model.weights.h5"))
    names = []
    with h5py.File(member, "r") as h5:
        h5.visititems(lambda n, o: names.append(n) if "name" in o.attrs else None)
    assert not names, f"{name}: tf-keras wrote names: {names[:3]}"
    # reload check as for the Keras 3 files: weights zeroed, then the member loaded
    model.set_weights([np.zeros_like(v) for v in model.get_weights()])
    model.load_weights(member)
    os.remove(member)
    assert np.array_equal(y, model.predict(x, batch_size=batch, verbose=0)), f"{name}: reload"
    info = {
        "name": name, "arch": arch, "naming": None, "include_top": top, "pooling": pooling,
        "classes": classes, "height": h, "width": w, "batch": batch,
        "files": files + ["input.npy", "output.npy"], "input_shape": list(x.shape),
        "output_shape": list(y.shape), "input_preprocessing": k2.PREPROCESSING[k2.ARCHS[arch][1]],
        "seed": seed, "keras": "tf-keras " + tf_keras.__version__,
        "archive_keras_version": metadata.get("keras_version"), "tensorflow": tf.__version__,
        "generator": "tests/oracle/make_keras3_cases.py",
    }
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(info, f, indent=2)
    secs = time.time() - t0
    with open(os.path.join(d, "done.json"), "w") as f:
        json.dump({"script_sha256": SCRIPT_HASH, "seconds": round(secs, 2),
                   "bytes": k2.dir_bytes(d)}, f)
    print(f"{name}: {secs:.1f} s, out {tuple(y.shape)} std {y.std():.4g}", flush=True)


def make_case(name, out_root, mods):
    if name in TFK_CASES:
        return make_tfk_case(name, out_root, mods)
    tf, keras, h5py = mods
    arch, top, pooling, classes, h, w, batch, files, nested = CASES[name]
    d = os.path.join(out_root, name)
    t0 = time.time()
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    seed = zlib.crc32((name + os.environ.get("KVK_ORACLE_SEED", "")).encode())
    rng = np.random.default_rng(seed)
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed % (2**31))

    for cls, count in OFFSET_NAMES.get(name, {}).items():
        for _ in range(count):
            getattr(keras.layers, cls)(**({"filters": 1, "kernel_size": 1} if cls == "Conv2D" else {}))
    base = getattr(keras.applications, k2.ARCHS[arch][0])(
        weights=None, include_top=top, pooling=pooling, classes=classes, input_shape=(h, w, 3),
        **OPTIONS.get(name, {}))
    x = k2.make_input(arch, rng, (batch, h, w, 3))
    init_weights(keras, base, x, rng)
    y = base.predict(x, batch_size=batch, verbose=0).astype(np.float32)
    saved = base
    if nested:
        # the usual fine-tuning shape: the base inside a Sequential, a new head on top
        saved = keras.Sequential([keras.Input((h, w, 3)), base, keras.layers.Dense(5, activation="softmax")])
    np.save(os.path.join(d, "input.npy"), x)
    np.save(os.path.join(d, "output.npy"), y)
    saved.save_weights(os.path.join(d, WH5))
    saved.save(os.path.join(d, KER))
    legacy_names = write_legacy_archive(h5py, os.path.join(d, KER), os.path.join(d, LEG)) if LEG in files else 0

    # each file must reproduce the output in Keras: weights zeroed, then loaded. For an
    # archive, its model.weights.h5 (Keras' load_weights on a .keras file reads the member
    # through zipfile's seeks, minutes for a deflated one), after zipfile's CRC check.
    zeros = [np.zeros_like(v) for v in saved.get_weights()]
    for fname in files:
        src = os.path.join(d, fname)
        if fname.endswith(".keras"):
            with zipfile.ZipFile(src) as z:
                assert z.testzip() is None, f"{name}: {fname}: bad CRC"
                src = os.path.join(d, "member.weights.h5")
                with open(src, "wb") as f:
                    f.write(z.read("model.weights.h5"))
        saved.set_weights(zeros)
        saved.load_weights(src)
        if src.endswith("member.weights.h5"):
            os.remove(src)
        assert np.array_equal(y, base.predict(x, batch_size=batch, verbose=0)), f"{name}: {fname} reload"

    with zipfile.ZipFile(os.path.join(d, KER)) as z:
        metadata = json.loads(z.read("metadata.json"))
    weighted = [l for l in base.layers if l.weights]
    info = {
        "name": name,
        "arch": arch,
        "naming": "keras3" if arch == "resnet50" else None,
        "include_top": top,
        "pooling": pooling,
        "classes": classes,
        "height": h,
        "width": w,
        "batch": batch,
        "files": files + ["input.npy", "output.npy"],
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "input_preprocessing": k2.PREPROCESSING[k2.ARCHS[arch][1]],
        "model_name": saved.name,
        "nested": ({"outer": type(saved).__name__, "base": base.name} if nested else None),
        "n_weighted_layers": len(weighted),
        "n_weights": int(sum(np.prod(v.shape) for v in base.weights)),
        "legacy_names_removed": legacy_names,
        "offset_names": OFFSET_NAMES.get(name),
        "first_conv2d": next((l.name for l in base.layers if type(l).__name__ == "Conv2D" and
                              l.name.startswith("conv2d")), None),
        "seed": seed,
        "keras": "keras " + keras.__version__,
        "archive_keras_version": metadata.get("keras_version"),
        "tensorflow": tf.__version__,
        "generator": "tests/oracle/make_keras3_cases.py",
    }
    info.update(OPTIONS.get(name, {}))
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(info, f, indent=2)
    stats = f"out {tuple(y.shape)} std {y.std():.4g}"
    if top:
        p1 = y.max(axis=1)
        stats += f" top1 p {np.round(p1, 4).tolist()}"
        if (p1 > 0.9).any():
            print(f"{name}: WARNING softmax nearly saturated", file=sys.stderr)
    secs = time.time() - t0
    nbytes = k2.dir_bytes(d)
    with open(os.path.join(d, "done.json"), "w") as f:
        json.dump({"script_sha256": SCRIPT_HASH, "seconds": round(secs, 2), "bytes": nbytes}, f)
    print(f"{name}: {secs:.1f} s, {nbytes / 1e6:.1f} MB, {stats}", flush=True)


def is_done(out_root, name):
    try:
        with open(os.path.join(out_root, name, "done.json")) as f:
            return json.load(f).get("script_sha256") == SCRIPT_HASH
    except (OSError, ValueError):
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", nargs="?")
    ap.add_argument("--case", action="append", default=[], metavar="NAME")
    ap.add_argument("--list", action="store_true", help="print case names and exit")
    ap.add_argument("--force", action="store_true", help="remake cases even if done")
    ap.add_argument("--threads", type=int, default=1, help="TF intra-op threads (default 1)")
    args = ap.parse_args()
    if args.list:
        for n in list(CASES) + list(TFK_CASES):
            print(n)
        return
    if not args.out_dir:
        ap.error("OUT_DIR is required")
    names = args.case or list(CASES) + list(TFK_CASES)
    for n in names:
        if n not in CASES and n not in TFK_CASES:
            ap.error(f"unknown case {n!r} (see --list)")
    todo = [n for n in names if args.force or not is_done(args.out_dir, n)]
    for n in names:
        if n not in todo:
            print(f"{n}: up to date")
    if not todo:
        return
    import warnings
    warnings.filterwarnings("ignore")
    import tensorflow as tf
    import keras
    import h5py
    assert keras.__version__.startswith("3."), f"Keras 3 expected, found {keras.__version__}"
    tf.get_logger().setLevel("ERROR")
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    os.makedirs(args.out_dir, exist_ok=True)
    t0 = time.time()
    for n in todo:
        make_case(n, args.out_dir, (tf, keras, h5py))
    print(f"total {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
