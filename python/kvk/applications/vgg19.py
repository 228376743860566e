"""kvk.applications.vgg19: as keras.applications.vgg19, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["VGG19", "preprocess_input", "decode_predictions"]

VGG19 = _base.application("vgg19", "VGG19", "vgg19", 224, 32, __name__)
preprocess_input, decode_predictions = imagenet_utils.module_functions("caffe")
