"""kvk.applications.resnet: as keras.applications.resnet, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["ResNet50", "ResNet101", "ResNet152", "preprocess_input", "decode_predictions"]

ResNet50 = _base.application("resnet50", "ResNet50", "resnet50", 224, 32, __name__)
ResNet101 = _base.application("resnet101", "ResNet101", "resnet101", 224, 32, __name__)
ResNet152 = _base.application("resnet152", "ResNet152", "resnet152", 224, 32, __name__)
preprocess_input, decode_predictions = imagenet_utils.module_functions("caffe")
