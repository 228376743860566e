"""kvk.applications.vgg16: as keras.applications.vgg16, on a kvk device."""

from kvk.applications import _base, imagenet_utils

__all__ = ["VGG16", "preprocess_input", "decode_predictions"]

VGG16 = _base.application("vgg16", "VGG16", "vgg16", 224, 32, __name__)
preprocess_input, decode_predictions = imagenet_utils.module_functions("caffe")
