"""kvk.applications.inception_v3: as keras.applications.inception_v3, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["InceptionV3", "preprocess_input", "decode_predictions"]

InceptionV3 = _base.application("inception_v3", "InceptionV3", "inception_v3", 299, 75, __name__)
preprocess_input, decode_predictions = imagenet_utils.module_functions("tf")
