"""kvk.applications.mobilenet: as keras.applications.mobilenet, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["MobileNet", "preprocess_input", "decode_predictions"]


def MobileNet(
    input_shape=None,
    alpha=1.0,
    depth_multiplier=1,
    dropout=1e-3,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
    device=None,
):
    """keras.applications.mobilenet.MobileNet; device: an index or name (default: the best)."""
    return _base.build(
        "mobilenet", 224, 32, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name, device, alpha=alpha, depth_multiplier=depth_multiplier,
    )

preprocess_input, decode_predictions = imagenet_utils.module_functions("tf")
