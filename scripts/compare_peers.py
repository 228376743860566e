#!/usr/bin/env python3
"""Helper of scripts/compare.sh: export the Keras models for the peers, time the peers,
and turn the results into one table.

Every subcommand that measures prints one JSON object on its last stdout line, so that
compare.sh can run each engine in its own process (its own peak RSS, no two runtimes in
one address space) and collect the lines:

  compare_peers.py export --model M --dir D             Keras -> D/M.onnx (tf2onnx) -> D/M.ncnn.param/.bin (pnnx)
  compare_peers.py ncnn   --model M --dir D --device vulkan|cpu [--threads 2] [--batch 1] [--runs 10]
  compare_peers.py ort    --model M --dir D [--threads 2] [--batch 1] [--runs 10]
  compare_peers.py keras  --model M [--threads 2] [--batch 1] [--runs 10]
  compare_peers.py kvk-parse  (stdin: the output of `kvk bench`)
  compare_peers.py benchncnn-parse  (stdin: the output of benchncnn)
  compare_peers.py report --results R.jsonl --command CMD [--doc docs/performance.md]

Weights are random (weights=None): same architecture and FLOPs as the real models.
Latencies are per batch (one inference call), warm median of --runs runs after one
warm-up run whose time is reported as the first inference.
"""
import argparse
import datetime
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time

MODELS = ["vgg16", "vgg19", "resnet50", "inception_v3", "xception"]
KERAS_CTORS = {
    "vgg16": "VGG16",
    "vgg19": "VGG19",
    "resnet50": "ResNet50",
    "inception_v3": "InceptionV3",
    "xception": "Xception",
}


