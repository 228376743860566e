"""keras.preprocessing.image's load_img and img_to_array. With Pillow they are Keras' own
steps; without it load_img decodes with libkvk (JPEG through libjpeg-turbo where libkvk has it,
as Pillow does; nearest and bilinear resizing; RGB only)."""

import ctypes
import io
import os
import pathlib

import numpy as np

from kvk import _lib

try:
    from PIL import Image as pil_image
except ImportError:  # Pillow is optional
    pil_image = None

__all__ = ["load_img", "img_to_array", "array_to_img"]


def _pil_interpolations():
    r = getattr(pil_image, "Resampling", pil_image)
    return {
        "nearest": r.NEAREST,
        "bilinear": r.BILINEAR,
        "bicubic": r.BICUBIC,
        "hamming": r.HAMMING,
        "box": r.BOX,
        "lanczos": r.LANCZOS,
    }


class KvkImage:
    """An RGB image decoded by libkvk, standing in for a PIL image: size is (width, height),
    np.asarray gives (height, width, 3) uint8."""

    mode = "RGB"

    def __init__(self, pixels):
        self._pixels = pixels

    @property
    def size(self):
        return (self._pixels.shape[1], self._pixels.shape[0])

    @property
    def width(self):
        return self.size[0]

    @property
    def height(self):
        return self.size[1]

    def __array__(self, dtype=None, copy=None):
        return self._pixels if dtype is None else self._pixels.astype(dtype)

    def resize(self, size, resample="nearest"):
        return KvkImage(_kvk_resize(self._pixels, size, resample))


def _to_numpy(image):
    n = image.width * image.height * 3
    buf = ctypes.cast(image.rgb, ctypes.POINTER(ctypes.c_ubyte * n)).contents
    return np.frombuffer(buf, dtype=np.uint8).reshape(image.height, image.width, 3).copy()


def _kvk_load(path):
    img = _lib.Image()
    _lib.check(_lib.lib.kvk_image_load(os.fsencode(path), 0, ctypes.byref(img)))
    try:
        return _to_numpy(img)
    finally:
        _lib.lib.kvk_image_free(ctypes.byref(img))


def _kvk_resize(pixels, size, interpolation):
    if interpolation not in _lib.RESIZE:
        raise ValueError(
            f"Invalid interpolation method {interpolation} specified. Supported "
            f"methods are {', '.join(_lib.RESIZE)} (Pillow is not installed: install it for "
            "the others)"
        )
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    src = _lib.Image(pixels.shape[1], pixels.shape[0], pixels.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte)))
    out = _lib.Image()
    _lib.check(
        _lib.lib.kvk_image_resize(
            ctypes.byref(src), size[0], size[1], _lib.RESIZE[interpolation], ctypes.byref(out)
        )
    )
    try:
        return _to_numpy(out)
    finally:
        _lib.lib.kvk_image_free(ctypes.byref(out))


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """Loads an image (a PIL image with Pillow, else a KvkImage)."""
    if pil_image is None:
        return _load_img_kvk(path, color_mode, target_size, interpolation, keep_aspect_ratio)
    if isinstance(path, io.BytesIO):
        img = pil_image.open(path)
    elif isinstance(path, (pathlib.Path, bytes, str)):
        if isinstance(path, pathlib.Path):
            path = str(path.resolve())
        with open(path, "rb") as f:
            img = pil_image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode == "rgba":
        if img.mode != "RGBA":
            img = img.convert("RGBA")
    elif color_mode == "rgb":
        if img.mode != "RGB":
            img = img.convert("RGB")
    else:
        raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')
    if target_size is not None:
        width_height = (target_size[1], target_size[0])
        if img.size != width_height:
            methods = _pil_interpolations()
            if interpolation not in methods:
                raise ValueError(
                    "Invalid interpolation method {} specified. Supported "
                    "methods are {}".format(interpolation, ", ".join(methods.keys()))
                )
            resample = methods[interpolation]
            if keep_aspect_ratio:
                img = img.resize(width_height, resample, box=_crop_box(img.size, width_height))
            else:
                img = img.resize(width_height, resample)
    return img


def _crop_box(size, width_height):
    """Keras' centre crop to the target aspect ratio."""
    width, height = size
    target_width, target_height = width_height
    crop_height = min(height, (width * target_height) // target_width)
    crop_width = min(width, (height * target_width) // target_height)
    top = (height - crop_height) // 2
    left = (width - crop_width) // 2
    return [left, top, left + crop_width, top + crop_height]


def _pillow_nearest(start, span, n):
    """The source rows (or columns) Pillow's NEAREST resize samples in a box: its
    ImagingScaleAffine steps a double from start + step / 2 by step = span / n and truncates,
    which a crop and then a resize does not reproduce bit for bit."""
    step = span / n
    at = start + step * 0.5
    index = []
    for _ in range(n):
        index.append(int(at))
        at += step
    return np.array(index)


def _nearest_in_box(pixels, box, width_height):
    left, top, right, bottom = box
    cols = _pillow_nearest(float(left), float(right - left), width_height[0])
    rows = _pillow_nearest(float(top), float(bottom - top), width_height[1])
    return np.ascontiguousarray(pixels[rows][:, cols])


def _load_img_kvk(path, color_mode, target_size, interpolation, keep_aspect_ratio):
    if color_mode != "rgb":
        if color_mode not in ("grayscale", "rgba"):
            raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')
        raise ValueError(f'color_mode="{color_mode}" needs Pillow (pip install pillow)')
    if isinstance(path, io.BytesIO):
        raise TypeError("reading from io.BytesIO needs Pillow (pip install pillow)")
    if not isinstance(path, (pathlib.Path, bytes, str)):
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    pixels = _kvk_load(path)
    if target_size is not None:
        width_height = (target_size[1], target_size[0])
        if (pixels.shape[1], pixels.shape[0]) != width_height:
            if keep_aspect_ratio:
                box = _crop_box((pixels.shape[1], pixels.shape[0]), width_height)
                if interpolation == "nearest":
                    pixels = _nearest_in_box(pixels, box, width_height)
                else:
                    pixels = _kvk_resize(pixels[box[1] : box[3], box[0] : box[2]], width_height, interpolation)
            else:
                pixels = _kvk_resize(pixels, width_height, interpolation)
    return KvkImage(pixels)


def img_to_array(img, data_format=None, dtype=None):
    """An image as a float32 (or dtype) array: (height, width, channels)."""
    if data_format is None:
        data_format = "channels_last"
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(
            'The `data_format` argument must be one of "channels_first", "channels_last". '
            f"Received: data_format={data_format}"
        )
    if dtype is None:
        dtype = "float32"
    x = np.asarray(img, dtype=dtype)
    if len(x.shape) == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    elif len(x.shape) == 2:
        if data_format == "channels_first":
            x = x.reshape((1, x.shape[0], x.shape[1]))
        else:
            x = x.reshape((x.shape[0], x.shape[1], 1))
    else:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """An (h, w, 3) array as an image (PIL with Pillow, else a KvkImage of uint8 pixels)."""
    x = np.asarray(x, dtype="float32")
    if x.ndim != 3:
        raise ValueError(f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    if pil_image is not None:
        if x.shape[2] == 3:
            return pil_image.fromarray(x.astype("uint8"), "RGB")
        if x.shape[2] == 4:
            return pil_image.fromarray(x.astype("uint8"), "RGBA")
        return pil_image.fromarray(x[:, :, 0].astype("uint8"), "L")
    if x.shape[2] != 3:
        raise ValueError("without Pillow only RGB images are supported")
    return KvkImage(x.astype("uint8"))
