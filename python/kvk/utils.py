"""Keras' ImageNet weight files: found in Keras' cache, else downloaded from Keras' URLs with
Keras' file hashes checked (the names and hashes are those of keras.applications' sources)."""

import hashlib
import http.client
import os
import shutil
import urllib.error
import urllib.request

__all__ = ["get_file", "weights_file", "keras_cache_dir"]

# Where keras.applications downloads from; KVK_WEIGHTS_URL replaces it (a mirror, a test).
KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications"

# architecture: (folder under the URL, file stem, md5 with the top, md5 without). None: Keras
# checks no hash for these files (MobileNet, MobileNetV2).
_FILES = {
    "vgg16": ("vgg16", "vgg16", "64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    "vgg19": ("vgg19", "vgg19", "cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
    "resnet50": ("resnet", "resnet50", "2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("resnet", "resnet101", "f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("resnet", "resnet152", "100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50_v2": ("resnet", "resnet50v2", "3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101_v2": ("resnet", "resnet101v2", "6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152_v2": ("resnet", "resnet152v2", "a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
    "inception_v3": ("inception_v3", "inception_v3", "9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63"),
    "xception": ("xception", "xception", "0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97"),
    "inception_resnet_v2": ("inception_resnet_v2", "inception_resnet_v2", "e693bd0210a403b3192acc6073ad2e96", "d19885ff4a710c122648d3b5c3b684e4"),
    "densenet121": ("densenet", "densenet121", "9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    "densenet169": ("densenet", "densenet169", "d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    "densenet201": ("densenet", "densenet201", "1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}


def keras_cache_dir():
    """$KERAS_HOME, else ~/.keras, or /tmp/.keras where the home cannot be written (Keras'
    rule, keras/src/backend/config.py)."""
    if os.environ.get("KERAS_HOME"):
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def _mobilenet_name(architecture, include_top, alpha, rows):
    """Keras' MobileNet and MobileNetV2 file names (mobilenet.py, mobilenet_v2.py)."""
    alpha = 1.0 if alpha is None else float(alpha)
    if architecture == "mobilenet":
        sizes = (128, 160, 192, 224)
        text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0"}.get(alpha, "2_5")
        rows = rows if rows in sizes else 224
        return f"mobilenet_{text}_{rows}_tf{'' if include_top else '_no_top'}.h5"
    sizes = (96, 128, 160, 192, 224)
    rows = rows if rows in sizes else 224
    top = "" if include_top else "_no_top"
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{rows}{top}.h5"


def weights_file(architecture, include_top, size=(224, 224), alpha=None, depth_multiplier=None):
    """The path of Keras' ImageNet weights for an application, downloaded when absent."""
    if architecture in ("mobilenet", "mobilenet_v2"):
        fname = _mobilenet_name(architecture, include_top, alpha, size[0])
        folder, md5 = architecture, None
    else:
        folder, stem, md5_top, md5_notop = _FILES[architecture]
        fname = f"{stem}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
        md5 = md5_top if include_top else md5_notop
    base = os.environ.get("KVK_WEIGHTS_URL") or KERAS_APPLICATIONS_URL
    return get_file(fname, f"{base.rstrip('/')}/{folder}/{fname}", file_hash=md5)


def _hash(path, algorithm):
    h = hashlib.sha256() if algorithm == "sha256" else hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _algorithm(file_hash):
    return "sha256" if len(file_hash) == 64 else "md5"


# Beside a file kvk wrote into the cache itself (scripts/python-example.sh converts the npm
# ResNet50 weights into Keras' own file name, for machines that cannot reach Keras' URLs): the
# file's sha256. Keras' hash is of Keras' file, so it cannot match; this one says the file is
# the one kvk wrote, unchanged since.
CONVERTED_SUFFIX = ".kvk-sha256"


def _converted_intact(fpath):
    try:
        with open(fpath + CONVERTED_SUFFIX) as f:
            recorded = f.read().split()[0]
    except (OSError, IndexError):
        return False
    return _hash(fpath, "sha256") == recorded


def get_file(fname, origin, file_hash=None, cache_subdir="models", cache_dir=None):
    """Keras' get_file for one file: cache_dir/cache_subdir/fname if present (and matching
    file_hash, or the sha256 recorded beside it by kvk's own conversion), else downloaded
    from origin. A download that does not match file_hash is
    deleted and raises ValueError; a failed download leaves nothing behind."""
    datadir = os.path.join(cache_dir or keras_cache_dir(), cache_subdir)
    os.makedirs(datadir, exist_ok=True)
    fpath = os.path.join(datadir, fname)
    if os.path.exists(fpath):
        if file_hash is None or _hash(fpath, _algorithm(file_hash)) == file_hash:
            return fpath
        if _converted_intact(fpath):
            return fpath
        print(
            "A local file was found, but it seems to be incomplete or outdated because the "
            f"{_algorithm(file_hash)} file hash does not match the original value of "
            f"{file_hash} so we will re-download the data."
        )
    print(f"Downloading data from {origin}")
    part = fpath + ".part"
    try:
        with urllib.request.urlopen(origin, timeout=60) as response, open(part, "wb") as out:
            expected = response.headers.get("Content-Length")
            shutil.copyfileobj(response, out, 1 << 20)
            got = out.tell()
        if expected is not None and got != int(expected):
            raise ValueError(
                f"Incomplete download from {origin}: {got} of {expected} bytes"
            )
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        if os.path.exists(part):
            os.remove(part)
        if isinstance(e, ValueError):
            raise
        raise Exception(f"URL fetch failure on {origin}: {getattr(e, 'reason', e)}") from e
    except BaseException:
        if os.path.exists(part):
            os.remove(part)
        raise
    if file_hash is not None and _hash(part, _algorithm(file_hash)) != file_hash:
        os.remove(part)
        raise ValueError(
            "Incomplete or corrupted file detected. "
            f"The {_algorithm(file_hash)} "
            "file hash does not match the provided value "
            f"of {file_hash}."
        )
    os.replace(part, fpath)
    return fpath