def emit(obj):
    print(json.dumps(obj), flush=True)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def quiet_tf(threads=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # tf_keras (Keras 2) models: tf2onnx's from_keras is written for them.
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf


def keras_model(name, batch):
    import tf_keras

    ctor = getattr(tf_keras.applications, KERAS_CTORS[name])
    return ctor(weights=None)


def input_shape(name):
    return (299, 299, 3) if name in ("inception_v3", "xception") else (224, 224, 3)


def random_input(name, batch):
    import numpy as np

    rng = np.random.default_rng(1)
    return rng.uniform(-1, 1, (batch,) + input_shape(name)).astype(np.float32)


def time_runs(fn, runs):
    """One first (cold) call, then `runs` timed calls; seconds."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return first, times


def result(args, engine, device, first, times, **extra):
    out = {
        "model": args.model,
        "engine": engine,
        "device": device,
        "batch": args.batch,
        "runs": len(times),
        "median_ms": statistics.median(times) * 1e3,
        "min_ms": min(times) * 1e3,
        "max_ms": max(times) * 1e3,
        "first_ms": first * 1e3 if first is not None else None,
        "peak_rss_mib": peak_rss_mib(),
    }
    out.update(extra)
    return out


# ---------------------------------------------------------------- export


def fix_ncnn_param(param_path, pnnx_param_path):
    """pnnx keeps an ONNX `Pad` as a layer named Pad, which ncnn does not have (ResNet50's
    ZeroPadding2D before the max pool). Rewrite each one as ncnn's own Padding layer with
    the pads that pnnx's graph (.pnnx.param) records for it: ONNX order (begin of each
    NCHW axis, then end of each). Only constant-zero padding of H and W is rewritten;
    anything else is an error (the peer is then reported n/a). Returns the layers fixed."""
    pads = {}
    with open(pnnx_param_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) > 1 and parts[0] == "Pad":
                m = re.search(r"\bpads=\(([-\d, ]+)\)", line)
                mode = re.search(r"\bmode=(\w+)", line)
                pads[parts[1]] = (
                    [int(v) for v in m.group(1).split(",")] if m else None,
                    mode.group(1) if mode else "constant",
                    "constant_value" in line or "value=" in line,
                )
    with open(param_path) as f:
        lines = f.read().splitlines()
    fixed = []
    for i, line in enumerate(lines):
        parts = line.split()
        if len(parts) < 4 or parts[0] != "Pad":
            continue
        name = parts[1]
        p, mode, has_value = pads.get(name, (None, None, None))
        if p is None or len(p) != 8 or mode != "constant" or has_value:
            raise RuntimeError("pnnx left a Pad layer (%s) that ncnn lacks and is not a plain zero "
                               "padding of H and W" % name)
        n0, c0, h0, w0, n1, c1, h1, w1 = p
        if n0 or c0 or n1 or c1:
            raise RuntimeError("pnnx left a Pad layer (%s) padding batch or channels" % name)
        nin, nout = int(parts[2]), int(parts[3])
        blobs = parts[4:4 + nin + nout]
        lines[i] = "%-24s %-24s %d %d %s 0=%d 1=%d 2=%d 3=%d 4=0 5=0" % (
            "Padding", name, nin, nout, " ".join(blobs), h0, h1, w0, w1)
        fixed.append(name)
    if fixed:
        with open(param_path, "w") as f:
            f.write("\n".join(lines) + "\n")
    return fixed


def write_chain_onnx(model, path):
    """ONNX for a plain chain of Conv2D / MaxPooling2D / Flatten / Dense layers (VGG16,
    VGG19), written directly from the Keras layers and their (random) weights: tf2onnx
    needs more than 20 GB of memory for VGG's 400 MB fc1 kernel (its optimizer passes copy
    every constant). Same input (NHWC), same operations and FLOPs, same flatten order."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    nodes, inits = [], []
    x = "input"
    shape = [1] + list(model.input_shape[1:])

    def add(op, inputs, **attrs):
        out = "t%d" % len(nodes)
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    x = add("Transpose", [x], perm=[0, 3, 1, 2])
    nchw = True
    for layer in model.layers:
        kind = type(layer).__name__
        cfg = layer.get_config()
        if kind == "InputLayer":
            continue
        if kind == "Conv2D":
            k, b = layer.get_weights()
            assert cfg["padding"] == "same" and tuple(cfg["strides"]) == (1, 1), layer.name
            w = numpy_helper.from_array(np.ascontiguousarray(k.transpose(3, 2, 0, 1)), layer.name + "_w")
            bb = numpy_helper.from_array(b, layer.name + "_b")
            inits += [w, bb]
            kh, kw = k.shape[:2]
            x = add("Conv", [x, w.name, bb.name], kernel_shape=[kh, kw],
                    pads=[kh // 2, kw // 2, kh // 2, kw // 2], strides=[1, 1])
        elif kind == "MaxPooling2D":
            assert cfg["padding"] == "valid", layer.name
            x = add("MaxPool", [x], kernel_shape=list(cfg["pool_size"]), strides=list(cfg["strides"]))
        elif kind == "Flatten":
            if nchw:  # Keras flattens in NHWC order
                x = add("Transpose", [x], perm=[0, 2, 3, 1])
                nchw = False
            x = add("Flatten", [x], axis=1)
        elif kind == "Dense":
            k, b = layer.get_weights()
            w = numpy_helper.from_array(k, layer.name + "_w")
            bb = numpy_helper.from_array(b, layer.name + "_b")
            inits += [w, bb]
            x = add("Gemm", [x, w.name, bb.name])
        else:
            raise RuntimeError("write_chain_onnx: layer %s (%s) not handled" % (layer.name, kind))
        act = cfg.get("activation", "linear")
        if act == "relu":
            x = add("Relu", [x])
        elif act == "softmax":
            x = add("Softmax", [x], axis=-1)
        elif act != "linear":
            raise RuntimeError("write_chain_onnx: activation %s of %s not handled" % (act, layer.name))
    nodes[-1].output[0] = "output"
    graph = helper.make_graph(
        nodes, model.name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, model.output_shape[-1]])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="kvk compare")
    m.ir_version = 8  # what opset 13 needs; pnnx's bundled ONNX Runtime reads IR <= 13 only
    onnx.checker.check_model(m)
    onnx.save(m, path)


