"""kvk.applications.resnet_v2: as keras.applications.resnet_v2, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "preprocess_input", "decode_predictions"]


def ResNet50V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet50v2",
    device=None,
):
    """keras.applications.resnet_v2.ResNet50V2; device: an index or name (default: the best)."""
    return _base.build(
        "resnet50_v2", 224, 32, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name, device,
    )


def ResNet101V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet101v2",
    device=None,
):
    """keras.applications.resnet_v2.ResNet101V2; device: an index or name (default: the best)."""
    return _base.build(
        "resnet101_v2", 224, 32, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name, device,
    )


def ResNet152V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet152v2",
    device=None,
):
    """keras.applications.resnet_v2.ResNet152V2; device: an index or name (default: the best)."""
    return _base.build(
        "resnet152_v2", 224, 32, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name, device,
    )

def preprocess_input(x, data_format=None):
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    return imagenet_utils.decode_predictions(preds, top=top)
