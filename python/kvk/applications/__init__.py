"""kvk.applications: Keras Applications on a Vulkan device, under Keras' names."""

from kvk.applications.densenet import DenseNet121, DenseNet169, DenseNet201
from kvk.applications.inception_resnet_v2 import InceptionResNetV2
from kvk.applications.inception_v3 import InceptionV3
from kvk.applications.mobilenet import MobileNet
from kvk.applications.mobilenet_v2 import MobileNetV2
from kvk.applications.resnet import ResNet50, ResNet101, ResNet152
from kvk.applications.resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from kvk.applications.vgg16 import VGG16
from kvk.applications.vgg19 import VGG19
from kvk.applications.xception import Xception