def cmd_export(args):
    """Keras (random weights) -> ONNX (tf2onnx, opset 13, NHWC input) -> ncnn (pnnx).
    Writes D/M.onnx, D/M.ncnn.param, D/M.ncnn.bin and D/M.export.json; the last stdout
    line says which steps worked and why the others did not."""
    os.makedirs(args.dir, exist_ok=True)
    base = os.path.join(args.dir, args.model)
    done = [base + ext for ext in (".onnx", ".ncnn.param", ".ncnn.bin", ".export.json")]
    if all(os.path.exists(f) for f in done):  # converted by an earlier run
        with open(base + ".export.json") as f:
            emit(dict(json.load(f), cached=True))
        return
    status = {"model": args.model, "onnx": None, "ncnn": None}
    tf = quiet_tf()
    import tf2onnx

    shape = input_shape(args.model)
    if not os.path.exists(base + ".onnx"):
        m = keras_model(args.model, 1)
        spec = (tf.TensorSpec((1,) + shape, tf.float32, name="input"),)
        try:
            if args.model in ("vgg16", "vgg19"):
                write_chain_onnx(m, base + ".onnx.tmp")
                status["exporter"] = "compare_peers.py (tf2onnx needs > 20 GB for VGG)"
            else:
                tf2onnx.convert.from_keras(m, input_signature=spec, opset=13, output_path=base + ".onnx.tmp")
                status["exporter"] = "tf2onnx " + tf2onnx.__version__
            os.replace(base + ".onnx.tmp", base + ".onnx")
        except Exception as e:  # reported, not raised: the peer shows as n/a
            status["onnx"] = "tf2onnx failed: %s" % str(e).splitlines()[0][:200]
    if status["onnx"] is None:
        status["onnx"] = "ok"
    if status["onnx"] == "ok" and not os.path.exists(base + ".ncnn.param"):
        # The pnnx binary ships in the pnnx wheel; `import pnnx` would need torch, which
        # pnnx's Python export helpers use and the converter does not.
        import importlib.util

        pnnx_bin = os.path.join(importlib.util.find_spec("pnnx").submodule_search_locations[0], "pnnx")
        # pnnx writes next to its input: convert a copy in a scratch folder.
        work = os.path.join(args.dir, args.model + ".pnnx")
        os.makedirs(work, exist_ok=True)
        onnx_copy = os.path.join(work, args.model + ".onnx")
        if not os.path.exists(onnx_copy):
            os.link(base + ".onnx", onnx_copy)
        cmd = [pnnx_bin, onnx_copy, "inputshape=[1,%d,%d,%d]" % shape]
        p = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
        log = os.path.join(work, "pnnx.log")
        with open(log, "w") as f:
            f.write(p.stdout + p.stderr)
        param = os.path.join(work, args.model + ".ncnn.param")
        if p.returncode != 0 or not os.path.exists(param):
            status["ncnn"] = "pnnx failed (rc %d, see %s)" % (p.returncode, log)
        else:
            try:
                status["pad_fixed"] = fix_ncnn_param(param, os.path.join(work, args.model + ".pnnx.param"))
                unknown = check_ncnn_layers(param)
                if unknown:
                    status["ncnn"] = "ncnn lacks layer(s) %s" % ",".join(sorted(unknown))
                else:
                    os.replace(os.path.join(work, args.model + ".ncnn.bin"), base + ".ncnn.bin")
                    os.replace(param, base + ".ncnn.param")
                    # pnnx's intermediate files are copies of the weights: keep its log only.
                    for f in os.listdir(work):
                        if f != "pnnx.log":
                            os.remove(os.path.join(work, f))
            except RuntimeError as e:
                status["ncnn"] = str(e)
    if status["ncnn"] is None:
        status["ncnn"] = "ok" if os.path.exists(base + ".ncnn.param") else "not converted"
    with open(base + ".export.json", "w") as f:
        json.dump(status, f)
    emit(status)


def check_ncnn_layers(param):
    """Layer types of `param` that this ncnn does not know."""
    import ncnn

    unknown = set()
    with open(param) as f:
        lines = f.read().splitlines()[2:]
    for line in lines:
        parts = line.split()
        if parts and ncnn.layer_to_index(parts[0]) < 0:
            unknown.add(parts[0])
    return unknown


# ---------------------------------------------------------------- peers


