"""The ctypes binding to libkvk: structures, signatures, errors, and the shared contexts.

ctypes releases the GIL around every call into a CDLL, so other Python threads run while the
device works."""

import ctypes
import ctypes.util
import os
import threading

__all__ = ["lib", "check", "KvkError", "context", "ModelOptions"]


class KvkError(Exception):
    """A failure reported by libkvk: its kvk_last_error message; status is the kvk_status
    name ("KVK_ERROR_FORMAT"). Raised as the subclass that says whose fault it is."""

    def __init__(self, status_name, message):
        super().__init__(message)
        self.status = status_name


class InvalidArgumentError(KvkError, ValueError):
    """A value the caller gave does not fit (KVK_ERROR_INVALID_ARGUMENT, KVK_ERROR_SHAPE)."""


class FileError(KvkError, OSError):
    """A file could not be opened or read (KVK_ERROR_IO)."""


class DeviceError(KvkError, RuntimeError):
    """Everything else: a file's contents, the device, memory."""


_ERROR_CLASSES = {
    "KVK_ERROR_INVALID_ARGUMENT": InvalidArgumentError,
    "KVK_ERROR_SHAPE": InvalidArgumentError,
    "KVK_ERROR_IO": FileError,
}


class ContextOptions(ctypes.Structure):
    _fields_ = [
        ("device", ctypes.c_char_p),
        ("validation", ctypes.c_int),
        ("max_binding_bytes", ctypes.c_uint64),
        ("max_memory_bytes", ctypes.c_uint64),
        ("verbose", ctypes.c_int),
        ("kernels", ctypes.c_char_p),
        ("time_layers", ctypes.c_int),
    ]


class ModelOptions(ctypes.Structure):
    _fields_ = [
        ("architecture", ctypes.c_char_p),
        ("weights", ctypes.c_char_p),
        ("include_top", ctypes.c_int),
        ("pooling", ctypes.c_int),
        ("classes", ctypes.c_int),
        ("height", ctypes.c_int),
        ("width", ctypes.c_int),
        ("batch", ctypes.c_int),
        ("random_seed", ctypes.c_uint),
        ("output_layers", ctypes.POINTER(ctypes.c_char_p)),
        ("output_layer_count", ctypes.c_int),
        ("output_pooling", ctypes.c_int),
        ("model_file", ctypes.c_char_p),
        ("alpha", ctypes.c_double),
        ("depth_multiplier", ctypes.c_int),
        ("precision", ctypes.c_int),
    ]


class Image(ctypes.Structure):
    _fields_ = [
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("rgb", ctypes.POINTER(ctypes.c_ubyte)),
    ]


POOLING = {None: 0, "avg": 1, "max": 2}
RESIZE = {"nearest": 0, "bilinear": 1}


def _candidates():
    """Where libkvk may be: KVK_LIBRARY, next to the package (a pip install that built it),
    then the system's library path."""
    env = os.environ.get("KVK_LIBRARY")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    found = [os.path.join(here, "_libs", "libkvk.so")]
    found.append(ctypes.util.find_library("kvk") or "libkvk.so.0")
    return found


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError(
        "kvk: cannot load libkvk (set KVK_LIBRARY to the built libkvk.so, or install it): "
        + "; ".join(errors)
    )


lib = _load()

_P = ctypes.c_void_p
_INT3 = ctypes.c_int * 3
_SIGNATURES = {
    "kvk_last_error": (ctypes.c_char_p, []),
    "kvk_status_name": (ctypes.c_char_p, [ctypes.c_int]),
    "kvk_context_create": (ctypes.c_int, [ctypes.POINTER(ContextOptions), ctypes.POINTER(_P)]),
    "kvk_context_destroy": (None, [_P]),
    "kvk_context_device_name": (ctypes.c_char_p, [_P]),
    "kvk_context_validation_messages": (ctypes.c_int, [_P]),
    "kvk_model_create": (ctypes.c_int, [_P, ctypes.POINTER(ModelOptions), ctypes.POINTER(_P)]),
    "kvk_model_destroy": (None, [_P]),
    "kvk_model_input_shape": (
        None,
        [_P, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)],
    ),
    "kvk_model_output_count": (ctypes.c_int, [_P]),
    "kvk_model_output_name": (ctypes.c_char_p, [_P, ctypes.c_int]),
    "kvk_model_output_dims": (ctypes.c_int, [_P, ctypes.c_int, _INT3]),
    "kvk_model_output_floats": (ctypes.c_long, [_P, ctypes.c_int]),
    "kvk_model_run_outputs": (
        ctypes.c_int,
        [_P, _P, ctypes.c_int, ctypes.POINTER(_P)],
    ),
    "kvk_model_preprocess_mode": (ctypes.c_char_p, [_P]),
    "kvk_model_name": (ctypes.c_char_p, [_P]),
    "kvk_model_layer_count": (ctypes.c_int, [_P]),
    "kvk_model_layer_name": (ctypes.c_char_p, [_P, ctypes.c_int]),
    "kvk_model_layer_class": (ctypes.c_char_p, [_P, ctypes.c_int]),
    "kvk_model_layer_dims": (ctypes.c_int, [_P, ctypes.c_int, _INT3]),
    "kvk_image_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(Image)]),
    "kvk_image_free": (None, [ctypes.POINTER(Image)]),
    "kvk_image_resize": (
        ctypes.c_int,
        [ctypes.POINTER(Image), ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(Image)],
    ),
    "kvk_imagenet_wnid": (ctypes.c_char_p, [ctypes.c_int]),
    "kvk_imagenet_label": (ctypes.c_char_p, [ctypes.c_int]),
    "kvk_struct_size": (ctypes.c_size_t, [ctypes.c_char_p]),
}
for _name, (_res, _args) in _SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args

# The structures above mirror include/kvk/*.h by hand: a library whose structures differ
# (another version) must not be called with them.
for _struct, _cls in (("kvk_context_options", ContextOptions), ("kvk_model_options", ModelOptions),
                      ("kvk_image", Image)):
    if lib.kvk_struct_size(_struct.encode()) != ctypes.sizeof(_cls):
        raise ImportError(
            f"kvk: libkvk's {_struct} is {lib.kvk_struct_size(_struct.encode())} bytes, this "
            f"package's {ctypes.sizeof(_cls)}: the library and the package are not the same version"
        )


def check(status):
    """Raises the library's last error on this thread for a failed call."""
    if status == 0:
        return
    name = lib.kvk_status_name(status).decode()
    message = lib.kvk_last_error().decode(errors="replace") or name
    cls = _ERROR_CLASSES.get(name, DeviceError)
    raise cls(name, message)


class Context:
    """One device. Runs on one context are serialised by its lock (see README: threads)."""

    def __init__(self, device):
        opts = ContextOptions()
        opts.device = None if device is None else str(device).encode()
        handle = _P()
        check(lib.kvk_context_create(ctypes.byref(opts), ctypes.byref(handle)))
        self.handle = handle
        self.lock = threading.RLock()
        self.name = lib.kvk_context_device_name(handle).decode(errors="replace")

    def validation_messages(self):
        return lib.kvk_context_validation_messages(self.handle)


_contexts = {}
_contexts_lock = threading.Lock()


def context(device=None):
    """The shared context of a device (created once: a Vulkan instance is costly)."""
    key = None if device is None else str(device)
    with _contexts_lock:
        if key not in _contexts:
            _contexts[key] = Context(device)
        return _contexts[key]


def contexts():
    with _contexts_lock:
        return list(_contexts.values())
