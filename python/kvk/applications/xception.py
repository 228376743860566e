"""kvk.applications.xception: as keras.applications.xception, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["Xception", "preprocess_input", "decode_predictions"]

Xception = _base.application("xception", "Xception", "xception", 299, 71, __name__)
preprocess_input, decode_predictions = imagenet_utils.module_functions("tf")