def cmd_ncnn(args):
    import numpy as np
    import ncnn

    base = os.path.join(args.dir, args.model)
    label = args.label or args.device
    if not os.path.exists(base + ".ncnn.param"):
        reason = "export failed, see %s.export.log" % os.path.join(args.dir, args.model)
        if os.path.exists(base + ".export.json"):
            reason = json.load(open(base + ".export.json")).get("ncnn", reason)
        emit({"model": args.model, "engine": "ncnn", "device": label, "error": reason})
        return
    net = ncnn.Net()
    keep = []
    vulkan = args.device == "vulkan"
    device_name = "cpu"
    if vulkan:
        if not hasattr(ncnn, "get_gpu_count") or ncnn.get_gpu_count() < 1:
            emit({"model": args.model, "engine": "ncnn", "device": label, "error": "no Vulkan device"})
            return
        vkdev = ncnn.get_gpu_device(0)
        device_name = ncnn.get_gpu_info(0).device_name()
        # The allocator set-up of ncnn's own benchmark (pooled blob/staging allocators).
        blob_vk = ncnn.VkBlobAllocator(vkdev)
        staging_vk = ncnn.VkStagingAllocator(vkdev)
        keep += [blob_vk, staging_vk]
        net.opt.use_vulkan_compute = True
        net.set_vulkan_device(0)
        net.opt.blob_vkallocator = blob_vk
        net.opt.workspace_vkallocator = blob_vk
        net.opt.staging_vkallocator = staging_vk
    else:
        net.opt.use_vulkan_compute = False
    blob_pool = ncnn.UnlockedPoolAllocator()
    workspace_pool = ncnn.PoolAllocator()
    keep += [blob_pool, workspace_pool]
    net.opt.num_threads = args.threads
    net.opt.blob_allocator = blob_pool
    net.opt.workspace_allocator = workspace_pool
    t = time.perf_counter()
    if net.load_param(base + ".ncnn.param") != 0 or net.load_model(base + ".ncnn.bin") != 0:
        emit({"model": args.model, "engine": "ncnn", "device": label, "error": "ncnn cannot load the converted model"})
        return
    load = time.perf_counter() - t
    x = random_input(args.model, args.batch)
    in_name, out_name = net.input_names()[0], net.output_names()[0]
    mats = [ncnn.Mat(np.ascontiguousarray(x[i])) for i in range(args.batch)]
    out = []

    def run():
        # ncnn has no batch dimension: a batch is that many extractions.
        for m in mats:
            ex = net.create_extractor()
            ex.input(in_name, m)
            ret, y = ex.extract(out_name)
            if ret != 0:
                raise RuntimeError("ncnn extract failed (%d)" % ret)
        out[:] = [y]

    try:
        first, times = time_runs(run, args.runs)
    except RuntimeError as e:
        emit({"model": args.model, "engine": "ncnn", "device": label, "error": str(e)})
        return
    y = np.array(out[0]).reshape(-1)
    emit(result(args, "ncnn", label, first, times, device_name=device_name,
                threads=args.threads, load_s=load, output_sum=float(y.sum()), output_size=int(y.size)))
    # ncnn's Vulkan objects must go before the instance; exit without running the
    # Python finalisers in an order ncnn does not expect.
    sys.stdout.flush()
    os._exit(0)


def cmd_ort(args):
    import onnxruntime as ort

    path = os.path.join(args.dir, args.model + ".onnx")
    if not os.path.exists(path):
        reason = "export failed, see %s.export.log" % os.path.join(args.dir, args.model)
        ej = os.path.join(args.dir, args.model + ".export.json")
        if os.path.exists(ej):
            reason = json.load(open(ej)).get("onnx", reason)
        emit({"model": args.model, "engine": "onnxruntime", "device": "cpu", "error": reason})
        return
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    t = time.perf_counter()
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    load = time.perf_counter() - t
    name = sess.get_inputs()[0].name
    x = random_input(args.model, 1)
    # The ONNX model has batch 1 fixed (like the ncnn one): a batch is that many runs.
    xs = [x] * args.batch
    fn = lambda: [sess.run(None, {name: xi}) for xi in xs]  # noqa: E731
    first, times = time_runs(fn, args.runs)
    emit(result(args, "onnxruntime", "cpu", first, times, threads=args.threads, load_s=load,
                version=ort.__version__))


def cmd_keras(args):
    tf = quiet_tf(args.threads)
    t = time.perf_counter()
    m = keras_model(args.model, args.batch)
    load = time.perf_counter() - t
    x = tf.constant(random_input(args.model, args.batch))
    fn = lambda: m(x, training=False).numpy()  # noqa: E731
    first, times = time_runs(fn, args.runs)
    emit(result(args, "keras", "cpu", first, times, threads=args.threads, load_s=load,
                version=tf.__version__))


