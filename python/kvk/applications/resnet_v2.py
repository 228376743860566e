"""kvk.applications.resnet_v2: as keras.applications.resnet_v2, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "preprocess_input", "decode_predictions"]

ResNet50V2 = _base.application("resnet50_v2", "ResNet50V2", "resnet50v2", 224, 32, __name__)
ResNet101V2 = _base.application("resnet101_v2", "ResNet101V2", "resnet101v2", 224, 32, __name__)
ResNet152V2 = _base.application("resnet152_v2", "ResNet152V2", "resnet152v2", 224, 32, __name__)
preprocess_input, decode_predictions = imagenet_utils.module_functions("tf")
