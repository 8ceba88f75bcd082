"""Runs the SDK's TensorRT code against one REAL ``tensorrt`` module (no GPU); prints a JSON report.

Started by tests/engine/test_tensorrt_conformance.py in a subprocess whose PYTHONPATH holds the
real bindings and whose LD_LIBRARY_PATH holds the stand-in libraries (trt_wheels.py):

    python tests/engine/trt_probe.py NAMES.json

The module is used through ``SpecModule``: attribute look-ups on the module are passed to the real
module and recorded (found / missing). Only the factories that need the native library
(``Builder``, ``Runtime``, ``OnnxParser``) return ``SpecObject``s: stand-ins for the real classes
that expose exactly the attributes the real class has (anything else is an AttributeError,
recorded), check every call against the real pybind11 signature in the class's docstring
(argument count, names, and the types of enum / TensorRT-class / int / bool / buffer arguments),
only allow setting properties the real class can set, and answer with objects of the real
annotated return type. Enum values, ``trt.nptype``, ``trt.Logger``, the calibrator base class and
``Dims`` are the real ones. So the precision-path choice, network-creation flags, builder-config
calls, FP32 pinning, DLA set-up, INT8 calibrator and runner activation run against each version's
actual API; what TensorRT then does with them needs a GPU and is not tested here.
"""
from __future__ import annotations

import inspect
import json
import re
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np

REAL = None        # the real tensorrt module
REC = None         # the Recorder

TRT_PREFIXES = ("tensorrt_bindings.tensorrt.", "tensorrt.tensorrt.", "tensorrt.")


class Recorder:
    def __init__(self):
        self.found: set[str] = set()
        self.missing: set[str] = set()
        self.obj_found: set[str] = set()
        self.obj_missing: set[str] = set()
        self.calls: list[str] = []
        self.sets: list[str] = []


# -- signatures from pybind11 docstrings --------------------------------------------------------