# ---------------------------------------------------------------- parsing


def cmd_kvk_parse(args):
    """Reads `kvk bench` output (stdout and stderr) on stdin."""
    text = sys.stdin.read()
    r = {"model": args.model, "engine": "kvk", "device": args.device, "batch": args.batch}
    m = re.search(r"latency\s+([\d.]+) ms per batch \(median of (\d+)\)", text)
    if not m:
        last = [l for l in text.strip().splitlines() if l.strip()]
        r["error"] = "kvk bench failed: " + (last[-1][:160] if last else "no output")
        emit(r)
        return
    r["median_ms"], r["runs"] = float(m.group(1)), int(m.group(2))
    # (key, pattern of `kvk bench`'s text, what to keep of the match)
    fields = [
        ("gflop_per_image", r"\(([\d.]+) GFLOP per image\)", float),
        ("peak_rss_mib", r"host peak RSS ([\d.]+) MiB", float),
        ("device_name", r"(?m)^device\s+(.+)$", str.strip),
        ("first_ms", r"first (?:run|inference)\D*?([\d.]+) ms", float),
        ("min_ms", r"(?:min|minimum)\s+([\d.]+)\s*ms", float),
        ("max_ms", r"\bmax\s+([\d.]+)\s*ms", float),
        ("load_s", r"build ([\d.]+) s", float),
        ("of_gemm_peak", r"([\d.]+)% of the GEMM peak", float),
        ("products_of_gemm_peak", r"products\s+Conv2D and Dense layers:.*?([\d.]+)% of the GEMM peak", float),
        ("gemm_peak_gflops", r"peak\s+GEMM ([\d.]+) GFLOP/s", float),
        ("device_mib", r"device ([\d.]+) MiB held by kvk", float),
    ]
    for key, pattern, convert in fields:
        m = re.search(pattern, text)
        if m:
            r[key] = convert(m.group(1))
    emit(r)


def cmd_benchncnn_parse(args):
    text = sys.stdin.read()
    r = {"model": args.model, "engine": "benchncnn", "device": args.device, "batch": 1}
    m = re.search(r"min =\s*([\d.]+)\s+max =\s*([\d.]+)\s+avg =\s*([\d.]+)", text)
    if not m:
        last = [l for l in text.strip().splitlines() if l.strip()]
        r["error"] = "benchncnn failed: " + (last[-1][:160] if last else "no output")
    else:
        r["min_ms"], r["max_ms"], r["avg_ms"] = (float(g) for g in m.groups())
        r["median_ms"] = r["avg_ms"]  # benchncnn prints no median: its average stands in
        r["runs"] = args.runs
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if m:
        r["peak_rss_mib"] = int(m.group(1)) / 1024.0
    emit(r)


# ---------------------------------------------------------------- report

ENGINE_ORDER = [
    ("kvk", "lavapipe"), ("ncnn", "lavapipe"), ("benchncnn", "lavapipe"),
    ("kvk", "swiftshader"), ("ncnn", "swiftshader"), ("benchncnn", "swiftshader"),
    ("ncnn", "cpu"), ("benchncnn", "cpu"), ("onnxruntime", "cpu"), ("keras", "cpu"),
]
LABEL = {
    ("kvk", "lavapipe"): "kvk, lavapipe",
    ("ncnn", "lavapipe"): "ncnn (PyPI), lavapipe",
    ("benchncnn", "lavapipe"): "benchncnn, lavapipe",
    ("kvk", "swiftshader"): "kvk, SwiftShader",
    ("ncnn", "swiftshader"): "ncnn (PyPI), SwiftShader",
    ("benchncnn", "swiftshader"): "benchncnn, SwiftShader",
    ("ncnn", "cpu"): "ncnn (PyPI), CPU",
    ("benchncnn", "cpu"): "benchncnn, CPU",
    ("onnxruntime", "cpu"): "ONNX Runtime, CPU",
    ("keras", "cpu"): "Keras (TF), CPU",
}


def fmt_ms(v):
    if v is None:
        return "–"
    return "%.0f ms" % v if v >= 100 else "%.1f ms" % v


