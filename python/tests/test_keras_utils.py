"""preprocess_input, decode_predictions, load_img and img_to_array against Keras' own (Keras 3
in the oracle venv) on random arrays of every mode and dtype, and on the shared photos.
No device needed."""
import os
import shutil
import tempfile

import numpy as np
import pytest

from conftest import shared_data

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
# Keras' decode_predictions downloads its class index into KERAS_HOME (read when keras is
# imported): give it the shared copy (the same bytes and hash) in a private one.
_KERAS_HOME = tempfile.mkdtemp(prefix="kvk-keras-home-")
os.makedirs(os.path.join(_KERAS_HOME, "models"))
shutil.copy(os.path.join(shared_data(), "imagenet_class_index.json"), os.path.join(_KERAS_HOME, "models"))
os.environ["KERAS_HOME"] = _KERAS_HOME

keras = pytest.importorskip("keras")  # the oracle venv has it; a failure to import fails CTest

MODULES = [  # kvk.applications.<m> against keras.applications.<m>
    "resnet50", "resnet", "resnet_v2", "vgg16", "vgg19", "inception_v3", "xception",
    "inception_resnet_v2", "mobilenet", "mobilenet_v2", "densenet",
]
DTYPES = ["float16", "float32", "float64", "uint8", "int32", "int64"]


def teardown_module():
    shutil.rmtree(_KERAS_HOME, ignore_errors=True)


def random_images(rng, dtype, shape):
    if np.issubdtype(np.dtype(dtype), np.integer):
        return rng.integers(0, 256, shape).astype(dtype)
    return (rng.uniform(-10, 265, shape)).astype(dtype)


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_preprocess_input_per_application(module, dtype, rng):
    import importlib

    ours = importlib.import_module(f"kvk.applications.{module}").preprocess_input
    theirs = importlib.import_module(f"keras.applications.{module}").preprocess_input
    for shape in [(2, 5, 7, 3), (6, 4, 3)]:
        x = random_images(rng, dtype, shape)
        a, b = x.copy(), x.copy()
        want, got = theirs(a), ours(b)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(b, a)  # the caller's array is changed as Keras changes it


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", [None, "channels_last", "channels_first"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_preprocess_input_modes(mode, data_format, dtype, rng):
    from keras.applications import imagenet_utils as keras_utils

    from kvk.applications import imagenet_utils

    for shape in [(3, 3, 6, 5), (3, 4, 4)] if data_format == "channels_first" else [(2, 6, 5, 3), (4, 4, 3)]:
        x = random_images(rng, dtype, shape)
        a, b = x.copy(), x.copy()
        want = keras_utils.preprocess_input(a, data_format=data_format, mode=mode)
        got = imagenet_utils.preprocess_input(b, data_format=data_format, mode=mode)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(b, a)


def test_preprocess_input_errors():
    from keras.applications import imagenet_utils as keras_utils

    from kvk.applications import imagenet_utils

    x = np.zeros((1, 2, 2, 3), np.float32)
    for kwargs in [{"mode": "bgr"}, {"data_format": "channels_middle"}]:
        with pytest.raises(ValueError) as want:
            keras_utils.preprocess_input(x.copy(), **kwargs)
        with pytest.raises(ValueError) as got:
            imagenet_utils.preprocess_input(x.copy(), **kwargs)
        assert str(got.value) == str(want.value)


@pytest.mark.parametrize("top", [1, 3, 5, 20])
def test_decode_predictions(top, rng):
    from keras.applications.imagenet_utils import decode_predictions as theirs

    from kvk.applications.imagenet_utils import decode_predictions as ours

    for preds in [
        rng.random((3, 1000)).astype(np.float32),
        rng.integers(0, 4, (2, 1000)).astype(np.float32),  # ties: the order numpy gives them
        rng.random((1, 1000)),  # float64
    ]:
        want, got = theirs(preds, top=top), ours(preds, top=top)
        assert got == want
        assert [[type(t[2]) for t in row] for row in got] == [[type(t[2]) for t in row] for row in want]
    for bad in [np.zeros((2, 10)), np.zeros(1000), np.zeros((1, 1000, 1))]:
        with pytest.raises(ValueError) as w:
            theirs(bad)
        with pytest.raises(ValueError) as g:
            ours(bad)
        assert str(g.value) == str(w.value)


SIZES = [None, (224, 224), (100, 150), (31, 17)]


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "lanczos"])
@pytest.mark.parametrize("color_mode", ["rgb", "grayscale", "rgba"])
def test_load_img_pillow(photos, interpolation, color_mode):
    from keras.utils import img_to_array as k_img_to_array
    from keras.utils import load_img as k_load_img

    from kvk.preprocessing import image

    for photo in photos:
        for size in SIZES:
            for keep in [False, True]:
                kw = dict(color_mode=color_mode, target_size=size, interpolation=interpolation, keep_aspect_ratio=keep)
                want = k_img_to_array(k_load_img(photo, **kw))
                got = image.img_to_array(image.load_img(photo, **kw))
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError) as w:
        k_load_img(photos[0], target_size=(5, 5), interpolation="cubic")
    with pytest.raises(ValueError) as g:
        image.load_img(photos[0], target_size=(5, 5), interpolation="cubic")
    assert str(g.value) == str(w.value)


@pytest.mark.parametrize("dtype", [None, "float64", "uint8"])
@pytest.mark.parametrize("data_format", [None, "channels_first"])
def test_img_to_array(photos, dtype, data_format):
    from keras.utils import img_to_array as k_img_to_array
    from keras.utils import load_img as k_load_img

    from kvk.preprocessing import image

    for mode in ["rgb", "grayscale"]:
        img = k_load_img(photos[0], color_mode=mode, target_size=(20, 30))
        want = k_img_to_array(img, data_format=data_format, dtype=dtype)
        got = image.img_to_array(img, data_format=data_format, dtype=dtype)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("size", SIZES)
def test_load_img_without_pillow(photos, size):
    """Without Pillow, libkvk decodes and resizes: the same pixels as Keras for nearest (its
    default); bilinear is libkvk's own filter (Pillow's antialiasing differs when shrinking)."""
    from keras.utils import img_to_array as k_img_to_array
    from keras.utils import load_img as k_load_img

    from kvk.preprocessing import image

    for photo in photos:
        for keep in [False, True]:
            want = k_img_to_array(k_load_img(photo, target_size=size, keep_aspect_ratio=keep))
            got = image.img_to_array(image._load_img_kvk(photo, "rgb", size, "nearest", keep))
            np.testing.assert_array_equal(got, want)
            if size:
                kimg = image._load_img_kvk(photo, "rgb", size, "bilinear", keep)
                assert np.asarray(kimg).shape == (size[0], size[1], 3)
    with pytest.raises(ValueError, match="needs Pillow"):
        image._load_img_kvk(photos[0], "grayscale", None, "nearest", False)
    with pytest.raises(OSError, match="/nonexistent.jpg: No such file"):
        image._load_img_kvk("/nonexistent.jpg", "rgb", None, "nearest", False)