def _split_params(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def signatures(cls, name: str) -> list[tuple[list[tuple[str, str, bool]], str]]:
    """[(params [(name, type, has_default)], return type)] for each overload; [] if unknown."""
    fn = getattr(cls, name)
    doc = fn.__doc__ or ""
    sigs = []
    for line in doc.splitlines():
        m = re.match(r"^\s*(?:\d+\.\s+)?" + re.escape(name) + r"\((.*)\)\s*->\s*(.+?)\s*$", line)
        if not m or m.group(1).strip() == "*args, **kwargs":
            continue
        params = []
        for p in _split_params(m.group(1)):
            pname, _, rest = p.partition(":")
            ptype, eq, _ = rest.partition("=")
            params.append((pname.strip(), ptype.strip(), bool(eq)))
        if params and params[0][0] in ("self", "arg0"):
            params = params[1:]
        sigs.append((params, m.group(2)))
    return sigs


def _local(tname: str) -> str:
    for p in TRT_PREFIXES:
        if tname.startswith(p):
            return tname[len(p):]
    return tname


def type_ok(value, tname: str) -> bool:
    t = tname.strip()
    if t.startswith("Optional[") or t.endswith("| None"):
        inner = t[9:-1] if t.startswith("Optional[") else t[:-6].strip()
        return value is None or type_ok(value, inner)
    local = _local(t)
    if t != local or (hasattr(REAL, local) and isinstance(getattr(REAL, local), type)):
        real_cls = getattr(REAL, local, None)
        if real_cls is None:
            return False
        if isinstance(value, SpecObject):
            return issubclass(value._cls, real_cls)
        if local == "Dims" and isinstance(value, (tuple, list)):
            return all(isinstance(v, (int, np.integer)) for v in value)
        return isinstance(value, real_cls)
    if t in ("int", "typing.SupportsInt"):
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if t in ("float", "typing.SupportsFloat"):
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if t == "bool":
        return isinstance(value, (bool, np.bool_))
    if t == "str":
        return isinstance(value, str)
    if t in ("buffer", "typing_extensions.Buffer", "collections.abc.Buffer", "bytes"):
        return isinstance(value, (bytes, bytearray, memoryview, np.ndarray))
    if t.lower().startswith(("list[", "typing.list[", "sequence[", "collections.abc.sequence[")):
        return isinstance(value, (list, tuple))
    return True   # object, capsule, numpy types ...: not checked


def make_value(tname: str, owner: str, attr: str):
    t = tname.strip()
    if t in ("None", ""):
        return None
    if t == "bool":
        return True
    if t in ("int", "typing.SupportsInt"):
        return 1
    if t in ("float", "typing.SupportsFloat"):
        return 0.0
    if t == "str":
        return f"{owner}.{attr}"
    if t.lower().startswith(("list[", "typing.list[")):
        return []
    if t.startswith("Optional["):
        return make_value(t[9:-1], owner, attr)
    local = _local(t)
    cls = getattr(REAL, local, None)
    if isinstance(cls, type):
        if hasattr(cls, "__members__"):          # enum: its first member
            return next(iter(cls.__members__.values()))
        if local == "Dims":
            return REAL.Dims((1,))
        return SpecObject(cls)
    return None


def check_call(cls, name: str, args, kwargs) -> str:
    """The matching overload's return type; TypeError when no overload accepts the arguments."""
    sigs = signatures(cls, name)
    if not sigs:
        return "object"
    problems = []
    for params, ret in sigs:
        if len(args) > len(params):
            problems.append(f"{len(args)} positional arguments for {len(params)} parameters")
            continue
        bound, ok = {}, True
        for (pname, ptype, _), a in zip(params, args):
            bound[pname] = (ptype, a)
        for k, v in kwargs.items():
            match = [p for p in params if p[0] == k]
            if not match or k in bound:
                problems.append(f"unexpected keyword {k!r}")
                ok = False
                break
            bound[k] = (match[0][1], v)
        if not ok:
            continue
        missing = [p[0] for p in params if p[0] not in bound and not p[2]]
        if missing:
            problems.append(f"missing {missing}")
            continue
        bad = [f"{k}: {type(v).__name__} is not {t}" for k, (t, v) in bound.items() if not type_ok(v, t)]
        if bad:
            problems.append("; ".join(bad))
            continue
        return ret
    raise TypeError(f"{cls.__name__}.{name}{tuple(args)!r}: no overload of the real signature accepts it ({problems})")


# -- stand-ins ---------------------------------------------------------------------------------------

class ChainProxy:
    """A real module attribute (class / enum) whose member look-ups are recorded."""

    def __init__(self, obj, chain):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_chain", chain)

    _OWN = ("_obj", "_chain", "__class__", "__mro_entries__", "__instancecheck__", "__call__", "__dict__")

    def __getattribute__(self, name):
        # everything but the proxy's own machinery is the real object's (trt.X.__init__ included)
        if name in ChainProxy._OWN:
            return object.__getattribute__(self, name)
        obj, chain = object.__getattribute__(self, "_obj"), object.__getattribute__(self, "_chain")
        full = f"{chain}.{name}"
        try:
            value = getattr(obj, name)
        except AttributeError:
            REC.missing.add(full)
            raise
        REC.found.add(full)
        return value

    def __call__(self, *args, **kwargs):
        return self._obj(*args, **kwargs)

    def __mro_entries__(self, bases):      # class C(trt.IInt8EntropyCalibrator2): the real class
        return (self._obj,)

    def __instancecheck__(self, inst):
        return isinstance(inst, self._obj)


class Factory(ChainProxy):
    """trt.Builder / trt.Runtime / trt.OnnxParser: checks the constructor call, returns a SpecObject."""

    def __call__(self, *args, **kwargs):
        ret = check_call(self._obj, "__init__", args, kwargs)
        del ret
        REC.calls.append(f"{self._chain}({', '.join(_short(a) for a in args)})")
        return SpecObject(self._obj)


def _short(v) -> str:
    if isinstance(v, SpecObject):
        return f"<{v._cls.__name__}>"
    if isinstance(v, (bytes, bytearray)):
        return f"<{len(v)} bytes>"
    if isinstance(v, np.ndarray):
        return f"<array {v.shape}>"
    return repr(v)


OVERRIDES: dict[tuple[str, str], object] = {}   # (class, attribute) -> f(obj, *args) for the scenario world


class SpecObject:
    def __init__(self, cls, **values):
        object.__setattr__(self, "_cls", cls)
        object.__setattr__(self, "_values", dict(values))

    def _static(self, name):
        try:
            return inspect.getattr_static(self._cls, name)
        except AttributeError:
            REC.obj_missing.add(f"{self._cls.__name__}.{name}")
            raise AttributeError(f"real {self._cls.__name__} (TensorRT {REAL.__version__}) has no attribute {name!r}")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        static = self._static(name)
        REC.obj_found.add(f"{self._cls.__name__}.{name}")
        override = OVERRIDES.get((self._cls.__name__, name))
        if isinstance(static, property):
            if name in self._values:
                return self._values[name]
            if override is not None:
                return override(self)
            doc = (static.fget.__doc__ or "") if static.fget else ""
            m = re.search(r"->\s*(.+?)\s*$", doc.strip().splitlines()[0]) if doc.strip() else None
            return make_value(m.group(1) if m else "", self._cls.__name__, name)
        cls = self._cls

        def method(*args, **kwargs):
            ret = check_call(cls, name, args, kwargs)
            REC.calls.append(f"{cls.__name__}.{name}({', '.join(_short(a) for a in args)})")
            if override is not None:
                return override(self, *args, **kwargs)
            return make_value(ret, cls.__name__, name)
        return method

    def __setattr__(self, name, value):
        static = self._static(name)
        if not isinstance(static, property) or static.fset is None:
            raise AttributeError(f"real {self._cls.__name__}.{name} cannot be set (TensorRT {REAL.__version__})")
        doc = (static.fget.__doc__ or "").strip().splitlines()
        m = re.search(r"->\s*(.+?)\s*$", doc[0]) if doc else None
        if m and not type_ok(value, m.group(1)):
            raise TypeError(f"{self._cls.__name__}.{name} = {value!r}: the real property takes {m.group(1)}")
        REC.sets.append(f"{self._cls.__name__}.{name} = {_short(value)}")
        self._values[name] = value

    def __bytes__(self):
        if self._cls.__name__ == "IHostMemory":
            return b"\0" * 64
        raise TypeError(f"{self._cls.__name__} has no buffer")


class SpecModule:
    FACTORIES = ("Builder", "Runtime", "OnnxParser")

    def __init__(self, real):
        object.__setattr__(self, "_real", real)

    def __getattr__(self, name):
        try:
            value = getattr(self._real, name)
        except AttributeError:
            REC.missing.add(name)
            raise
        REC.found.add(name)
        if name in self.FACTORIES:
            return Factory(value, name)
        if isinstance(value, type):
            return ChainProxy(value, name)
        return value


# -- the scenario world -------------------------------------------------------------------------------

class FakeCuda:
    """Host memory for 'device' and pinned buffers; no CUDA call (there is no GPU)."""
    H2D, D2H = "h2d", "d2h"

    def __init__(self):
        self._bufs = {}

    def set_device(self, i):
        pass

    def device_info(self, i):
        from agegender_edge.backends.tensorrt_env import GpuInfo
        return GpuInfo(i, "Stand-in GPU", "8.7", 8192)

    def _alloc(self, n):
        buf = np.zeros(max(int(n), 1), np.uint8)
        self._bufs[buf.ctypes.data] = buf
        return buf.ctypes.data

    malloc = malloc_host = _alloc

    def free(self, p):
        self._bufs.pop(p, None)

    free_host = free

    @staticmethod
    def host_array(ptr, shape, dtype):
        from agegender_edge.backends.tensorrt_env import CudaRuntime
        return CudaRuntime.host_array(ptr, shape, dtype)

    def stream_create(self):
        return 7

    def stream_destroy(self, s):
        pass

    def stream_handle(self, s):
        return int(s)

    def memcpy_async(self, *a):
        pass

    def stream_synchronize(self, s):
        pass


def setup_world(meta, fp32_names, output_shapes):
    trt = REAL
    layer_names = [sorted(fp32_names)[0] if fp32_names else "post", "backbone/conv0"]
    io_names = [meta.input.name, *output_shapes]

    def tensor(name, shape=(-1,)):
        return SpecObject(trt.ITensor, name=name, dtype=trt.float32, shape=trt.Dims(shape))

    h, w = meta.input.size
    OVERRIDES.update({
        ("OnnxParser", "parse"): lambda o, *a, **k: True,
        ("OnnxParser", "num_errors"): lambda o: 0,
        ("INetworkDefinition", "num_layers"): lambda o: len(layer_names),
        ("INetworkDefinition", "get_layer"): lambda o, i: SpecObject(trt.ILayer, name=layer_names[i]),
        ("INetworkDefinition", "num_inputs"): lambda o: 1,
        ("INetworkDefinition", "get_input"): lambda o, i: tensor(meta.input.name, (-1, 3, h, w)),
        ("INetworkDefinition", "num_outputs"): lambda o: len(output_shapes),
        ("INetworkDefinition", "get_output"): lambda o, i: tensor(list(output_shapes)[i], (-1, *list(output_shapes.values())[i])),
        ("ILayer", "num_outputs"): lambda o: 1,
        ("ILayer", "get_output"): lambda o, k: tensor(o.name + ":0"),
        ("Builder", "num_DLA_cores"): lambda o: 2,
        ("Builder", "build_serialized_network"): lambda o, *a: SpecObject(trt.IHostMemory),
        ("IBuilderConfig", "create_timing_cache"): lambda o, *a: SpecObject(trt.ITimingCache),
        ("IBuilderConfig", "get_timing_cache"): lambda o: SpecObject(trt.ITimingCache),
        ("ITimingCache", "serialize"): lambda o: SpecObject(trt.IHostMemory),
        ("Runtime", "deserialize_cuda_engine"): lambda o, blob: SpecObject(trt.ICudaEngine),
        ("ICudaEngine", "num_io_tensors"): lambda o: len(io_names),
        ("ICudaEngine", "get_tensor_name"): lambda o, i: io_names[i],
        ("ICudaEngine", "get_tensor_profile_shape"): lambda o, n, p: [trt.Dims((b, 3, h, w)) for b in (1, 16, 32)],
        ("ICudaEngine", "get_tensor_dtype"): lambda o, n: trt.float32,
        ("ICudaEngine", "create_execution_context"): lambda o, *a: SpecObject(trt.IExecutionContext),
        ("IExecutionContext", "get_tensor_shape"): lambda o, n: trt.Dims((32, *output_shapes[n])),
        ("IExecutionContext", "set_input_shape"): lambda o, *a: True,
        ("IExecutionContext", "set_tensor_address"): lambda o, *a: True,
        ("IExecutionContext", "execute_async_v3"): lambda o, *a: True,
    })


def run(name, fn, report):
    before = len(REC.calls), len(REC.sets)
    try:
        result = fn()
        report["scenarios"][name] = {"ok": True, "result": result}
    except Exception as exc:   # reported, the test decides what was expected
        report["scenarios"][name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                                     "traceback": traceback.format_exc()[-3000:]}
    report["scenarios"][name]["calls"] = REC.calls[before[0]:]
    report["scenarios"][name]["sets"] = REC.sets[before[1]:]


def exists(chain: str) -> bool:
    obj = REAL
    for part in chain.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def main(names_file: str) -> None:
    global REAL, REC
    import tensorrt_bindings
    sys.modules["tensorrt"] = tensorrt_bindings
    REAL, REC = tensorrt_bindings, Recorder()
    names = json.loads(Path(names_file).read_text())

    import onnx
    import onnxruntime as ort

    from agegender_edge.backends import tensorrt_env as env
    from agegender_edge.backends.tensorrt import TensorRTRunner
    from agegender_edge.engine import builder
    from agegender_edge.engine.cache import bytes_sha256
    from agegender_edge.engine.onnx_meta import read_metadata
    from agegender_edge.engine.sidecar import BuildSettings, EngineSidecar
    from agegender_edge.metadata import OUTPUT_NAMES
    from agegender_edge.shipped import default_model_path

    trt = SpecModule(REAL)
    model_path = default_model_path()
    data = model_path.read_bytes()
    meta = read_metadata(onnx.load_from_string(data), str(model_path))
    fp32 = builder.fp32_names_for(data)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    shapes = {o.name: tuple(int(d) for d in o.shape[1:]) for o in sess.get_outputs()}
    shapes = {n: shapes[n] for n in (*OUTPUT_NAMES, "embedding") if n in shapes}   # + the descriptor, when present
    setup_world(meta, fp32, shapes)
    faces = np.random.default_rng(0).random((8, 3, *meta.input.size), dtype=np.float32)
    report = {"version": REAL.__version__, "scenarios": {},
              "exists": {n: exists(n) for n in names["module"]},
              "object_probe_exists": {n: any(isinstance(c, type) and hasattr(c, n) for c in vars(REAL).values())
                                      for n in names["object_probes"]}}

    def choice():
        out = {}
        for precision, cal, requested in [("fp32", False, None), ("fp16", False, None), ("int8", True, None),
                                          ("int8", False, None), ("fp16", False, "builder-fp16"),
                                          ("fp16", False, "strongly-typed-fp16"), ("int8", True, "int8-calibrated"),
                                          ("int8", True, "int8-qdq")]:
            key = f"{precision}|cal={cal}|{requested}"
            try:
                out[key] = builder.choose_precision_path(trt, precision, requested, has_calibration=cal)
            except Exception as exc:
                out[key] = f"{type(exc).__name__}"
        return out
    run("precision_choice", choice, report)
    run("env", lambda: {"has_builder_fp16": env.has_builder_fp16(trt), "named_tensor_api": env.has_named_tensor_api(trt),
                        "v100": env.check_tensorrt_supports_gpu(REAL.__version__, env.GpuInfo(0, "Tesla V100", "7.0", 1)),
                        "orin": env.check_tensorrt_supports_gpu(REAL.__version__, env.GpuInfo(0, "Orin", "8.7", 1))},
        report)

    tmp = Path(tempfile.mkdtemp())
    paths = ["fp32", "builder-fp16", "strongly-typed-fp16", "int8-calibrated", "int8-qdq"]
    for path in paths:
        precision = {"fp32": "fp32", "builder-fp16": "fp16", "strongly-typed-fp16": "fp16"}.get(path, "int8")
        try:
            builder.choose_precision_path(trt, precision, path if path != "fp32" else None, has_calibration=True)
        except Exception:
            report["scenarios"][f"build:{path}"] = {"ok": None, "skipped": "path not offered by this version"}
            continue
        settings = BuildSettings(precision=precision, precision_path=path, profile={"min": 1, "opt": 16, "max": 32},
                                 workspace_mib=512, timing_cache=str(tmp / f"{path}.cache"), builder_optimization_level=3)
        names_fp32 = fp32 if path in ("builder-fp16", "int8-calibrated") else []
        cal = faces if path == "int8-calibrated" else None

        def build(settings=settings, names_fp32=names_fp32, cal=cal):
            res = builder.build_serialized(data, meta, settings, trt, names_fp32, cal, FakeCuda())
            return {"fp32_layers": res.settings.fp32_layers, "io": res.io, "engine_bytes": len(res.engine_bytes)}
        run(f"build:{path}", build, report)

    def dla():
        path = builder.choose_precision_path(trt, "fp16")
        s = BuildSettings(precision="fp16", precision_path=path, profile={"min": 8, "opt": 8, "max": 8}, dla_core=0)
        return {"path": path, "fp32_layers": builder.build_serialized(data, meta, s, trt, fp32 if path == "builder-fp16" else [],
                                                                      None, FakeCuda()).settings.fp32_layers}
    run("build:dla", dla, report)

    def calibrator():
        if not hasattr(trt, "IInt8EntropyCalibrator2"):
            return "no implicit INT8 calibration on this version"
        cal = builder.make_calibrator(trt, faces, 4, tmp / "cal.cache", FakeCuda())
        assert isinstance(cal, REAL.IInt8EntropyCalibrator2)
        batches = []
        while True:
            b = cal.get_batch(["input"])
            if b is None:
                break
            batches.append(len(b))
        cal.write_calibration_cache(b"cache")
        return {"batch_size": cal.get_batch_size(), "batches": len(batches), "cache": cal.read_calibration_cache() == b"cache"}
    run("calibrator", calibrator, report)

    def runner():
        engine = tmp / "m.engine"
        blob = b"engine-bytes"
        engine.write_bytes(blob)
        EngineSidecar(metadata=meta, build=BuildSettings(precision_path="builder-fp16"), tensorrt_version=REAL.__version__,
                      gpu_name="Stand-in GPU", compute_capability="8.7", onnx_sha256="0" * 64,
                      engine_sha256=bytes_sha256(blob)).write(engine)
        r = TensorRTRunner(engine_path=engine, trt=trt, cuda=FakeCuda())
        with r:
            out = r.infer(np.zeros((40, 3, *meta.input.size), np.float32))   # > max batch: split in 2 chunks
        return {"outputs": {k: list(v.shape) for k, v in out.items()}, "profile": r.profile.as_dict()}
    run("runner", runner, report)

    report["enums"] = {e: {k: int(v) for k, v in getattr(REAL, e).__members__.items()}
                       for e in ("BuilderFlag", "NetworkDefinitionCreationFlag", "DataType", "MemoryPoolType")}
    report["found"] = sorted(REC.found)
    report["missing"] = sorted(REC.missing)
    report["obj_found"] = sorted(REC.obj_found)
    report["obj_missing"] = sorted(REC.obj_missing)
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
