"""kvk.applications.xception: as keras.applications.xception, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["Xception", "preprocess_input", "decode_predictions"]


def Xception(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="xception",
    device=None,
):
    """keras.applications.xception.Xception; device: an index or name (default: the best)."""
    return _base.build(
        "xception", 299, 71, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name, device,
    )

def preprocess_input(x, data_format=None):
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    return imagenet_utils.decode_predictions(preds, top=top)
