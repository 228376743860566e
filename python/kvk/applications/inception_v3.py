"""kvk.applications.inception_v3: as keras.applications.inception_v3, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["InceptionV3", "preprocess_input", "decode_predictions"]


def InceptionV3(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_v3",
    device=None,
):
    """keras.applications.inception_v3.InceptionV3; device: an index or name (default: the best)."""
    return _base.build(
        "inception_v3", 299, 75, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name, device,
    )

def preprocess_input(x, data_format=None):
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    return imagenet_utils.decode_predictions(preds, top=top)
