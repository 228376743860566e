#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus, tests/fuzz/corpus/<target>/seed_*: small valid files of
every layout each reader takes, so that the fuzzers start from inputs that get deep.

    make_seeds.py [CORPUS_DIR]     (default: the corpus/ folder next to this script)

Runs in the test venv (scripts/setup-python.sh: numpy, h5py, Pillow, tf-keras, Keras 3). The
Keras 2 save_weights file and its Keras 3 counterpart come from the corruption test's own
generator (tests/hostile/make_small_keras_h5.py); the model configs, the model.save .h5 and
the .keras archive are written by tf-keras and Keras 3 themselves, from tiny models. Only
files named seed_* are rewritten: crash regressions (crash_*) in the same folders stay.
Fixed random seeds and dates: a rerun rewrites the same files, except the two .keras
archives, whose model.weights.h5 Keras 3 writes slightly differently each time."""
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(HERE, "corpus")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

rng = np.random.default_rng(8)


def out(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data)


def clear_seeds():
    for target in ("hdf5", "tfjs", "image", "npy", "config"):
        d = os.path.join(OUT, target)
        if os.path.isdir(d):
            for n in os.listdir(d):
                if n.startswith("seed_"):
                    os.remove(os.path.join(d, n))


def read(path):
    with open(path, "rb") as f:
        return f.read()


# --- .npy: what numpy.save writes ---------------------------------------------------------------
def npy_seeds():
    def save(name, array, version=None):
        b = io.BytesIO()
        if version:
            np.lib.format.write_array(b, array, version=version)
        else:
            np.save(b, array)
        out("npy", name, b.getvalue())

    save("f4_2x3.npy", rng.standard_normal((2, 3)).astype("<f4"))
    save("f8_5.npy", rng.standard_normal(5).astype("<f8"))
    save("f4_scalar.npy", np.array(1.5, dtype="<f4"))
    save("f4_empty.npy", np.zeros((0, 4), dtype="<f4"))
    save("f4_v2_1x2x2x1.npy", rng.standard_normal((1, 2, 2, 1)).astype("<f4"), version=(2, 0))
    save("f4_fortran.npy", np.asfortranarray(rng.standard_normal((2, 2)).astype("<f4")))


# --- images: one flags byte (fuzz_image.c: bit 0 stb for JPEG, bit 1 bilinear, bits 2-3 the
# preprocess mode), then the file -----------------------------------------------------------------
def image_seeds():
    def save(name, image, fmt, flags, **kw):
        b = io.BytesIO()
        image.save(b, fmt, **kw)
        out("image", name, bytes([flags]) + b.getvalue())

    rgb = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), "RGB")
    rgba = Image.fromarray(rng.integers(0, 256, (5, 7, 4), dtype=np.uint8), "RGBA")
    grey = Image.fromarray(rng.integers(0, 256, (4, 9), dtype=np.uint8), "L")
    grey16 = Image.fromarray(rng.integers(0, 65536, (3, 5), dtype=np.uint16).astype(np.int32), "I")
    save("rgb.png", rgb, "PNG", 0)
    save("rgba.png", rgba, "PNG", 2)
    save("grey.png", grey, "PNG", 4)
    save("grey16.png", grey16.convert("I;16"), "PNG", 6)
    save("palette.png", rgb.convert("P"), "PNG", 8)
    save("rgb.bmp", rgb, "BMP", 1)
    save("rgb_libjpeg.jpg", rgb, "JPEG", 0, quality=90)
    save("rgb_stb.jpg", rgb, "JPEG", 1, quality=90)
    save("progressive.jpg", rgb, "JPEG", 2, quality=75, progressive=True)
    save("grey.jpg", grey, "JPEG", 3)
    save("cmyk.jpg", rgb.convert("CMYK"), "JPEG", 0)
    save("subsampled_420.jpg", rgb, "JPEG", 1, subsampling=2)


# --- HDF5 weight files and .keras archives ------------------------------------------------------
TINY_CONFIG_K2 = None


def hdf5_seeds(tmp):
    small, small3 = os.path.join(tmp, "small.h5"), os.path.join(tmp, "small3.weights.h5")
    subprocess.run([sys.executable, os.path.join(HERE, "..", "hostile", "make_small_keras_h5.py"),
                    small, small3], check=True)
    out("hdf5", "keras2_save_weights.h5", read(small))
    out("hdf5", "keras3.weights.h5", read(small3))

    # Keras 1 names (no "layer/" prefix), theano backend: the kernel flip and transpose paths
    path = os.path.join(tmp, "keras1_th.h5")
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"convolution2d_1", b"dense_1"])
        f.attrs["backend"] = "theano"
        g = f.create_group("convolution2d_1")
        g.attrs["weight_names"] = np.array([b"convolution2d_1_W", b"convolution2d_1_b"])
        g.create_dataset("convolution2d_1_W", data=rng.standard_normal((2, 3, 3, 3)).astype("f4"))
        g.create_dataset("convolution2d_1_b", data=np.zeros(2, "f8"))
        g = f.create_group("dense_1")
        g.attrs["weight_names"] = np.array([b"dense_1_W", b"dense_1_b"])
        g.create_dataset("dense_1_W", data=rng.standard_normal((8, 2)).astype("f2"))
        g.create_dataset("dense_1_b", data=np.zeros(2, "f4"))
    out("hdf5", "keras1_theano.h5", read(path))

    import tf_keras as tfk
    tfk.utils.set_random_seed(8)
    inp = tfk.Input((8, 8, 3))
    x = tfk.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
    x = tfk.layers.BatchNormalization(name="bn")(x)
    y = tfk.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = tfk.layers.Add(name="add")([x, y])
    x = tfk.layers.GlobalAveragePooling2D(name="gap")(x)
    x = tfk.layers.Dense(3, activation="softmax", name="fc")(x)
    model = tfk.Model(inp, x, name="tiny")
    path = os.path.join(tmp, "model_save.h5")
    model.save(path, include_optimizer=False)
    out("hdf5", "keras2_model_save.h5", read(path))
    out("config", "tf_keras_functional.json", model.to_json().encode())
    seq = tfk.Sequential([tfk.Input((6, 6, 1)),
                          tfk.layers.ZeroPadding2D(1, name="pad"),
                          tfk.layers.SeparableConv2D(2, 3, strides=2, name="sep"),
                          tfk.layers.MaxPooling2D(2, padding="same", name="pool"),
                          tfk.layers.Flatten(name="flat"),
                          tfk.layers.Dropout(0.5, name="drop"),
                          tfk.layers.Dense(2, name="fc")], name="seq")
    out("config", "tf_keras_sequential.json", seq.to_json().encode())
    # a model.json as tensorflowjs_converter writes it, for the TF.js seeds below
    global TINY_CONFIG_K2
    TINY_CONFIG_K2 = json.loads(model.to_json())

    import keras
    keras.utils.set_random_seed(8)
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, activation="relu6", name="conv")(inp)
    z = keras.layers.Conv2D(2, 1, name="side")(x)
    x = keras.layers.Concatenate(name="cat")([x, z])
    x = keras.layers.AveragePooling2D(2, name="avg")(x)
    x = keras.layers.Reshape((-1,), name="flat")(x)
    x = keras.layers.Dense(2, name="fc")(x)
    k3 = keras.Model(inp, x, name="tiny3")
    out("config", "keras3_functional.json", k3.to_json().encode())
    path = os.path.join(tmp, "tiny.keras")
    k3.save(path)
    # the archive rewritten with a fixed date, stored and deflated (both member methods)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(members["metadata.json"])
    meta["date_saved"] = "2026-01-01@00:00:00"
    members["metadata.json"] = json.dumps(meta).encode()
    for name, method in (("keras3_stored.keras", zipfile.ZIP_STORED),
                         ("keras3_deflated.keras", zipfile.ZIP_DEFLATED)):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w", method) as z:
            for n in ("metadata.json", "config.json", "model.weights.h5"):
                info = zipfile.ZipInfo(n, date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = method
                z.writestr(info, members[n])
        out("hdf5", name, b.getvalue())


# --- TF.js folders: model.json, a NUL byte, the shard (fuzz_tfjs.c) -----------------------------
def tfjs_seeds():
    def seed(name, topology, weights, dtype="float32"):
        manifest = [{"paths": ["group1-shard1of1.bin"],
                     "weights": [{"name": n, "shape": list(s), "dtype": dtype} for n, s in weights]}]
        doc = {"format": "layers-model", "generatedBy": "keras v2.2.4", "convertedBy": "kvk seeds",
               "modelTopology": topology, "weightsManifest": manifest}
        data = b"".join(rng.standard_normal(int(np.prod(s))).astype("<f4").tobytes()
                        for _, s in weights)
        out("tfjs", name, json.dumps(doc).encode() + b"\0" + data)

    seed("weights_only.json", {}, [("conv1/kernel", (3, 3, 3, 2)), ("conv1/bias", (2,)),
                                   ("bn/gamma", (2,)), ("bn/beta", (2,)),
                                   ("bn/moving_mean", (2,)), ("bn/moving_variance", (2,)),
                                   ("fc/kernel", (2, 3)), ("fc/bias", (3,))])
    topo = {"keras_version": "2.21.0", "backend": "tensorflow", "model_config": TINY_CONFIG_K2}
    seed("tiny_model.json", topo, [("conv/kernel", (3, 3, 3, 4)), ("conv/bias", (4,)),
                                   ("bn/gamma", (4,)), ("bn/beta", (4,)),
                                   ("bn/moving_mean", (4,)), ("bn/moving_variance", (4,)),
                                   ("dw/depthwise_kernel", (3, 3, 4, 1)), ("dw/bias", (4,)),
                                   ("fc/kernel", (4, 3)), ("fc/bias", (3,))])
    # the layout `struct` would give a shard of one float: no model config, one weight
    out("tfjs", "one_float.json",
        json.dumps({"modelTopology": None, "weightsManifest": [
            {"paths": ["group1-shard1of1.bin"],
             "weights": [{"name": "d/bias", "shape": [1], "dtype": "float32"}]}]}).encode()
        + b"\0" + struct.pack("<f", 0.5))


def main():
    clear_seeds()
    npy_seeds()
    image_seeds()
    with tempfile.TemporaryDirectory() as tmp:
        hdf5_seeds(tmp)
    tfjs_seeds()
    for target in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, target))
        size = sum(os.path.getsize(os.path.join(OUT, target, n)) for n in files)
        print(f"{target}: {len(files)} files, {size} bytes")


main()