def cpu_summary():
    model, flags = "unknown CPU", ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"^Model name:\s*(.+)$", out, re.M)
        if m:
            model = m.group(1).strip()
        fm = re.search(r"^Flags:\s*(.+)$", out, re.M)
        fl = set(fm.group(1).split()) if fm else set()
        have = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile") if f in fl]
        flags = ", ".join(have) if have else "no AVX2"
        cores = re.search(r"^CPU\(s\):\s*(\d+)", out, re.M)
        if cores:
            flags += "; %s CPUs" % cores.group(1)
    except OSError:
        pass
    return model, flags


def cmd_report(args):
    rows = {}
    models = []  # in the order they were run (--models)
    for line in open(args.results):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        rows[(r["model"], r["engine"], r["device"])] = r
        if r["model"] not in models:
            models.append(r["model"])
    cols = [c for c in ENGINE_ORDER if any((m,) + c in rows for m in models)]
    # FLOPs per image: kvk's count (same architecture for every engine).
    gflop = {}
    for (m, e, d), r in rows.items():
        if r.get("gflop_per_image"):
            gflop[m] = r["gflop_per_image"]

    def kvk_ref(m, dev):
        """kvk result a peer on `dev` is compared with: same driver for Vulkan peers;
        the faster of kvk's CPU-driver results for CPU peers."""
        if dev in ("lavapipe", "swiftshader"):
            r = rows.get((m, "kvk", dev))
            return r if r and "error" not in r else None
        ok = [rows[(m, "kvk", d)] for d in ("lavapipe", "swiftshader")
              if (m, "kvk", d) in rows and "error" not in rows[(m, "kvk", d)]]
        return min(ok, key=lambda r: r["median_ms"]) if ok else None

    lines = []
    lines.append("| model | engine, device | warm median | min–max | first | GFLOP/s | of GEMM peak | peak RSS | kvk ÷ peer (speed) |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for m in models:
        for c in cols:
            r = rows.get((m,) + c)
            if r is None:
                continue
            label = LABEL.get(c, "%s, %s" % c)
            if "error" in r:
                lines.append("| %s | %s | n/a (%s) | | | | | | |" % (m, label, r["error"].replace("|", "/")))
                continue
            med = r["median_ms"]
            per_image = med / max(1, r.get("batch", 1))
            gf = "%.1f" % (gflop[m] / (per_image / 1e3)) if m in gflop else "–"
            mm = "%s–%s" % (fmt_ms(r.get("min_ms")), fmt_ms(r.get("max_ms"))) if r.get("min_ms") else "–"
            rss = "%.0f MiB" % r["peak_rss_mib"] if r.get("peak_rss_mib") else "–"
            if r.get("device_mib"):
                rss += " (device %.0f MiB)" % r["device_mib"]
            of_peak = "–"
            if r.get("of_gemm_peak"):
                of_peak = "%.0f%% of %.1f" % (r["of_gemm_peak"], r.get("gemm_peak_gflops", 0))
            if r.get("products_of_gemm_peak"):
                of_peak += "; products %.0f%%" % r["products_of_gemm_peak"]
            ratio = ""
            if r["engine"] != "kvk":
                k = kvk_ref(m, r["device"])
                if k:
                    ratio = "%.2f×" % (med / k["median_ms"])
                    if r["device"] == "cpu":
                        ratio += " (vs kvk %s)" % ("lavapipe" if k["device"] == "lavapipe" else "SwiftShader")
                else:
                    ratio = "n/a (no kvk result)"
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                m, label, fmt_ms(med), mm, fmt_ms(r.get("first_ms")), gf, of_peak, rss, ratio))
    table = "\n".join(lines)
    print(table)
    if not args.doc:
        return
    model, flags = cpu_summary()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    runs = sorted({r.get("runs") for r in rows.values() if r.get("runs")})
    batch = sorted({r.get("batch") for r in rows.values() if r.get("batch")})
    versions = {}
    for r in rows.values():
        if r.get("version"):
            versions[r["engine"]] = r["version"]
    section = [
        "## Last run",
        "",
        "Written by `scripts/compare.sh`; replaced by each run.",
        "",
        "- command: `%s`" % args.command,
        "- date: %s" % now,
        "- CPU: %s (%s)" % (model, flags),
        "- batch %s, warm median of %s runs after one first (cold) inference; random weights" % (
            "/".join(map(str, batch)) or "1", "/".join(map(str, runs)) or "?"),
    ]
    if args.note:
        section.append("- %s" % args.note)
    section += [
        "",
        table,
        "",
        "**kvk ÷ peer (speed)** is kvk's speed divided by the peer's, i.e. the peer's warm "
        "latency divided by kvk's: above 1, kvk is faster (4.00× is issue 7's target against "
        "ncnn on the same driver). Vulkan peers are compared with kvk on the same driver; CPU "
        "peers with kvk's faster CPU-driver result of the same run. **GFLOP/s** uses kvk's FLOP "
        "count of the Keras model (the same architecture for every engine). **first** is the "
        "first inference of a fresh process after the model is loaded (pipeline compilation "
        "included; for kvk, the first run after `kvk bench` built the model). "
        "**of GEMM peak** is kvk's GFLOP/s as a fraction of the GEMM rate its own probe "
        "shader reached in the same process (`kvk bench --peak`, shown after it in GFLOP/s); "
        "Winograd's saved multiplications can put it above 100%. **products** is the same for "
        "kvk's Conv2D and Dense layers alone (issue 7's \"large convolutions\"; without depthwise "
        "layers, pools and other memory-bound steps), from a second short run timed per layer "
        "(`kvk bench --layers`) against that run's own probe. "
        "**peak RSS** is the whole process's: kvk's own figure, with the device memory kvk "
        "holds after loading (on a CPU driver that memory is part of the RSS); for the Python peers it "
        "includes the Python runtime (and TensorFlow for Keras); for benchncnn GNU time's. "
        "ncnn and ONNX Runtime run the Keras model (random weights) exported to ONNX (opset "
        "13) by tf2onnx, or for VGG16/VGG19 written directly from the Keras layers by "
        "`scripts/compare_peers.py` (tf2onnx needs more than 20 GB of memory for them), then "
        "for ncnn converted by pnnx (fp16 weights; ResNet50's zero padding before its max "
        "pool rewritten as ncnn's Padding layer). ncnn has no batch dimension and the ONNX "
        "models have batch 1: a batch of N is N inferences for both.",
        "",
    ]
    write_doc(args.doc, "\n".join(section))


