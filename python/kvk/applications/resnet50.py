"""kvk.applications.resnet50: as keras.applications.resnet50, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["ResNet50", "preprocess_input", "decode_predictions"]

ResNet50 = _base.application("resnet50", "ResNet50", "resnet50", 224, 32, __name__)
preprocess_input, decode_predictions = imagenet_utils.module_functions("caffe")
