#!/usr/bin/env python3
"""Generate Keras oracle test cases with random weights.

    make_keras_cases.py OUT_DIR [--case NAME ...] [--list] [--force] [--threads N] [--fp64-check]

For each case, OUT_DIR/NAME/ gets:
  weights.h5     model.save_weights(): Keras 2 HDF5 layout (root attr
                 layer_names, per-layer attr weight_names like "conv1_conv/kernel:0")
  model.h5       model.save(): legacy HDF5 full model (model_weights + model_config)
                 (only cases that list it)
  weights_th.h5  theano-ordered copy of weights.h5 (only cases that list it):
                 every plain Conv2D kernel flipped spatially (kernel[::-1, ::-1, :, :],
                 keras conv_utils.convert_kernel; like convert_all_kernels_in_model,
                 SeparableConv2D/DepthwiseConv2D kernels are left alone); the first
                 Dense after Flatten (VGG fc1) has its kernel rows in channels_first
                 flatten order (c, h, w) instead of (h, w, c); root attr backend = "theano"
  weights_legacy.h5
                 the same weights as a Keras 0.x/1.0 Sequential saved them (the layout of the
                 2016 theano vgg16_weights.h5; VGG cases that list it): root attr nb_layers,
                 groups layer_<i> with attr nb_params and datasets param_<j>, one group per
                 layer of the old Sequential, parameter-free ones included: an explicit
                 ZeroPadding2D before each 'valid' 3x3 Conv2D (Keras 2's padding='same'),
                 Dropout after each Dense but the last; kernels theano-ordered (out, in, kh,
                 kw) and flipped, the first Dense after Flatten with its rows in (c, h, w)
                 order. Keras 1 loaded it by layer index (Sequential.load_weights' legacy path)
  weights_logits.h5
                 weights.h5 with MobileNetV2's Dense "predictions" renamed "Logits", as
                 keras-applications <= 1.0.8 named it (only cases that list it)
  weights_names1.h5, weights_offset.h5
                 weights.h5 with every auto-named layer (conv2d, batch_normalization,
                 activation, add, ...) renumbered: 1-based like Keras 2.0-2.2 wrote them
                 (conv2d -> conv2d_1, conv2d_5 -> conv2d_6), or shifted as if other models
                 had been built before in the same session (per-prefix shifts crossing
                 99 -> 100, so neither a numeric nor a string sort gives the file order).
                 HDF5 groups, layer_names and weight_names are renamed consistently; Keras
                 loads them by order (only cases that list them)
  input.npy      float32 NHWC input, uniform random in the range of the architecture's
                 preprocess_input mode: "caffe" (VGG, ResNet50/101/152): per BGR channel over
                 pixel 0..255 minus the ImageNet mean; "tf" (InceptionV3, Xception, MobileNet,
                 ResNetV2, ...): [-1, 1]; "torch" (DenseNet): uniform pixels, / 255, minus
                 the ImageNet mean, over its std
  output.npy     float32 model.predict(input)
  features_K.npy feature cases only: float32 output of the K-th entry of case.json
                 "features" ({"layer", "pooling", "file"}): the named layer's output in
                 Model(base.input, [base.get_layer(n).output, ...]), then for pooling
                 "avg"/"max" the mean/max over axes (1, 2)
  case.json      description of the case (arch, naming, sizes, files, versions, the
                 constructor's other arguments (OPTIONS), the model's layer names). A case
                 with no files is the architecture only: case.json with layers and
                 output_shape, nothing else (no weights, no inference)
  done.json      completion marker (script hash, time, bytes); a case whose
                 done.json has this script's hash is skipped on reruns

Random weights are scaled so activations stay O(1) through the deep nets:
conv/dense kernels ~ N(0, 2/fan_in) (SeparableConv2D: depthwise N(0, 2/(kh*kw)),
pointwise N(0, 2/cin)); biases (where the layer has one) ~ N(0, (0.2 * s)^2) where s
is the std of the layer's pre-bias output on this case's input; BatchNormalization
moving stats are calibrated on the input (see init_weights), gamma (if the layer has
one) ~ U(0.5, 1.5), beta ~ N(0, 0.2); the softmax classifier's kernel is scaled so
logits have std ~2 (softmax not saturated).
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import time
import zlib

# Quiet, reproducible TensorFlow on CPU; must be set before importing it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")   # plain Eigen kernels
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import numpy as np

SCRIPT_HASH = hashlib.sha256(open(os.path.abspath(__file__), "rb").read() +
                             os.environ.get("KVK_ORACLE_SEED", "").encode()).hexdigest()

# Caffe-mode input range per channel (BGR): [0, 255] - ImageNet mean.
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)

# arch: (keras constructor, preprocess_input mode); naming "legacy" (ResNet50 only) uses
# keras-applications 1.0.8 instead, see build_model.
ARCHS = {
    "vgg16": ("VGG16", "caffe"),
    "vgg19": ("VGG19", "caffe"),
    "resnet50": ("ResNet50", "caffe"),
    "inception_v3": ("InceptionV3", "tf"),
    "xception": ("Xception", "tf"),
    "mobilenet": ("MobileNet", "tf"),
    "mobilenet_v2": ("MobileNetV2", "tf"),
    "densenet121": ("DenseNet121", "torch"),
    "densenet169": ("DenseNet169", "torch"),
    "densenet201": ("DenseNet201", "torch"),
    "resnet101": ("ResNet101", "caffe"),
    "resnet152": ("ResNet152", "caffe"),
    "resnet50_v2": ("ResNet50V2", "tf"),
    "resnet101_v2": ("ResNet101V2", "tf"),
    "resnet152_v2": ("ResNet152V2", "tf"),
    "inception_resnet_v2": ("InceptionResNetV2", "tf"),
}

PREPROCESSING = {
    "caffe": "caffe (BGR, mean-subtracted, no scaling), uniform random",
    "tf": "tf (RGB scaled to [-1, 1]), uniform random in [-1, 1]",
    "torch": "torch (RGB / 255, minus the ImageNet mean, over its std), of uniform random pixels",
}

# Torch-mode statistics (imagenet_utils._preprocess_numpy_input, RGB).
TORCH_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
TORCH_STD = np.array([0.229, 0.224, 0.225], np.float32)

W, M, TH, N1, OFF = "weights.h5", "model.h5", "weights_th.h5", "weights_names1.h5", "weights_offset.h5"
# MobileNetV2's classifier as keras-applications named it (and the official ImageNet files
# have it): Dense "Logits", not "predictions"
LG = "weights_logits.h5"
LOGITS = {"predictions": "Logits"}
# Keras 0.x/1.0 Sequential save_weights, as the 2016 theano vgg16_weights.h5 (VGG only)
LEG = "weights_legacy.h5"

# name: (arch, naming, include_top, pooling, classes, height, width, batch, files)
CASES = {
    "vgg16_top":                 ("vgg16", None, True, None, 1000, 224, 224, 1, [W, TH, LEG]),
    "vgg16_notop_avg":           ("vgg16", None, False, "avg", 1000, 64, 80, 2, [W, M, TH]),
    "vgg19_top":                 ("vgg19", None, True, None, 1000, 224, 224, 1, [W, TH]),
    "vgg19_notop_max":           ("vgg19", None, False, "max", 1000, 48, 48, 1, [W, TH, LEG]),
    "vgg16_top_classes10":       ("vgg16", None, True, None, 10, 224, 224, 2, [W]),
    "resnet50_top":              ("resnet50", "keras2", True, None, 1000, 224, 224, 1, [W, M, TH]),
    "resnet50_legacy_top":       ("resnet50", "legacy", True, None, 1000, 224, 224, 1, [W, M]),
    "resnet50_notop_avg":        ("resnet50", "keras2", False, "avg", 1000, 96, 128, 3, [W, TH]),
    "resnet50_legacy_notop_max": ("resnet50", "legacy", False, "max", 1000, 128, 160, 1, [W]),
    "resnet50_notop_none":       ("resnet50", "keras2", False, None, 1000, 192, 224, 1, [W]),
    "resnet50_classes7":         ("resnet50", "keras2", True, None, 7, 224, 224, 1, [W]),
    # InceptionV3: default 299x299, smallest 75x75; BN without gamma, convs without bias
    "inception_v3_top":          ("inception_v3", None, True, None, 1000, 299, 299, 1, [W, M, TH, N1, OFF]),
    "inception_v3_top_classes10": ("inception_v3", None, True, None, 10, 299, 299, 1, [W]),
    "inception_v3_notop_avg":    ("inception_v3", None, False, "avg", 1000, 150, 200, 3, [W, TH]),
    "inception_v3_notop_max":    ("inception_v3", None, False, "max", 1000, 150, 200, 1, [W]),
    "inception_v3_notop_none":   ("inception_v3", None, False, None, 1000, 150, 200, 1, [W]),
    "inception_v3_min_avg":      ("inception_v3", None, False, "avg", 1000, 75, 75, 2, [W]),
    "inception_v3_min_max":      ("inception_v3", None, False, "max", 1000, 75, 75, 1, [W]),
    "inception_v3_min_none":     ("inception_v3", None, False, None, 1000, 75, 75, 2, [W]),
    # Xception: default 299x299, smallest 71x71; SeparableConv2D, residual Add
    "xception_top":              ("xception", None, True, None, 1000, 299, 299, 1, [W, M, TH, N1, OFF]),
    "xception_top_classes10":    ("xception", None, True, None, 10, 299, 299, 1, [W]),
    "xception_notop_avg":        ("xception", None, False, "avg", 1000, 150, 200, 3, [W, TH]),
    "xception_notop_max":        ("xception", None, False, "max", 1000, 150, 200, 1, [W]),
    "xception_notop_none":       ("xception", None, False, None, 1000, 150, 200, 1, [W]),
    "xception_min_avg":          ("xception", None, False, "avg", 1000, 71, 71, 2, [W]),
    "xception_min_max":          ("xception", None, False, "max", 1000, 71, 71, 1, [W]),
    "xception_min_none":         ("xception", None, False, None, 1000, 71, 71, 2, [W]),
    # feature cases (FEATURES below): no top, small non-default size, batch 2
    "vgg16_features":            ("vgg16", None, False, None, 1000, 96, 128, 2, [W]),
    "vgg19_features":            ("vgg19", None, False, None, 1000, 96, 128, 2, [W]),
    "resnet50_features":         ("resnet50", "keras2", False, None, 1000, 96, 128, 2, [W]),
    "inception_v3_features":     ("inception_v3", None, False, None, 1000, 150, 150, 2, [W]),
    "xception_features":         ("xception", None, False, None, 1000, 150, 150, 2, [W]),
    # MobileNet (alpha, depth_multiplier in OPTIONS): default 224, smallest 32; ReLU6,
    # DepthwiseConv2D; the classifier a 1x1 Conv2D after GlobalAveragePooling2D(keepdims)
    "mobilenet_top_a025":        ("mobilenet", None, True, None, 1000, 128, 128, 1, [W, M]),
    "mobilenet_notop_avg_a050":  ("mobilenet", None, False, "avg", 1000, 48, 64, 2, [W]),
    "mobilenet_min_max_a075_dm2": ("mobilenet", None, False, "max", 1000, 32, 32, 1, [W]),
    # MobileNetV2: correct_pad on odd and even sizes, Add where shapes allow
    "mobilenet_v2_top_a100":     ("mobilenet_v2", None, True, None, 1000, 96, 96, 1, [W, LG]),
    "mobilenet_v2_notop_avg_a035": ("mobilenet_v2", None, False, "avg", 1000, 75, 91, 2, [W]),
    "mobilenet_v2_layers_a140":  ("mobilenet_v2", None, True, None, 1000, 224, 224, 1, []),
    "mobilenet_v2_notop_none_a130": ("mobilenet_v2", None, False, None, 1000, 95, 79, 1, [W]),
    # DenseNet: BN-ReLU-Conv, Concatenate chains, layer names with "/" (conv1/conv). Cases
    # without files (*_layers) check only the architecture: layer names and output shape
    "densenet121_notop_avg":     ("densenet121", None, False, "avg", 1000, 64, 48, 2, [W, M]),
    "densenet169_layers":        ("densenet169", None, False, "max", 1000, 32, 32, 1, []),
    "densenet201_layers":        ("densenet201", None, False, None, 1000, 64, 80, 1, []),
    # ResNet101/152 (V1 blocks) and the pre-activation V2 family
    "resnet101_notop_avg":       ("resnet101", None, False, "avg", 1000, 64, 64, 1, [W]),
    "resnet152_layers":          ("resnet152", None, True, None, 1000, 224, 224, 1, []),
    "resnet50_v2_notop_avg":     ("resnet50_v2", None, False, "avg", 1000, 64, 64, 2, [W]),
    "resnet101_v2_notop_none":   ("resnet101_v2", None, False, None, 1000, 64, 64, 1, [W]),
    # InceptionResNetV2: default 299, smallest 75; the scaled residual (CustomScaleLayer) and
    # auto-named layers, also renumbered from 1 as in Keras 2.0-2.2 files (InceptionResNetV2
    # and ResNet152V2 are not generated at their default size or with the top: minutes of
    # TensorFlow for what the other cases' heads and blocks cover)
    "inception_resnet_v2_min_avg": ("inception_resnet_v2", None, False, "avg", 1000, 75, 91, 1, [W, N1]),
}

# Constructor arguments besides the common ones, per case (recorded in case.json). With
# "infer" the test lets kvk tell them from the weight file instead of passing them.
OPTIONS = {
    "mobilenet_top_a025": {"alpha": 0.25},
    "mobilenet_notop_avg_a050": {"alpha": 0.5, "infer": True},
    "mobilenet_min_max_a075_dm2": {"alpha": 0.75, "depth_multiplier": 2},
    "mobilenet_v2_top_a100": {"alpha": 1.0},
    "mobilenet_v2_notop_avg_a035": {"alpha": 0.35, "infer": True},
    "mobilenet_v2_layers_a140": {"alpha": 1.4},
    "mobilenet_v2_notop_none_a130": {"alpha": 1.3, "infer": True},
}

# Feature cases: (layer, pooling) per output, in order. Layer names are those of a fresh
# session (clear_session), i.e. tf-keras' 0-based auto names: conv2d, conv2d_1, ...
FEATURES = {
    "vgg16_features": [
        ("block1_conv2", None),           # early
        ("block3_pool", None),            # middle, a pooling output
        ("block4_conv3", "avg"),
        ("block5_conv3", None),           # last conv (before block5_pool)
        ("block5_pool", "max"),
    ],
    "vgg19_features": [
        ("block1_conv2", None),
        ("block3_pool", None),
        ("block3_conv4", "avg"),
        ("block5_conv3", None),
        ("block5_conv4", "max"),
    ],
    "resnet50_features": [
        ("conv1_relu", None),             # early
        ("conv2_block1_1_conv", None),    # raw conv output, before its BN
        ("conv2_block1_0_bn", None),      # BN output feeding the residual Add
        ("conv3_block2_out", None),       # middle
        ("conv3_block4_add", "avg"),      # Add before its ReLU
        ("conv4_block1_1_bn", None),      # BN before its ReLU
        ("conv5_block3_out", None),       # last block
        ("conv5_block3_out", "max"),
    ],
    "inception_v3_features": [
        ("activation", None),             # early, auto-named
        ("conv2d_4", None),               # raw conv output, before batch_normalization_4
        ("batch_normalization_5", None),  # BN before its ReLU
        ("max_pooling2d_1", None),
        ("average_pooling2d", "max"),     # auto-named weightless layer
        ("activation_26", None),          # first input of the Concatenate mixed3
        ("mixed3", "avg"),
        ("average_pooling2d_4", None),
        ("mixed5", None),                 # middle
        ("concatenate", None),            # the unnamed Concatenate inside mixed9
        ("mixed10", None),                # last block
        ("mixed10", "max"),
        ("activation_75", "avg"),
    ],
    "xception_features": [
        ("block1_conv1_act", None),       # early
        ("block1_conv2", None),           # raw conv output, before block1_conv2_bn
        ("block2_sepconv1", None),        # raw separable conv output, before its BN
        ("block2_sepconv1_bn", "avg"),    # BN before its ReLU
        ("conv2d_1", None),               # raw residual conv (auto-named), before its BN
        ("add_2", None),                  # auto-named Add
        ("block4_sepconv2_bn", None),     # BN feeding a MaxPooling2D
        ("add_6", "max"),                 # middle flow
        ("block13_pool", None),
        ("block14_sepconv2_act", None),   # last block
        ("block14_sepconv2_act", "avg"),
    ],
}

# Auto layer names: tf-keras numbers them from 0 per prefix in a session (conv2d,
# conv2d_1, ...; Input layers from 1: input_1).
AUTO_NAME = re.compile(r"^(conv2d|batch_normalization|activation|max_pooling2d|"
                       r"average_pooling2d|concatenate|add|input)(?:_(\d+))?$")
# weights_offset.h5: 0-based index + shift, per prefix; each shift makes some numbers cross
# 99 -> 100 in InceptionV3 (94 convs) and Xception (4 convs, 12 adds)
OFFSETS = {"conv2d": 97, "batch_normalization": 98, "activation": 80, "max_pooling2d": 98,
           "average_pooling2d": 95, "concatenate": 99, "add": 90, "input": 3}


def build_model(tf_keras, arch, naming, include_top, pooling, classes, h, w, options=None):
    """Instantiate the Keras Applications model with random (unset) weights."""
    kw = dict(weights=None, include_top=include_top, pooling=pooling,
              classes=classes, input_shape=(h, w, 3))
    kw.update({k: v for k, v in (options or {}).items() if k != "infer"})
    if naming == "legacy":
        # keras-applications 1.0.8: the Keras 2.2.x ResNet50 (conv1, bn_conv1,
        # res2a_branch2a, ..., fc1000), run on tf-keras' backend/layers.
        import keras_applications.resnet50 as kr
        return kr.ResNet50(backend=tf_keras.backend, layers=tf_keras.layers,
                           models=tf_keras.models, utils=tf_keras.utils, **kw)
    return getattr(tf_keras.applications, ARCHS[arch][0])(**kw)


def make_input(arch, rng, shape):
    if ARCHS[arch][1] == "tf":
        # like preprocess_input mode "tf": pixel / 127.5 - 1
        return rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    if ARCHS[arch][1] == "torch":
        # like preprocess_input mode "torch" of pixels uniform in [0, 255]
        x = rng.uniform(0.0, 255.0, shape).astype(np.float32) / np.float32(255.0)
        return ((x - TORCH_MEAN) / TORCH_STD).astype(np.float32)
    # Input like a caffe-preprocessed BGR image: channel c in [-mean_c, 255 - mean_c].
    return (rng.uniform(0.0, 255.0, shape).astype(np.float32) - CAFFE_MEAN_BGR).astype(np.float32)


def weight_key(w):
    """"block2_sepconv1/depthwise_kernel:0" -> "depthwise_kernel"."""
    return w.name.split("/")[-1].split(":")[0]


def init_weights(tf, tf_keras, model, x, rng):
    """Set random weights, walking the graph eagerly on input x so BN stats,
    bias scales and the classifier scale are fitted to actual activations."""
    L = tf_keras.layers
    cfg = model.get_config()
    values = {}  # layer name -> eager output tensor
    for name, _, _ in cfg["input_layers"]:
        values[name] = tf.constant(x)
    for lc in cfg["layers"]:
        layer = model.get_layer(lc["name"])
        if isinstance(layer, L.InputLayer):
            continue
        inb = [values[n[0]] for n in lc["inbound_nodes"][0]]
        xin = inb[0] if len(inb) == 1 else inb

        if isinstance(layer, (L.Conv2D, L.Dense, L.SeparableConv2D, L.DepthwiseConv2D)):
            kernels = {}
            if isinstance(layer, (L.SeparableConv2D, L.DepthwiseConv2D)):
                dk = layer.depthwise_kernel      # (kh, kw, cin, depth_multiplier)
                kernels["depthwise_kernel"] = (rng.standard_normal(dk.shape, dtype=np.float32) *
                                               np.float32(np.sqrt(2.0 / (dk.shape[0] * dk.shape[1]))))
                if isinstance(layer, L.SeparableConv2D):
                    pk = layer.pointwise_kernel  # (1, 1, cin * depth_multiplier, cout)
                    kernels["pointwise_kernel"] = (rng.standard_normal(pk.shape, dtype=np.float32) *
                                                   np.float32(np.sqrt(2.0 / pk.shape[2])))
                last = "pointwise_kernel" if isinstance(layer, L.SeparableConv2D) else "depthwise_kernel"
            else:
                kernel = layer.kernel
                fan_in = int(np.prod(kernel.shape[:-1]))
                kernels["kernel"] = rng.standard_normal(kernel.shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
                last = "kernel"
            bias = getattr(layer, "bias", None) if getattr(layer, "use_bias", True) else None
            zero_b = np.zeros(bias.shape, np.float32) if bias is not None else None

            def put(b):
                vals = dict(kernels)
                if b is not None:
                    vals["bias"] = b
                layer.set_weights([vals[weight_key(wt)] for wt in layer.weights])

            put(zero_b)
            act = layer.activation
            layer.activation = tf_keras.activations.linear
            y = layer(xin).numpy()            # pre-bias, pre-activation output
            layer.activation = act
            if act is tf_keras.activations.softmax or layer.name == "conv_preds":
                # (MobileNet's classifier is a 1x1 Conv2D "conv_preds" before its softmax)
                # classifier: logits with std ~2
                scale = np.float32(2.0 / max(float(y.std()), 1e-12))
                kernels[last] *= scale
                y *= scale
            if zero_b is not None:
                s = float(y.std())
                b = (rng.standard_normal(zero_b.shape) * 0.2 * s).astype(np.float32)
                put(b)
                y = y + b
            else:
                put(None)
            out = act(tf.constant(y))
        elif isinstance(layer, L.BatchNormalization):
            xv = xin.numpy()
            axes = tuple(range(xv.ndim - 1))
            mean = xv.mean(axis=axes)
            var = xv.var(axis=axes)
            # A BN's output error relative to its size is its input's times |x| / |x - mean|,
            # and more where channel gains 1 / sqrt(var) differ with the channel's value.
            # Statistics of a few pixels (small inputs, batch 1) make x - mean cancel almost
            # exactly (seen: Keras fp32 vs fp64 2.8e-3); centring halfway still doubled the
            # relative error at every BN whose input is 1x1 with batch 1 (InceptionV3 at 75x75:
            # x2.5 per BN through mixed8-10, fp32 vs fp64 1e-2), and a per-channel second
            # moment of one value equalises the channels (x1.5 per BN). So weight the per-
            # channel statistics by w = var / second moment, which is 0 where a channel's
            # statistics are a single value: centre by 0.5 * w * mean (amplification at most
            # 1 / (1 - 0.5 / 4)), and scale by w * m2_c + (1 - w + 0.5) * the layer's
            # average second moment (so no channel gets a large gain either).
            m2 = var + mean * mean
            wgt = var / np.maximum(m2, 1e-30)
            avg = float(m2.mean())
            mean = 0.5 * wgt * mean
            var = wgt * m2 + (1.5 - wgt) * avg + 1e-6
            c = mean.shape[0]
            gamma = rng.uniform(0.5, 1.5, c).astype(np.float32)  # drawn even without scale
            beta = (rng.standard_normal(c) * 0.2).astype(np.float32)
            mmean = (mean + rng.standard_normal(c) * 0.1 * np.sqrt(var)).astype(np.float32)
            mvar = (var * rng.uniform(0.5, 1.5, c)).astype(np.float32)
            # by name: InceptionV3's BN has scale=False (no gamma)
            byname = {"gamma": gamma, "beta": beta, "moving_mean": mmean, "moving_variance": mvar}
            layer.set_weights([byname[weight_key(wt)] for wt in layer.weights])
            out = layer(xin, training=False)
        elif isinstance(layer, L.Normalization):
            # adapt()'s state, from this input's statistics, perturbed per channel
            xv = xin.numpy()
            axes = tuple(range(xv.ndim - 1))
            c = xv.shape[-1]
            mean = xv.mean(axis=axes) + rng.standard_normal(c) * 0.1 * xv.std(axis=axes)
            var = xv.var(axis=axes) * rng.uniform(0.5, 1.5, c)
            byname = {"mean": mean.astype(np.float32), "variance": var.astype(np.float32),
                      "count": np.int64(xv.size // c)}
            layer.set_weights([byname[weight_key(wt)] for wt in layer.weights])
            out = layer(xin)
        else:
            assert not layer.weights, f"unexpected weighted layer {layer.name} ({type(layer).__name__})"
            out = layer(xin)
        values[layer.name] = out


def theano_convs(model):
    """The layers convert_all_kernels_in_model flips: by class name Conv1D/2D/3D and
    Conv2DTranspose, so not SeparableConv2D or DepthwiseConv2D (which subclass Conv2D in
    some Keras versions, so isinstance would be wrong)."""
    return {l.name for l in model.layers
            if type(l).__name__ in ("Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose")}


def _str(v):
    return v.decode() if isinstance(v, bytes) else v


def write_theano_copy(h5py, src, dst, model, tf_keras):
    """weights_th.h5: weights.h5 with flipped Conv2D kernels, fc1 rows in (c, h, w) order
    and backend = "theano"."""
    shutil.copyfile(src, dst)
    convs = theano_convs(model)
    fc1 = None  # (dense name, (h, w, c)) for the first Dense after a Flatten
    for i, l in enumerate(model.layers):
        if isinstance(l, tf_keras.layers.Flatten):
            for nxt in model.layers[i + 1:]:
                if isinstance(nxt, tf_keras.layers.Dense):
                    fc1 = (nxt.name, tuple(l.input_shape[1:]))
                    break
            break
    with h5py.File(dst, "r+") as f:
        old = f.attrs.get("backend")
        f.attrs["backend"] = b"theano" if isinstance(old, bytes) else "theano"
        for lname in f.attrs["layer_names"]:
            lname = _str(lname)
            g = f[lname]
            for wname in g.attrs["weight_names"]:
                wname = _str(wname)
                if not wname.endswith("/kernel:0"):
                    continue
                d = g[wname]
                if lname in convs:
                    d[...] = d[()][::-1, ::-1, :, :]
                elif fc1 and lname == fc1[0]:
                    h, w, c = fc1[1]
                    k = d[()]
                    d[...] = k.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(k.shape)
    return fc1, convs


def write_legacy_copy(h5py, model, tf_keras, dst):
    """weights_legacy.h5 (see the module doc). Returns the number of groups written."""
    L = tf_keras.layers
    groups = []   # (old class, [arrays]) in the order of the old Sequential
    prev = None
    layers = [l for l in model.layers if not isinstance(l, L.InputLayer)]
    for i, l in enumerate(layers):
        if isinstance(l, L.Conv2D) and type(l).__name__ == "Conv2D":
            assert l.padding == "same" and l.kernel_size == (3, 3) and l.strides == (1, 1)
            k, b = l.get_weights()
            groups.append(("ZeroPadding2D", []))
            groups.append(("Convolution2D", [k.transpose(3, 2, 0, 1)[:, :, ::-1, ::-1], b]))
        elif isinstance(l, L.Dense):
            k, b = l.get_weights()
            if isinstance(prev, L.Flatten):
                h, w, c = prev.input_shape[1:]
                k = k.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(k.shape)
            groups.append(("Dense", [k, b]))
            if i + 1 < len(layers):
                groups.append(("Dropout", []))
        else:
            assert not l.weights, f"{l.name}: no Keras 0.x layout written for {type(l).__name__}"
            groups.append((type(l).__name__, []))
        prev = l
    with h5py.File(dst, "w") as f:
        f.attrs["nb_layers"] = len(groups)
        for i, (_, params) in enumerate(groups):
            g = f.create_group(f"layer_{i}")
            g.attrs["nb_params"] = len(params)
            for j, p in enumerate(params):
                g.create_dataset(f"param_{j}", data=np.ascontiguousarray(p, np.float32))
    # undo the conversions with numpy: the file holds exactly the model's weights
    with h5py.File(dst, "r") as f:
        stored = [f[f"layer_{i}"][f"param_{j}"][()] for i in range(f.attrs["nb_layers"])
                  for j in range(f[f"layer_{i}"].attrs["nb_params"])]
    want = [a for _, params in groups for a in params]
    assert len(stored) == len(want) == len(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(stored, want))
    return len(groups)


def check_theano_copy(h5py, plain, th, fc1, convs):
    """Undo the theano conversion with numpy and compare with weights.h5: exactly the
    Conv2D kernels are flipped, everything else (separable/depthwise kernels, BN) is not."""
    with h5py.File(plain, "r") as a, h5py.File(th, "r") as b:
        nflip = 0
        assert _str(b.attrs["backend"]) == "theano"
        for lname in a.attrs["layer_names"]:
            lname = _str(lname)
            for wname in a[lname].attrs["weight_names"]:
                wname = _str(wname)
                x, y = a[lname][wname][()], b[lname][wname][()]
                if lname in convs and wname.endswith("/kernel:0"):
                    assert y.ndim == 4
                    y = y[::-1, ::-1]
                    nflip += 1
                elif fc1 and lname == fc1[0] and wname.endswith("/kernel:0"):
                    h, w, c = fc1[1]
                    y = y.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(y.shape)
                assert np.array_equal(x, y), f"theano copy mismatch at {lname}/{wname}"
    assert nflip == len(convs), (nflip, len(convs))
    return nflip


def renumber(name, shifts):
    """An auto layer name renumbered: 0-based index + shifts[prefix] (Input layers, which
    tf-keras already numbers from 1, keep input_1 for a shift of 1). Other names unchanged."""
    m = AUTO_NAME.match(name)
    if not m:
        return name
    prefix, k = m.group(1), int(m.group(2) or 0)
    if prefix == "input":
        k -= 1
    return f"{prefix}_{k + shifts[prefix]}"


def write_renamed_copy(h5py, src, dst, shifts, names_map=None):
    """weights.h5 with auto-named layers renumbered: groups, layer_names and weight_names
    ("conv2d_5/kernel:0" -> "conv2d_102/kernel:0") renamed, order kept. Returns the map."""
    mapping = {}
    with h5py.File(src, "r") as a, h5py.File(dst, "w") as b:
        assert "layer_names" in a.attrs, "chunked layer_names attribute not handled"
        for k, v in a.attrs.items():
            b.attrs[k] = v
        names = [_str(n) for n in a.attrs["layer_names"]]
        mapping = {n: (names_map.get(n, n) if names_map else renumber(n, shifts)) for n in names}
        assert len(set(mapping.values())) == len(names)
        b.attrs["layer_names"] = np.array([mapping[n].encode() for n in names])
        for n in names:
            g, ng = a[n], b.create_group(mapping[n])
            for k, v in g.attrs.items():
                ng.attrs[k] = v
            wnames = [_str(w) for w in g.attrs["weight_names"]]
            if not wnames:
                continue

            def rn(w):
                head, _, tail = w.partition("/")
                return (mapping.get(head, head) + "/" + tail) if tail else w
            ng.attrs["weight_names"] = np.array([rn(w).encode() for w in wnames])
            for w in wnames:
                ng.create_dataset(rn(w), data=g[w][()])
    return mapping


def check_renamed_copy(h5py, plain, copy, mapping, shifts):
    with h5py.File(plain, "r") as a, h5py.File(copy, "r") as b:
        na = [_str(n) for n in a.attrs["layer_names"]]
        nb = [_str(n) for n in b.attrs["layer_names"]]
        assert nb == [mapping[n] for n in na]
        for n in na:
            wa = [_str(w) for w in a[n].attrs["weight_names"]]
            wb = [_str(w) for w in b[mapping[n]].attrs["weight_names"]]
            assert len(wa) == len(wb)
            for x, y in zip(wa, wb):
                assert x.split("/", 1)[1] == y.split("/", 1)[1]
                assert np.array_equal(a[n][x][()], b[mapping[n]][y][()])
        # Per prefix, is the file order of the renamed weighted layers (which kvk must
        # follow) the numeric or the string sort of their names?
        wl = [mapping[n] for n in na if a[n].attrs["weight_names"].size and mapping[n] != n]
    groups = {}
    for v in wl:
        m = AUTO_NAME.match(v)
        groups.setdefault(m.group(1), []).append((int(m.group(2)), v))
    return {"renamed_layers": sum(1 for k, v in mapping.items() if k != v),
            "renamed_weighted_layers": len(wl),
            "file_order_is_numeric_sort": all(g == sorted(g) for g in groups.values()),
            "file_order_is_string_sort": all([v for _, v in g] == sorted(v for _, v in g)
                                             for g in groups.values()),
            "shifts": shifts}


def dir_bytes(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def rel_error(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def feature_outputs(tf_keras, base, x, batch, features):
    """Keras' truth for a feature case: the unique layers' outputs from one multi-output
    Model, then the per-entry global pooling (in float64, stored as float32)."""
    names = list(dict.fromkeys(n for n, _ in features))
    fm = tf_keras.Model(inputs=base.input, outputs=[base.get_layer(n).output for n in names])
    outs = fm.predict(x, batch_size=batch, verbose=0)
    if len(names) == 1:
        outs = [outs]
    byname = dict(zip(names, outs))
    res = []
    for n, pool in features:
        v = np.asarray(byname[n])
        if pool == "avg":
            v = v.astype(np.float64).mean(axis=(1, 2))
        elif pool == "max":
            v = v.max(axis=(1, 2))
        res.append(v.astype(np.float32))
    return res


def fp64_errors(tf_keras, name, weights, x, y, feats):
    """Rebuild the case's model in float64 with the same weights: relative L2 error of
    Keras' float32 output (and features) against float64, i.e. how well conditioned the
    case is. Costs a second model build and forward pass."""
    arch, naming, top, pooling, classes, h, w, batch, _ = CASES[name]
    tf_keras.backend.clear_session()
    tf_keras.backend.set_floatx("float64")
    try:
        m64 = build_model(tf_keras, arch, naming, top, pooling, classes, h, w, OPTIONS.get(name))
        m64.set_weights([v.astype(np.float64) for v in weights])
        x64 = x.astype(np.float64)
        errs = {"output": rel_error(y, m64.predict(x64, batch_size=batch, verbose=0))}
        if name in FEATURES:
            f64 = feature_outputs(tf_keras, m64, x64, batch, FEATURES[name])
            for (n, p), a, b in zip(FEATURES[name], feats, f64):
                errs[f"{n}" + (f"/{p}" if p else "")] = rel_error(a, b)
        del m64
    finally:
        tf_keras.backend.set_floatx("float32")
        tf_keras.backend.clear_session()
    return errs


def make_case(name, out_root, mods, fp64=False):
    tf, tf_keras, h5py = mods
    arch, naming, top, pooling, classes, h, w, batch, files = CASES[name]
    d = os.path.join(out_root, name)
    t0 = time.time()
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)

    # KVK_ORACLE_SEED (CI sets a fresh one per run) changes every case's weights and input
    seed = zlib.crc32((name + os.environ.get("KVK_ORACLE_SEED", "")).encode())
    rng = np.random.default_rng(seed)
    tf_keras.backend.clear_session()   # reproducible auto layer names (input_1, conv2d, ...)
    tf_keras.utils.set_random_seed(seed % (2**31))

    model = build_model(tf_keras, arch, naming, top, pooling, classes, h, w, OPTIONS.get(name))
    if not files:
        return make_layers_case(name, d, model, t0)
    x = make_input(arch, rng, (batch, h, w, 3))
    init_weights(tf, tf_keras, model, x, rng)
    y = model.predict(x, batch_size=batch, verbose=0).astype(np.float32)

    np.save(os.path.join(d, "input.npy"), x)
    np.save(os.path.join(d, "output.npy"), y)
    model.save_weights(os.path.join(d, W))
    if M in files:
        model.save(os.path.join(d, M), include_optimizer=False)
    fc1 = None
    if TH in files:
        fc1, convs = write_theano_copy(h5py, os.path.join(d, W), os.path.join(d, TH), model, tf_keras)
        check_theano_copy(h5py, os.path.join(d, W), os.path.join(d, TH), fc1, convs)
    legacy_layers = write_legacy_copy(h5py, model, tf_keras, os.path.join(d, LEG)) \
        if LEG in files else None
    renamed = {}
    for fname, shifts in ((N1, {p: 1 for p in OFFSETS}), (OFF, OFFSETS)):
        if fname in files:
            mapping = write_renamed_copy(h5py, os.path.join(d, W), os.path.join(d, fname), shifts)
            renamed[fname] = check_renamed_copy(h5py, os.path.join(d, W), os.path.join(d, fname),
                                                mapping, shifts)
    if LG in files:
        mapping = write_renamed_copy(h5py, os.path.join(d, W), os.path.join(d, LG), None, LOGITS)
        assert [k for k, v in mapping.items() if k != v] == ["predictions"], mapping
        renamed[LG] = {"renamed_layers": 1, "map": LOGITS}

    # Reload check: each saved file reproduces output.npy exactly. Into the same model (its
    # predict function is traced already) with every weight zeroed first; the renamed copies
    # load by order, as Keras' load_weights(by_name=False) does.
    zeros = [np.zeros_like(v) for v in model.get_weights()]
    for fname in (N1, OFF, LG, W):  # weights.h5 last: the features below come from it
        if fname not in files:
            continue
        model.set_weights(zeros)
        model.load_weights(os.path.join(d, fname))
        y2 = model.predict(x, batch_size=batch, verbose=0)
        assert np.array_equal(y, y2), f"{name}: {fname} reload gives different output"
    if M in files:
        m2 = tf_keras.models.load_model(os.path.join(d, M), compile=False)
        y2 = m2.predict(x, batch_size=batch, verbose=0)
        assert np.array_equal(y, y2), f"{name}: {M} reload gives different output"
        del m2
    feats = []
    if name in FEATURES:
        feats = feature_outputs(tf_keras, model, x, batch, FEATURES[name])
        for k, v in enumerate(feats):
            np.save(os.path.join(d, f"features_{k}.npy"), v)

    weighted = [l for l in model.layers if l.weights]
    bn = [l for l in model.layers if isinstance(l, tf_keras.layers.BatchNormalization)]
    info = {
        "name": name,
        "arch": arch,
        "naming": naming,
        "include_top": top,
        "pooling": pooling,
        "classes": classes,
        "height": h,
        "width": w,
        "batch": batch,
        "files": files + ["input.npy", "output.npy"] + [f"features_{k}.npy" for k in range(len(feats))],
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "input_preprocessing": PREPROCESSING[ARCHS[arch][1]],
        "model_name": model.name,
        "input_layer": model.layers[0].name,
        "output_layer": model.layers[-1].name,
        "layers": [l.name for l in model.layers],
        "bn_epsilon": float(bn[0].epsilon) if bn else None,
        "n_weighted_layers": len(weighted),
        "n_weights": int(sum(np.prod(v.shape) for v in model.weights)),
        "theano_fc1": ({"layer": fc1[0], "feature_map_hwc": list(fc1[1]),
                        "row_order": "chw"} if fc1 else None),
        "legacy_nb_layers": legacy_layers,
        "seed": seed,
        "keras": "tf-keras " + tf_keras.__version__,
        "tensorflow": tf.__version__,
        "generator": "tests/oracle/make_keras_cases.py",
    }
    if name in OPTIONS:
        info.update(OPTIONS[name])
    if renamed:
        info["renamed"] = renamed
    if feats:
        info["features"] = [{"layer": n, "pooling": p, "file": f"features_{k}.npy",
                             "shape": list(v.shape)}
                            for k, ((n, p), v) in enumerate(zip(FEATURES[name], feats))]
    if naming == "legacy":
        import keras_applications
        info["keras_applications"] = keras_applications.__version__
    weights = model.get_weights() if fp64 else None
    del model
    if fp64:
        info["fp32_vs_fp64"] = fp64_errors(tf_keras, name, weights, x, y, feats)
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(info, f, indent=2)

    # Stats, and a saturation check for classifiers.
    stats = f"out {tuple(y.shape)} min {y.min():.4g} max {y.max():.4g} mean {y.mean():.4g} std {y.std():.4g}"
    if top:
        p1 = y.max(axis=1)
        stats += f" top1 {y.argmax(axis=1).tolist()} p {np.round(p1, 4).tolist()}"
        if (p1 > 0.9).any():
            print(f"{name}: WARNING softmax nearly saturated", file=sys.stderr)
    if feats:
        stats += " features " + " ".join(f"{n}{'/' + p if p else ''}{tuple(v.shape[1:])} std {v.std():.3g}"
                                          for (n, p), v in zip(FEATURES[name], feats))
    if fp64:
        stats += " fp32 vs fp64: " + ", ".join(f"{k} {v:.2g}" for k, v in info["fp32_vs_fp64"].items())
    secs = time.time() - t0
    nbytes = dir_bytes(d)
    with open(os.path.join(d, "done.json"), "w") as f:
        json.dump({"script_sha256": SCRIPT_HASH, "seconds": round(secs, 2), "bytes": nbytes}, f)
    print(f"{name}: {secs:.1f} s, {nbytes / 1e6:.1f} MB, {stats}", flush=True)


def make_layers_case(name, d, model, t0):
    """A case without files: only the architecture, for kvk's graph to match by layer names
    and output shape (no weights, no inference; cheap for the deepest models)."""
    arch, naming, top, pooling, classes, h, w, batch, _ = CASES[name]
    info = {"name": name, "arch": arch, "naming": naming, "include_top": top, "pooling": pooling,
            "classes": classes, "height": h, "width": w, "batch": batch, "files": [],
            "output_shape": [batch] + list(model.output_shape[1:]),
            "layers": [l.name for l in model.layers],
            "keras": "tf-keras " + __import__("tf_keras").__version__,
            "generator": "tests/oracle/make_keras_cases.py"}
    info.update(OPTIONS.get(name, {}))
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(info, f, indent=2)
    secs = time.time() - t0
    with open(os.path.join(d, "done.json"), "w") as f:
        json.dump({"script_sha256": SCRIPT_HASH, "seconds": round(secs, 2), "bytes": dir_bytes(d)}, f)
    print(f"{name}: {secs:.1f} s, layers only: {len(model.layers)} layers, "
          f"output {tuple(info['output_shape'])}", flush=True)


def is_done(out_root, name):
    try:
        with open(os.path.join(out_root, name, "done.json")) as f:
            return json.load(f).get("script_sha256") == SCRIPT_HASH
    except (OSError, ValueError):
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", nargs="?")
    ap.add_argument("--case", action="append", default=[], metavar="NAME",
                    help="make only this case (repeatable)")
    ap.add_argument("--list", action="store_true", help="print case names and exit")
    ap.add_argument("--force", action="store_true", help="remake cases even if done")
    ap.add_argument("--threads", type=int, default=1,
                    help="TF intra-op threads (default 1, for reproducibility)")
    ap.add_argument("--fp64-check", action="store_true",
                    help="also rebuild each case in float64 and report (and record in "
                         "case.json) the relative error of Keras' float32 output against it")
    args = ap.parse_args()

    if args.list:
        for n in CASES:
            print(n)
        return
    if not args.out_dir:
        ap.error("OUT_DIR is required")
    names = args.case or list(CASES)
    for n in names:
        if n not in CASES:
            ap.error(f"unknown case {n!r} (see --list)")

    todo = [n for n in names if args.force or not is_done(args.out_dir, n)]
    for n in names:
        if n not in todo:
            print(f"{n}: up to date")
    if not todo:
        return

    import warnings
    warnings.filterwarnings("ignore")          # "HDF5 format is legacy" etc.
    import tensorflow as tf
    import tf_keras
    import h5py
    tf.get_logger().setLevel("ERROR")          # retracing notices
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()

    os.makedirs(args.out_dir, exist_ok=True)
    t0 = time.time()
    for n in todo:
        make_case(n, args.out_dir, (tf, tf_keras, h5py), fp64=args.fp64_check)
    print(f"total {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