def write_doc(path, section):
    head = (
        "# Performance\n\n"
        "kvk against its peers, measured by `scripts/compare.sh` in one run on one machine.\n"
        "The CPU Vulkan drivers' speed depends heavily on the host CPU: compare ratios within\n"
        "one run, not figures across machines.\n\n"
    )
    text = open(path).read() if os.path.exists(path) else head
    # Replace the "## Last run" section (up to the next "## " heading or the end).
    m = re.search(r"^## Last run\n.*?(?=^## |\Z)", text, re.M | re.S)
    if m:
        text = text[: m.start()] + section + "\n" + text[m.end():]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, dir_=True):
        p.add_argument("--model", required=True, choices=MODELS)
        if dir_:
            p.add_argument("--dir", required=True)
        p.add_argument("--batch", type=int, default=1)
        p.add_argument("--runs", type=int, default=10)
        p.add_argument("--threads", type=int, default=2)

    p = sub.add_parser("export"); common(p); p.set_defaults(fn=cmd_export)
    p = sub.add_parser("ncnn"); common(p)
    p.add_argument("--device", choices=["vulkan", "cpu"], required=True)
    p.add_argument("--label", help="device name in the results (lavapipe, swiftshader, cpu)")
    p.set_defaults(fn=cmd_ncnn)
    p = sub.add_parser("ort"); common(p); p.set_defaults(fn=cmd_ort)
    p = sub.add_parser("keras"); common(p, dir_=False); p.set_defaults(fn=cmd_keras)
    for name, fn in (("kvk-parse", cmd_kvk_parse), ("benchncnn-parse", cmd_benchncnn_parse)):
        p = sub.add_parser(name); common(p, dir_=False)
        p.add_argument("--device", required=True)
        p.set_defaults(fn=fn)
    p = sub.add_parser("report")
    p.add_argument("--results", required=True)
    p.add_argument("--command", required=True)
    p.add_argument("--doc")
    p.add_argument("--note")
    p.set_defaults(fn=cmd_report)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
