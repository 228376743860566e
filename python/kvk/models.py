"""kvk.models: the Keras Model API over a libkvk model (predict, layers, summary, features)."""

import ctypes
import os
import sys
import threading
import time

import numpy as np

from kvk import _lib

__all__ = ["Model", "load_model"]


class KerasTensor:
    """A symbolic tensor, as Keras' model.input or layer.output: which model and layer it is
    (layer None: the model's input), and its shape with the batch axis None."""

    def __init__(self, model, layer, shape):
        self._model = model
        self._layer = layer
        self.shape = (None,) + tuple(shape)
        self.dtype = "float32"

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype=float32, name={self.name}>"

    @property
    def name(self):
        return self._layer if self._layer is not None else self._model._input_name


class Layer:
    """One Keras layer of a model: its name, class and output."""

    def __init__(self, model, name, class_name, shape):
        self._model = model
        self.name = name
        self.class_name = class_name
        self.output = KerasTensor(model, name, shape)

    @property
    def output_shape(self):
        return self.output.shape

    def __repr__(self):
        return f"<{self.class_name} name={self.name}, built=True>"


class Model:
    """A network on a kvk device.

    Model(inputs=base.input, outputs=base.get_layer(name).output or [...]) makes a model that
    returns those layers' outputs (libkvk runs only the layers they need)."""

    def __init__(self, inputs=None, outputs=None, name=None, *, _options=None):
        if _options is None:
            self._options = _features_options(inputs, outputs)
        else:
            self._options = dict(_options)
        self._lock = threading.RLock()
        self._handle = None
        self._batch = 0
        self._context = _lib.context(self._options.get("device"))
        self._build(1)  # errors show at construction, as in Keras
        self.name = name or self._options.get("name") or _lib.lib.kvk_model_name(
            self._handle
        ).decode()
        self._read_graph()

    # --- building -----------------------------------------------------------------------
    def _build(self, batch):
        o = self._options
        opts = _lib.ModelOptions()
        keep = []  # the bytes objects the structure points into

        def text(value):
            if value is None:
                return None
            b = os.fsencode(value) if not isinstance(value, bytes) else value
            keep.append(b)
            return b

        opts.architecture = text(o.get("architecture"))
        opts.weights = text(o.get("weights"))
        opts.model_file = text(o.get("model_file"))
        opts.include_top = 1 if o.get("include_top", True) else 0
        opts.pooling = _lib.POOLING[o.get("pooling")]
        opts.classes = int(o.get("classes") or 0)
        opts.height, opts.width = o.get("size") or (0, 0)
        opts.batch = batch
        opts.random_seed = o.get("seed", 0)
        opts.alpha = float(o.get("alpha") or 0)
        opts.depth_multiplier = int(o.get("depth_multiplier") or 0)
        layers = o.get("output_layers")
        if layers:
            arr = (ctypes.c_char_p * len(layers))(*[text(n) for n in layers])
            keep.append(arr)
            opts.output_layers = arr
            opts.output_layer_count = len(layers)
        handle = ctypes.c_void_p()
        with self._context.lock:  # one call into a device at a time (README: threads)
            _lib.check(
                _lib.lib.kvk_model_create(self._context.handle, ctypes.byref(opts), ctypes.byref(handle))
            )
            old, self._handle, self._batch = self._handle, handle, batch
            if old is not None:
                _lib.lib.kvk_model_destroy(old)

    def _read_graph(self):
        L = _lib.lib
        h = self._handle
        hh, ww, cc = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        L.kvk_model_input_shape(h, ctypes.byref(hh), ctypes.byref(ww), ctypes.byref(cc))
        self._input_shape = (hh.value, ww.value, cc.value)
        dims = (ctypes.c_int * 3)()
        self._layers = []
        for i in range(L.kvk_model_layer_count(h)):
            n = L.kvk_model_layer_dims(h, i, dims)
            self._layers.append(
                Layer(
                    self,
                    L.kvk_model_layer_name(h, i).decode(),
                    L.kvk_model_layer_class(h, i).decode(),
                    tuple(dims[:n]),
                )
            )
        self._input_name = self._layers[0].name if self._layers else "input"
        self._output_shapes = []
        self._output_names = []
        for k in range(L.kvk_model_output_count(h)):
            n = L.kvk_model_output_dims(h, k, dims)
            self._output_shapes.append(tuple(dims[:n]))
            self._output_names.append(L.kvk_model_output_name(h, k).decode())
        self.preprocess_mode = L.kvk_model_preprocess_mode(h).decode()

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is not None and _lib is not None and _lib.lib is not None:
            with self._context.lock:
                _lib.lib.kvk_model_destroy(handle)
            self._handle = None

    # --- the Keras model API ---------------------------------------------------------------
    @property
    def layers(self):
        return list(self._layers)

    @property
    def input(self):
        return KerasTensor(self, None, self._input_shape)

    @property
    def inputs(self):
        return [self.input]

    @property
    def input_shape(self):
        return (None,) + self._input_shape

    @property
    def outputs(self):
        return [KerasTensor(self, n, s) for n, s in zip(self._output_names, self._output_shapes)]

    @property
    def output(self):
        outs = self.outputs
        return outs[0] if len(outs) == 1 else outs

    @property
    def output_shape(self):
        shapes = [(None,) + s for s in self._output_shapes]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def device(self):
        return self._context.name

    def get_layer(self, name=None, index=None):
        if index is not None and name is not None:
            raise ValueError(
                "Provide only a layer name or a layer index. Received: "
                f"index={index}, name={name}."
            )
        if index is not None:
            if len(self._layers) <= index:
                raise ValueError(
                    f"Was asked to retrieve layer at index {index}"
                    f" but model only has {len(self._layers)}"
                    " layers."
                )
            return self._layers[index]
        if name is not None:
            for layer in self._layers:
                if layer.name == name:
                    return layer
            raise ValueError(
                f"No such layer: {name}. Existing layers are: "
                f"{list(layer.name for layer in self._layers)}."
            )
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def summary(self, print_fn=None, line_length=None):
        print_fn = print_fn or print
        width = line_length or 88
        cols = (int(width * 0.55), int(width * 0.45))
        rule = "─" * width
        lines = [f'Model: "{self.name}"', rule]
        lines.append(f"{'Layer (type)':<{cols[0]}}{'Output Shape'}")
        lines.append(rule)
        for layer in self._layers:
            head = f"{layer.name} ({layer.class_name})"
            if len(head) >= cols[0]:
                head = head[: cols[0] - 2] + "…"
            lines.append(f"{head:<{cols[0]}}{layer.output_shape}")
        lines.append(rule)
        lines.append(f" Layers: {len(self._layers)}   Device: {self.device}")
        print_fn("\n".join(lines))

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Runs the model on x ((n, h, w, 3), float32 NHWC; other dtypes are converted).
        Returns one array, or a list with several outputs."""
        if steps is not None or callbacks:
            raise ValueError("kvk: predict() takes no `steps` or `callbacks` (arrays only)")
        batch_size = 32 if batch_size is None else int(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive. Received: batch_size={batch_size}")
        x = np.ascontiguousarray(x, dtype=np.float32)  # no copy when it already is
        if x.ndim != 4 or tuple(x.shape[1:]) != self._input_shape:
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                f"shape={self.input_shape}, found shape={tuple(x.shape)}"
            )
        n = x.shape[0]
        outs = [np.empty((n,) + s, dtype=np.float32) for s in self._output_shapes]
        steps_total = max(1, -(-n // batch_size))
        bar = _Progress(steps_total) if verbose not in (0, False, "silent") else None
        with self._lock:
            if min(batch_size, n) > self._batch:
                self._build(min(batch_size, n))
            pointers = (ctypes.c_void_p * len(outs))()
            for step, start in enumerate(range(0, n, batch_size)):
                b = min(batch_size, n - start)
                for k, o in enumerate(outs):
                    pointers[k] = o[start:].ctypes.data
                with self._context.lock:
                    _lib.check(
                        _lib.lib.kvk_model_run_outputs(
                            self._handle, x[start:].ctypes.data, b, pointers
                        )
                    )
                if bar:
                    bar.update(step + 1)
        return outs[0] if len(outs) == 1 else outs

    def __call__(self, x):
        return self.predict(x, verbose=0)


class _Progress:
    """Keras' predict progress bar: "3/10 ━━━━━━━━━━━━━━━━━━━━ 1s 25ms/step"."""

    def __init__(self, total):
        self.total = total
        self.start = time.time()

    def update(self, done):
        elapsed = time.time() - self.start
        per_step = elapsed / done
        filled = int(20 * done / self.total)
        bar = "━" * filled + "\x1b[2m" + "━" * (20 - filled) + "\x1b[0m" if sys.stdout.isatty() else "━" * 20
        if done < self.total:
            eta = per_step * (self.total - done)
            text = f"{done}/{self.total} {bar} {eta:.0f}s"
        else:
            text = f"{done}/{self.total} {bar} {elapsed:.0f}s {per_step * 1000:.0f}ms/step"
        end = "\n" if done == self.total else ""
        if sys.stdout.isatty():
            sys.stdout.write("\r" + text + end)
        elif done == self.total:
            sys.stdout.write(text + "\n")
        sys.stdout.flush()


