"""kvk: Keras Applications on any Vulkan GPU, with Keras' Python API.

    from kvk.applications.resnet50 import ResNet50, preprocess_input, decode_predictions
    from kvk.preprocessing import image
"""

from kvk import applications, models, preprocessing, utils  # noqa: F401
from kvk._lib import KvkError

__version__ = "0.1.0"
__all__ = ["applications", "models", "preprocessing", "utils", "KvkError"]
