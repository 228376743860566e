"""kvk.applications.densenet: as keras.applications.densenet, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "preprocess_input", "decode_predictions"]


def DenseNet121(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet121",
    device=None,
):
    """keras.applications.densenet.DenseNet121; device: an index or name (default: the best)."""
    return _base.build(
        "densenet121", 224, 32, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name, device,
    )


def DenseNet169(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet169",
    device=None,
):
    """keras.applications.densenet.DenseNet169; device: an index or name (default: the best)."""
    return _base.build(
        "densenet169", 224, 32, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name, device,
    )


def DenseNet201(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet201",
    device=None,
):
    """keras.applications.densenet.DenseNet201; device: an index or name (default: the best)."""
    return _base.build(
        "densenet201", 224, 32, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name, device,
    )

def preprocess_input(x, data_format=None):
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds, top=5):
    return imagenet_utils.decode_predictions(preds, top=top)
