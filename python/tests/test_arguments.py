"""Bad arguments: Keras' own messages where Keras has one (checked before any device work),
libkvk's otherwise. No device needed."""
import numpy as np
import pytest


def test_keras_messages(tmp_path):
    from kvk.applications.inception_v3 import InceptionV3
    from kvk.applications.resnet50 import ResNet50
    from kvk.applications.vgg16 import VGG16

    with pytest.raises(ValueError, match="^If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000.  Received classes=10$"):
        ResNet50(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="^The `weights` argument should be either `None` \\(random initialization\\), 'imagenet' \\(pre-training on ImageNet\\), or the path to the weights file to be loaded.  Received: weights=/no/such.h5$"):
        VGG16(weights="/no/such.h5")
    with pytest.raises(ValueError, match="^When setting `include_top=True` and loading `imagenet` weights, `input_shape` should be \\(299, 299, 3\\).  Received: input_shape=\\(224, 224, 3\\)$"):
        InceptionV3(weights="imagenet", input_shape=(224, 224, 3))
    with pytest.raises(ValueError, match="^Input size must be at least 75x75; Received: input_shape=\\(64, 64, 3\\)$"):
        InceptionV3(weights=None, include_top=False, input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="^`input_shape` must be a tuple of three integers.$"):
        VGG16(weights=None, include_top=False, input_shape=(64, 64))
    with pytest.raises(ValueError, match="^The input must have 3 channels; Received `input_shape=\\(64, 64, 1\\)`$"):
        VGG16(weights="imagenet", include_top=False, input_shape=(64, 64, 1))


def test_library_messages(tmp_path, rng):
    from kvk import KvkError
    from kvk.applications.resnet50 import ResNet50

    junk = tmp_path / "junk.h5"
    junk.write_bytes(rng.bytes(256))
    with pytest.raises(KvkError, match="junk.h5") as e:
        ResNet50(weights=str(junk), device="cpu-reference")
    assert e.value.status.startswith("KVK_ERROR_")
    with pytest.raises(ValueError, match="no device|No device|device"):
        ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3), device="no-such-gpu-name")
    with pytest.raises(ValueError, match="pooling"):
        ResNet50(weights=None, include_top=False, pooling="median")


def test_decode_predictions_needs_1000_classes():
    from kvk.applications.resnet50 import decode_predictions

    with pytest.raises(ValueError, match="Received array with shape: \\(1, 10\\)"):
        decode_predictions(np.zeros((1, 10), np.float32))