def _features_options(inputs, outputs):
    """Model(inputs=base.input, outputs=...): the base model's options with output layers."""
    single = isinstance(inputs, (list, tuple))
    if single:
        if len(inputs) != 1:
            raise ValueError(f"kvk models have one input; got {len(inputs)} inputs")
        inputs = inputs[0]
    if not isinstance(inputs, KerasTensor) or inputs._layer is not None:
        raise ValueError(
            "Model(inputs=...) takes the `input` of a kvk model (e.g. base_model.input). "
            f"Received: inputs={inputs!r}"
        )
    base = inputs._model
    outs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    if not outs:
        raise ValueError("Model(outputs=...) needs at least one output")
    names = []
    for o in outs:
        if not isinstance(o, KerasTensor) or o._model is not base or o._layer is None:
            raise ValueError(
                "Model(outputs=...) takes layer outputs of the model whose input is `inputs` "
                f"(base_model.get_layer(name).output). Received: {o!r}"
            )
        names.append(o._layer)
    options = dict(base._options)
    options["output_layers"] = names
    options.pop("name", None)
    return options


def load_model(filepath, compile=True, device=None, input_shape=None):
    """A model saved with its config (Keras 2 model.save .h5, a .keras archive or a TF.js
    model.json): architecture and weights from the file."""
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise ValueError(
            f"File not found: filepath={path}. Please ensure the file is an accessible "
            "`.keras` zip file."
        )
    size = tuple(input_shape[:2]) if input_shape else None
    return Model(_options={"model_file": path, "device": device, "size": size})
