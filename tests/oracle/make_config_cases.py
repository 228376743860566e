#!/usr/bin/env python3
"""Generate oracle cases for models built from their saved config (kvk's model_file path).

    make_config_cases.py OUT_DIR [--case NAME ...] [--list] [--force]

Each case is a model a user could have written and saved with tf-keras (Keras 2) model.save:
the usual fine-tuning shapes (an application base without its top, nested in a Sequential
or in a functional model, or flattened into one functional model, plus a new head) and small
hand-made models (functional with Add / Concatenate / shared layers / ZeroPadding2D /
pooling / BatchNormalization / separable and depthwise convolutions; a Sequential CNN), with
random weights at a non-default input size. OUT_DIR/NAME/ gets model.h5 (model.save), for
some cases weights.h5 (save_weights of the same model: kvk reads the architecture from
model.h5 and the weights from it) and tfjs/model.json (the TensorFlow.js layers format, as
tensorflowjs_converter would write it from model.h5: the architecture and weights of its own), input.npy, output.npy (model.predict), case.json
({"model_file": "model.h5", "files": [...], "batch", "expect_error": ...}) and done.json
(script hash; reruns skip finished cases). A Keras 3 case (the keras package on the TensorFlow backend, run in a subprocess) saves its
model with model.save(".h5"): Keras 3's config format in the legacy HDF5 layout. Weights: the
application bases through
make_keras_cases.init_weights (calibrated BatchNormalization statistics, see docs/oracle.md);
the heads and small models likewise, layer by layer on the case's input.

A case with "expect_error" holds a model kvk must refuse (its message must contain the given
text); none does at present.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_keras_cases as mk  # noqa: E402  (init_weights, make_input; only imports numpy)

SCRIPT_HASH = hashlib.sha256(open(os.path.abspath(__file__), "rb").read() +
                             open(os.path.join(HERE, "make_keras_cases.py"), "rb").read() +
                             os.environ.get("KVK_ORACLE_SEED", "").encode()).hexdigest()

# name: (builder, height, width, batch, preprocess ("caffe"/"tf" input range), save_weights too)
CASES = {
    # InceptionV3 base + GAP + Dense(1024, relu) + Dropout + Dense(5, softmax), the Keras
    # fine-tuning tutorial's head
    "cfg_inception_v3_sequential": ("inception_seq", 75, 75, 2, "tf", False),
    "cfg_inception_v3_functional": ("inception_flat", 75, 75, 1, "tf", False),
    # ResNet50 base + GAP + Dense(7): nested in a Sequential, flattened, and called as a
    # nested model on a new Input (base(x, training=False), the transfer-learning guide's
    # form, with the first 100 layers of the base frozen)
    "cfg_resnet50_sequential": ("resnet_seq", 64, 64, 2, "caffe", True),
    "cfg_resnet50_functional": ("resnet_flat", 64, 96, 1, "caffe", False),
    "cfg_resnet50_nested_call": ("resnet_nested_call", 32, 32, 1, "caffe", False),
    # small hand-made models
    "cfg_small_functional": ("small_functional", 30, 34, 2, "tf", True),
    "cfg_sequential_cnn": ("sequential_cnn", 28, 28, 2, "tf", True),
    # Keras 3 (the keras package, TensorFlow backend, in a subprocess): its own config format
    # (keras_history, batch_shape, nested Sequential and Functional, a shared layer), saved
    # with model.save(".h5"), whose weights are named "inner_seq/c1/kernel"
    "cfg_keras3_functional": ("keras3_functional", 20, 24, 2, "tf", False),
    # VGG16 base + Flatten + Dense(256, relu) + Dropout + Dense(1, sigmoid)
    "cfg_vgg16_sigmoid": ("vgg_sigmoid", 48, 48, 1, "caffe", False),
    # every activation and the parameterised ReLU layers, Rescaling, Normalization (adapted,
    # given, inverted), a squeeze-and-excite
    # gate (GAP, Reshape, hard_sigmoid, Multiply)
    "cfg_new_layers": ("new_layers", 24, 20, 2, "tf", False),
}
# cases that also get a TensorFlow.js layers model (tfjs/model.json + one shard), laid out as
# tensorflowjs_converter --input_format keras writes it from model.h5
TFJS = {"cfg_resnet50_nested_call", "cfg_small_functional"}
EXPECT_ERROR = {}


def init_head(tf, tf_keras, layers, x, rng):
    """Random weights for a chain of head layers (Dense and weightless ones) on input x:
    kernels N(0, 2/fan_in), biases 0.2x the pre-bias std, a softmax classifier scaled to
    logits of std ~2, a sigmoid one to logits within +-1 (else its output saturates at 1.0 and
    the comparison can no longer fail)."""
    L = tf_keras.layers
    y = tf.constant(x)
    for layer in layers:
        if isinstance(layer, L.Dense):
            k = rng.standard_normal(layer.kernel.shape, dtype=np.float32) * np.float32(
                np.sqrt(2.0 / layer.kernel.shape[0]))
            pre = (y.numpy() @ k)
            if layer.activation is tf_keras.activations.softmax:
                s = np.float32(2.0 / max(float(pre.std()), 1e-12))
                k *= s
                pre *= s
            if layer.activation is tf_keras.activations.sigmoid:
                s = np.float32(1.0 / max(float(np.abs(pre).max()), 1e-12))
                k *= s
                pre *= s
            vals = [k]
            if layer.use_bias:
                vals.append((rng.standard_normal(layer.units) * 0.2 * float(pre.std())).astype(np.float32))
            layer.set_weights(vals)
        else:
            assert not layer.weights, layer.name
        y = layer(y, training=False)


def tfjs_keras_converter():
    """tensorflowjs' own Keras converter module (what `tensorflowjs_converter --input_format
    keras` runs). The package's __init__ imports its SavedModel and JAX converters, whose
    dependencies are not installed (tensorflowjs comes with --no-deps): load the Keras
    modules under stand-in parent packages instead."""
    import importlib
    import importlib.util
    import types
    if "tensorflowjs" in sys.modules:
        return importlib.import_module("tensorflowjs.converters.keras_h5_conversion")
    root = os.path.dirname(importlib.util.find_spec("tensorflowjs").origin)
    for name, path in (("tensorflowjs", root), ("tensorflowjs.converters", os.path.join(root, "converters"))):
        if name not in sys.modules:
            mod = types.ModuleType(name)
            mod.__path__ = [path]
            sys.modules[name] = mod
    return importlib.import_module("tensorflowjs.converters.keras_h5_conversion")


def write_tfjs_with_converter(h5_path, out_dir):
    """tensorflowjs 4.22's converter on a model.save .h5, as its
    dispatch_keras_h5_to_tfjs_layers_model_conversion does (4 MB shards)."""
    import h5py
    conv = tfjs_keras_converter()
    os.makedirs(out_dir, exist_ok=True)
    with h5py.File(h5_path, "r") as f:
        topology, groups = conv.h5_merged_saved_model_to_tfjs_format(f)
    conv.write_artifacts(topology, groups, out_dir)


def write_tfjs(h5_path, out_dir, tf_keras):
    """model.json + group1-shard1of1.bin as tensorflowjs_converter writes a Keras model.save
    file (not installed here: it would pull its own TensorFlow): modelTopology holds the
    model_config, keras_version and backend attributes; the weights are every layer_names
    entry's weight_names in order, named without the ':0' suffix (a nested model's weights
    keep their inner layer names, 'conv1_conv/kernel'), little-endian float32 back to back."""
    import h5py
    os.makedirs(out_dir, exist_ok=True)
    s = lambda v: v.decode() if isinstance(v, bytes) else v
    manifest, blobs = [], []
    with h5py.File(h5_path, "r") as f:
        topology = {"keras_version": s(f.attrs["keras_version"]), "backend": s(f.attrs["backend"]),
                    "model_config": json.loads(s(f.attrs["model_config"]))}
        g = f["model_weights"]
        for lname in g.attrs["layer_names"]:
            lg = g[s(lname)]
            for wname in lg.attrs["weight_names"]:
                wname = s(wname)
                v = np.asarray(lg[wname][()], np.float32)
                manifest.append({"name": wname[:-2] if wname.endswith(":0") else wname,
                                 "shape": list(v.shape), "dtype": "float32"})
                blobs.append(v.astype("<f4").tobytes())
    with open(os.path.join(out_dir, "group1-shard1of1.bin"), "wb") as f:
        for b in blobs:
            f.write(b)
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump({"format": "layers-model", "generatedBy": "keras v" + tf_keras.__version__,
                   "convertedBy": "make_config_cases.py (tensorflowjs_converter's layout)",
                   "modelTopology": topology,
                   "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": manifest}]},
                  f)


def functional_view(tf_keras, model):
    """A flat functional model over the same layer objects (for init_weights)."""
    return tf_keras.Model(model.inputs, model.outputs)


def build(tf, tf_keras, kind, h, w, x, rng):
    L = tf_keras.layers
    A = tf_keras.applications
    if kind in ("inception_seq", "inception_flat"):
        base = A.InceptionV3(weights=None, include_top=False, input_shape=(h, w, 3))
        head = [L.GlobalAveragePooling2D(), L.Dense(1024, activation="relu"), L.Dropout(0.5),
                L.Dense(5, activation="softmax")]
    elif kind in ("resnet_seq", "resnet_flat", "resnet_nested_call"):
        base = A.ResNet50(weights=None, include_top=False, input_shape=(h, w, 3))
        head = [L.GlobalAveragePooling2D(), L.Dense(7)]
    elif kind == "vgg_sigmoid":
        base = A.VGG16(weights=None, include_top=False, input_shape=(h, w, 3))
        head = [L.Flatten(), L.Dense(256, activation="relu"), L.Dropout(0.5),
                L.Dense(1, activation="sigmoid")]
    if kind in ("inception_seq", "resnet_seq", "vgg_sigmoid"):
        model = tf_keras.Sequential([base] + head)
        mk.init_weights(tf, tf_keras, base, x, rng)
        init_head(tf, tf_keras, head, base.predict(x, verbose=0), rng)
        return model
    if kind == "resnet_nested_call":
        inp = tf_keras.Input((h, w, 3))
        y = base(inp, training=False)
        for layer in head:
            y = layer(y)
        model = tf_keras.Model(inp, y)
        mk.init_weights(tf, tf_keras, base, x, rng)
        init_head(tf, tf_keras, head, base.predict(x, verbose=0), rng)
        # partly frozen, as when fine-tuning the top blocks: the .h5 then lists the nested
        # model's trainable weights first (conv4_block2_3_bn/gamma:0, ...), the rest after
        for layer in base.layers[:100]:
            layer.trainable = False
        return model
    if kind in ("inception_flat", "resnet_flat"):
        y = base.output
        for layer in head:
            y = layer(y)
        model = tf_keras.Model(base.input, y)
        mk.init_weights(tf, tf_keras, model, x, rng)
        return model
    if kind == "small_functional":
        inp = tf_keras.Input((h, w, 3), name="image")
        a = L.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(inp)
        a = L.Conv2D(8, 3, strides=2, use_bias=False, name="stem")(a)
        a = L.BatchNormalization(name="stem_bn")(a)
        a = L.ReLU(name="stem_relu")(a)
        shared = L.Conv2D(8, 3, padding="same", activation="relu", name="shared_conv")
        b1 = shared(a)                                   # a shared layer, called twice
        b2 = L.SeparableConv2D(8, 3, padding="same", depth_multiplier=2, name="sep")(a)
        b2 = L.BatchNormalization(center=False, name="sep_bn")(b2)
        b2 = shared(b2)
        s = L.Add(name="sum")([b1, b2, a])              # three inputs
        c = L.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(a)
        c = L.MaxPooling2D(3, strides=1, padding="same", name="maxp")(c)
        d = L.AveragePooling2D(2, strides=1, padding="same", name="avgp")(s)
        m = L.Concatenate(name="cat")([s, c, d])
        m = L.Conv2D(12, 1, name="mix")(m)
        m = L.BatchNormalization(scale=False, epsilon=1e-5, name="mix_bn")(m)
        m = L.Activation("relu", name="mix_relu")(m)
        m = L.MaxPooling2D(2, name="pool")(m)
        g = L.GlobalMaxPooling2D(keepdims=True, name="gmp")(m)
        g = L.Conv2D(12, 1, activation="relu", name="squeeze")(g)
        g = L.Flatten(name="flat")(g)
        g = L.GaussianNoise(0.1, name="noise")(g)
        out = L.Dense(6, activation="softmax", name="probs")(g)
        model = tf_keras.Model(inp, out, name="small")
        mk.init_weights(tf, tf_keras, model, x, rng)
        return model
    if kind == "new_layers":
        inp = tf_keras.Input((h, w, 3), name="image")
        a = L.Rescaling(1 / 2.0, offset=-0.25, name="rescale")(inp)
        a = L.Normalization(name="norm_adapted")(a)   # adapt()'s statistics as weights
        a = L.Normalization(mean=[0.1, -0.2, 0.3], variance=[2.0, 0.5, 1.5], name="norm_given")(a)
        a = L.Normalization(invert=True, name="norm_inverted")(a)
        a = L.Conv2D(8, 3, padding="same", activation="swish", name="c_swish")(a)
        a = L.ReLU(max_value=6.0, name="relu6")(a)
        b = L.Conv2D(8, 3, padding="same", activation="tanh", name="c_tanh")(a)
        b = L.LeakyReLU(alpha=0.2, name="leaky")(b)
        se = L.GlobalAveragePooling2D(name="se_gap")(b)
        se = L.Reshape((1, 1, 8), name="se_reshape")(se)
        se = L.Conv2D(8, 1, activation="hard_sigmoid", name="se_gate")(se)
        b = L.Multiply(name="se_mul")([b, se])
        c = L.DepthwiseConv2D(3, padding="same", activation="elu", name="dw_elu")(b)
        c = L.ELU(alpha=0.5, name="elu_layer")(c)
        c = L.Activation("softplus", name="softplus")(c)
        c = L.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.2, name="relu_params")(c)
        d = L.Add(name="add")([b, c])
        d = L.GlobalAveragePooling2D(name="gap")(d)
        out = L.Dense(6, activation="sigmoid", name="out")(d)
        model = tf_keras.Model(inp, out, name="new_layers")
        mk.init_weights(tf, tf_keras, model, x, rng)
        return model
    if kind == "sequential_cnn":
        model = tf_keras.Sequential([
            L.Conv2D(8, 3, activation="relu", input_shape=(h, w, 3)),
            L.MaxPooling2D(),
            L.Conv2D(16, 3, padding="same", use_bias=False),
            L.BatchNormalization(),
            L.Activation("relu"),
            L.AveragePooling2D(),
            L.SpatialDropout2D(0.2),
            L.Flatten(),
            L.Dense(32, activation="relu", use_bias=False),
            L.Dropout(0.3),
            L.Dense(4, activation="softmax"),
        ])
        mk.init_weights(tf, tf_keras, functional_view(tf_keras, model), x, rng)
        return model
    raise ValueError(kind)


KERAS3_SCRIPT = r"""
import json, os, sys, zlib
import numpy as np
import keras
name, d, h, w, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
seed = zlib.crc32((name + os.environ.get("KVK_ORACLE_SEED", "")).encode())
rng = np.random.default_rng(seed)
keras.utils.set_random_seed(seed % (2**31))
L = keras.layers
inner = keras.Sequential([keras.Input((h, w, 3)),
                          L.Conv2D(6, 3, padding="same", activation="relu", name="c1"),
                          L.BatchNormalization(name="bn1")], name="inner_seq")
fi = keras.Input((h, w, 3))
fmodel = keras.Model(fi, L.ReLU(name="r")(L.Conv2D(6, 1, name="fc1")(fi)), name="inner_fn")
x = keras.Input((h, w, 3), name="img")
a, b = inner(x), fmodel(x)
shared = L.Conv2D(6, 1, name="shared")
y = L.Add(name="add")([shared(a), shared(b)])
y = L.Concatenate(name="cat")([y, a])
y = L.MaxPooling2D(2, name="pool")(y)
y = L.GlobalAveragePooling2D(name="gap")(y)
y = L.Dropout(0.2, name="drop")(y)
model = keras.Model(x, L.Dense(4, activation="softmax", name="out")(y), name="k3model")
for v in model.weights:
    shape = tuple(v.shape)
    if "moving_variance" in v.path or "gamma" in v.path:
        val = rng.uniform(0.5, 1.5, shape)
    elif "kernel" in v.path:
        val = rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[:-1]))
    else:
        val = rng.standard_normal(shape) * 0.2
    v.assign(val.astype("float32"))
xin = rng.uniform(-1, 1, (batch, h, w, 3)).astype("float32")
y = model.predict(xin, batch_size=batch, verbose=0).astype("float32")
model.save(os.path.join(d, "model.h5"))
m2 = keras.models.load_model(os.path.join(d, "model.h5"), compile=False)
assert np.array_equal(y, m2.predict(xin, batch_size=batch, verbose=0)), "reload differs"
np.save(os.path.join(d, "input.npy"), xin)
np.save(os.path.join(d, "output.npy"), y)
print(json.dumps({"keras": "keras " + keras.__version__, "model_name": model.name,
                  "layers": [f"{l.name} ({type(l).__name__})" for l in model.layers],
                  "output_shape": list(y.shape), "seed": seed}))
"""


def make_keras3_case(name, d, h, w, batch):
    """Runs KERAS3_SCRIPT in a subprocess (Keras 3 and tf-keras in one process would share
    TensorFlow's state); returns its description."""
    import subprocess
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    r = subprocess.run([sys.executable, "-c", KERAS3_SCRIPT, name, d, str(h), str(w), str(batch)],
                       env=env, capture_output=True, text=True)
    if r.returncode:
        sys.stderr.write(r.stderr)
        raise RuntimeError(f"{name}: the Keras 3 script failed")
    return json.loads(r.stdout.strip().splitlines()[-1])


def make_case(name, out_root, tf, tf_keras):
    kind, h, w, batch, prep, save_weights = CASES[name]
    d = os.path.join(out_root, name)
    t0 = time.time()
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    seed = zlib.crc32((name + os.environ.get("KVK_ORACLE_SEED", "")).encode())
    if kind == "keras3_functional":
        info = make_keras3_case(name, d, h, w, batch)
        info.update({"name": name, "model_file": "model.h5", "files": ["model.h5"],
                     "batch": batch, "height": h, "width": w, "input_preprocessing": prep,
                     "generator": "tests/oracle/make_config_cases.py"})
        with open(os.path.join(d, "case.json"), "w") as f:
            json.dump(info, f, indent=2)
        secs = time.time() - t0
        with open(os.path.join(d, "done.json"), "w") as f:
            json.dump({"script_sha256": SCRIPT_HASH, "seconds": round(secs, 2)}, f)
        print(f"{name}: {secs:.1f} s (Keras 3)", flush=True)
        return
    rng = np.random.default_rng(seed)
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(seed % (2**31))
    arch = "inception_v3" if prep == "tf" else "resnet50"  # input range only
    x = mk.make_input(arch, rng, (batch, h, w, 3))
    model = build(tf, tf_keras, kind, h, w, x, rng)
    y = model.predict(x, batch_size=batch, verbose=0).astype(np.float32)
    files = ["model.h5"]
    model.save(os.path.join(d, "model.h5"), include_optimizer=False)
    if save_weights:
        model.save_weights(os.path.join(d, "weights.h5"))
        files.append("weights.h5")
    if name in TFJS:
        write_tfjs(os.path.join(d, "model.h5"), os.path.join(d, "tfjs"), tf_keras)
        write_tfjs_with_converter(os.path.join(d, "model.h5"), os.path.join(d, "tfjs_converter"))
        files += ["tfjs/model.json", "tfjs_converter/model.json"]
    m2 = tf_keras.models.load_model(os.path.join(d, "model.h5"), compile=False)
    assert np.array_equal(y, m2.predict(x, batch_size=batch, verbose=0)), f"{name}: reload differs"
    np.save(os.path.join(d, "input.npy"), x)
    np.save(os.path.join(d, "output.npy"), y)
    info = {"name": name, "model_file": "model.h5", "files": files, "batch": batch,
            "height": h, "width": w, "input_preprocessing": prep,
            "output_shape": list(y.shape), "model_name": model.name,
            "layers": [f"{l.name} ({type(l).__name__})" for l in model.layers],
            "n_weights": int(sum(np.prod(v.shape) for v in model.weights)),
            "keras": "tf-keras " + tf_keras.__version__, "seed": seed,
            "generator": "tests/oracle/make_config_cases.py"}
    if name in EXPECT_ERROR:
        info["expect_error"] = EXPECT_ERROR[name]
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(info, f, indent=2)
    secs = time.time() - t0
    with open(os.path.join(d, "done.json"), "w") as f:
        json.dump({"script_sha256": SCRIPT_HASH, "seconds": round(secs, 2)}, f)
    print(f"{name}: {secs:.1f} s, out {tuple(y.shape)} std {y.std():.3g}", flush=True)


def is_done(out_root, name):
    try:
        with open(os.path.join(out_root, name, "done.json")) as f:
            return json.load(f).get("script_sha256") == SCRIPT_HASH
    except (OSError, ValueError):
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", nargs="?")
    ap.add_argument("--case", action="append", default=[])
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    if args.list:
        print("\n".join(CASES))
        return
    if not args.out_dir:
        ap.error("OUT_DIR is required")
    names = args.case or list(CASES)
    for n in names:
        if n not in CASES:
            ap.error(f"unknown case {n!r}")
    todo = [n for n in names if args.force or not is_done(args.out_dir, n)]
    if not todo:
        print("all up to date")
        return
    import warnings
    warnings.filterwarnings("ignore")
    import tensorflow as tf
    import tf_keras
    tf.get_logger().setLevel("ERROR")
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    os.makedirs(args.out_dir, exist_ok=True)
    t0 = time.time()
    for n in todo:
        make_case(n, args.out_dir, tf, tf_keras)
    print(f"total {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
