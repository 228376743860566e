"""kvk.applications.vgg16: as keras.applications.vgg16, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["VGG16", "preprocess_input", "decode_predictions"]


def VGG16(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="vgg16",
    device=None,
):
    """keras.applications.vgg16.VGG16; device: an index or name (default: the best)."""
    return _base.build(
        "vgg16", 224, 32, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name, device,
    )

def preprocess_input(x, data_format=None):
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    return imagenet_utils.decode_predictions(preds, top=top)
