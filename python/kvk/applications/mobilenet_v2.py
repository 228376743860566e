"""kvk.applications.mobilenet_v2: as keras.applications.mobilenet_v2, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["MobileNetV2", "preprocess_input", "decode_predictions"]


def MobileNetV2(
    input_shape=None,
    alpha=1.0,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
    device=None,
):
    """keras.applications.mobilenet_v2.MobileNetV2; device: an index or name (default: the best)."""
    return _base.build(
        "mobilenet_v2", 224, 32, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name, device, alpha=alpha, depth_multiplier=None,
    )

preprocess_input, decode_predictions = imagenet_utils.module_functions("tf")
