"""kvk.applications.inception_resnet_v2: as keras.applications.inception_resnet_v2, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["InceptionResNetV2", "preprocess_input", "decode_predictions"]

InceptionResNetV2 = _base.application("inception_resnet_v2", "InceptionResNetV2", "inception_resnet_v2", 299, 75, __name__)
preprocess_input, decode_predictions = imagenet_utils.module_functions("tf")
