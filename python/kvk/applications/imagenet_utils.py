"""Keras' imagenet_utils: preprocess_input and decode_predictions, in numpy."""

import numpy as np

from kvk import _lib

__all__ = ["preprocess_input", "decode_predictions"]

_CAFFE_MEAN = [103.939, 116.779, 123.68]
_TORCH_MEAN = [0.485, 0.456, 0.406]
_TORCH_STD = [0.229, 0.224, 0.225]


def preprocess_input(x, data_format=None, mode="caffe"):
    """As keras.applications.imagenet_utils.preprocess_input on a numpy array: float arrays are
    changed in place (as Keras does) and returned, other dtypes become float32 first."""
    if mode not in {"caffe", "tf", "torch"}:
        raise ValueError(
            f"Expected mode to be one of `caffe`, `tf` or `torch`. Received: mode={mode}"
        )
    if data_format is None:
        data_format = "channels_last"
    elif data_format not in {"channels_first", "channels_last"}:
        raise ValueError(
            "Expected data_format to be one of `channels_first` or "
            f"`channels_last`. Received: data_format={data_format}"
        )
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype("float32", copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        if data_format == "channels_first":
            x = x[::-1, ...] if x.ndim == 3 else x[:, ::-1, ...]
        else:
            x = x[..., ::-1]  # a view: the caller's array is changed, as in Keras
        mean, std = _CAFFE_MEAN, None
    for c in range(3):
        if data_format == "channels_first":
            channel = (c, Ellipsis) if x.ndim == 3 else (slice(None), c, Ellipsis)
        else:
            channel = (Ellipsis, c)
        x[channel] -= mean[c]
    if std is not None:
        for c in range(3):
            if data_format == "channels_first":
                channel = (c, Ellipsis) if x.ndim == 3 else (slice(None), c, Ellipsis)
            else:
                channel = (Ellipsis, c)
            x[channel] /= std[c]
    return x


_CLASS_INDEX = None


def _class_index():
    global _CLASS_INDEX
    if _CLASS_INDEX is None:
        _CLASS_INDEX = [
            (_lib.lib.kvk_imagenet_wnid(i).decode(), _lib.lib.kvk_imagenet_label(i).decode())
            for i in range(1000)
        ]
    return _CLASS_INDEX


def decode_predictions(preds, top=5):
    """The top classes of each row: [[(wnid, label, score), ...], ...], as Keras gives them."""
    if len(preds.shape) != 2 or preds.shape[1] != 1000:
        raise ValueError(
            "`decode_predictions` expects "
            "a batch of predictions "
            "(i.e. a 2D array of shape (samples, 1000)). "
            f"Received array with shape: {preds.shape}"
        )
    index = _class_index()
    results = []
    for pred in np.asarray(preds):
        top_indices = pred.argsort()[-top:][::-1]
        result = [index[i] + (pred[i],) for i in top_indices]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def module_functions(mode):
    """An application module's preprocess_input (its Keras mode) and decode_predictions."""

    def preprocess(x, data_format=None):
        return preprocess_input(x, data_format=data_format, mode=mode)

    def decode(preds, top=5):
        return decode_predictions(preds, top=top)

    preprocess.__name__ = preprocess.__qualname__ = "preprocess_input"
    decode.__name__ = decode.__qualname__ = "decode_predictions"
    return preprocess, decode
