"""What every kvk.applications constructor does: Keras' argument checks, in Keras' order and
words, then a libkvk model of the named architecture."""

import os
import warnings

from kvk.models import Model


def _check_weights(weights):
    if not (weights in {"imagenet", None} or os.path.exists(os.fspath(weights))):
        raise ValueError(
            "The `weights` argument should be either "
            "`None` (random initialization), 'imagenet' "
            "(pre-training on ImageNet), "
            "or the path to the weights file to be loaded.  Received: "
            f"weights={weights}"
        )


def obtain_input_shape(input_shape, default_size, min_size, require_flatten, weights):
    """Keras' imagenet_utils.obtain_input_shape for channels_last."""
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        if input_shape[-1] not in {1, 3}:
            warnings.warn(
                "This model usually expects 1 or 3 input channels. "
                "However, it was passed an input_shape "
                f"with {input_shape[-1]} input channels.",
                stacklevel=3,
            )
        default_shape = (default_size, default_size, input_shape[-1])
    else:
        default_shape = (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and input_shape != default_shape:
            raise ValueError(
                "When setting `include_top=True` "
                "and loading `imagenet` weights, "
                f"`input_shape` should be {default_shape}.  "
                f"Received: input_shape={input_shape}"
            )
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers.")
        if input_shape[-1] != 3 and weights == "imagenet":
            raise ValueError(
                f"The input must have 3 channels; Received `input_shape={input_shape}`"
            )
        if (input_shape[0] is not None and input_shape[0] < min_size) or (
            input_shape[1] is not None and input_shape[1] < min_size
        ):
            raise ValueError(
                f"Input size must be at least {min_size}x{min_size}; Received: "
                f"input_shape={input_shape}"
            )
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (None, None, 3)
    return input_shape


def build(
    architecture,
    default_size,
    min_size,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    name,
    device,
    alpha=None,
    depth_multiplier=None,
    keras_name=None,
):
    """The common body of the application constructors."""
    _check_weights(weights)
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            "If using `weights='imagenet'` with `include_top=True`, "
            "`classes` should be 1000.  "
            f"Received classes={classes}"
        )
    if input_tensor is not None:
        raise ValueError("kvk: `input_tensor` is not supported (kvk models take numpy arrays)")
    if classifier_activation not in ("softmax", None) or (
        include_top and classifier_activation is None
    ):
        raise ValueError(
            "kvk: only classifier_activation='softmax' is supported. "
            f"Received: classifier_activation={classifier_activation}"
        )
    if pooling not in (None, "avg", "max"):
        raise ValueError(
            f"kvk: pooling must be None, 'avg' or 'max'. Received: pooling={pooling}"
        )
    shape = obtain_input_shape(
        tuple(input_shape) if input_shape is not None else None,
        default_size,
        min_size,
        include_top,
        weights,
    )
    if shape[2] != 3:
        raise ValueError(f"kvk: models take 3-channel (RGB) input. Received: input_shape={shape}")
    size = (shape[0] or default_size, shape[1] or default_size)
    if weights == "imagenet":
        from kvk.utils import weights_file

        path = weights_file(architecture, include_top, size, alpha, depth_multiplier)
    else:
        path = None if weights is None else os.fspath(weights)
    options = {
        "architecture": architecture,
        "weights": path,
        "include_top": bool(include_top),
        "pooling": None if include_top else pooling,
        "classes": classes,
        "size": size,
        "device": device,
        "alpha": alpha,
        "depth_multiplier": depth_multiplier,
        "name": name,
    }
    return Model(_options=options)


def application(architecture, keras_function, default_name, default_size, min_size, module):
    """A keras.applications constructor with Keras' own signature (the same arguments, in the
    same order, with the same defaults; Keras' default `name` is the architecture's) and
    kvk's device=, for the applications that take nothing else."""

    def constructor(
        include_top=True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        name=default_name,
        device=None,
    ):
        return build(
            architecture, default_size, min_size, include_top, weights, input_tensor,
            input_shape, pooling, classes, classifier_activation, name, device,
        )

    constructor.__name__ = constructor.__qualname__ = keras_function
    constructor.__module__ = module
    constructor.__doc__ = (f"keras.applications' {keras_function}; device: an index or name "
                           "(default: the best).")
    return constructor
