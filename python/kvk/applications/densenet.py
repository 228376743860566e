"""kvk.applications.densenet: as keras.applications.densenet, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "preprocess_input", "decode_predictions"]

DenseNet121 = _base.application("densenet121", "DenseNet121", "densenet121", 224, 32, __name__)
DenseNet169 = _base.application("densenet169", "DenseNet169", "densenet169", 224, 32, __name__)
DenseNet201 = _base.application("densenet201", "DenseNet201", "densenet201", 224, 32, __name__)
preprocess_input, decode_predictions = imagenet_utils.module_functions("torch")
