"""Orchestration tests of the TensorRT runner and builder against a STAND-IN ``tensorrt`` module.

THIS IS NOT TENSORRT VERIFICATION. The stand-in below implements only the named-tensor API
surface our code calls, and "executes" an engine by running the embedded ONNX in ONNX Runtime on
the CPU. It checks OUR logic: buffer sizing, batch splitting and padding, output layout, the
engine cache decisions, sidecar checks before deserialisation, precision-path selection and FP32
pinning of post-processing layers. Real TensorRT runs only in test_tensorrt_gpu.py (skipped
without a GPU and TensorRT).
"""
from __future__ import annotations

import ctypes
import json
import logging
import os
import types
from pathlib import Path

import numpy as np
import pytest

from agegender_edge.backends.tensorrt_env import GpuInfo
from agegender_edge.errors import BackendUnavailableError, ModelError
from agegender_edge.metadata import OUTPUT_NAMES

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / ".." / "shared" / "data"
FACES = DATA / "fixtures" / "utkface_48"


def find_model() -> Path:
    for p in (REPO / "agegender_edge" / "weights" / "edge_resnet_utkface.onnx",
              Path(os.environ.get("AGEGENDER_EDGE_TEST_MODEL", "/nonexistent")),
              Path("/work/dev_models/dev_plain.onnx")):
        if p.is_file():
            return p
    pytest.skip("no exported model available (shipped weights or AGEGENDER_EDGE_TEST_MODEL)")


def real_faces(meta, n=48) -> np.ndarray:
    from agegender_edge.imageio import DEFAULT_MAX_PIXELS, load_image
    from agegender_edge.preprocess import chip_to_input
    files = sorted(FACES.glob("*.jpg"))[:n]
    assert files, f"no fixture faces in {FACES}"
    return np.stack([chip_to_input(load_image(str(f), None, DEFAULT_MAX_PIXELS).bgr, meta).transpose(2, 0, 1)
                     for f in files]).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# STAND-IN tensorrt module (not TensorRT)
# ---------------------------------------------------------------------------------------------
_MAGIC = b"STANDIN-ENGINE\n"


class _Flags:
    def __init__(self, names):
        for i, n in enumerate(names):
            setattr(self, n, i)


class _Tensor:
    def __init__(self, name, dtype, shape=()):
        self.name, self.dtype, self.shape = name, dtype, shape


class _Layer:
    def __init__(self, name, outputs, dtype):
        self.name = name
        self._outs = [_Tensor(o, dtype) for o in outputs]
        self.num_outputs = len(self._outs)
        self.precision = None
        self.output_types = {}

    def get_output(self, k):
        return self._outs[k]

    def set_output_type(self, k, dt):
        self.output_types[k] = dt


def make_standin_trt(version="10.3.0", weak_typing=True):
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.float32, trt.float16, trt.int32 = "float32", "float16", "int32"
    trt.nptype = lambda dt: {"float32": np.float32, "float16": np.float16, "int32": np.int32}[dt]
    flags = ["OBEY_PRECISION_CONSTRAINTS", "GPU_FALLBACK"] + (["FP16", "INT8"] if weak_typing else [])
    trt.BuilderFlag = _Flags(flags)
    trt.NetworkDefinitionCreationFlag = _Flags(["EXPLICIT_BATCH", "STRONGLY_TYPED"])
    trt.MemoryPoolType = _Flags(["WORKSPACE"])
    trt.DeviceType = _Flags(["GPU", "DLA"])
    trt.calls = {"deserialize": 0, "build": 0, "execute_batches": [], "networks": []}

    class Logger:
        WARNING = 2

        def __init__(self, level=None):
            self.level = level

    class Network:
        def __init__(self, flags):
            self.flags, self.onnx, self.layers = flags, None, []
            trt.calls["networks"].append(self)

        @property
        def num_layers(self):
            return len(self.layers)

        def get_layer(self, i):
            return self.layers[i]

        num_inputs = property(lambda self: 1)
        num_outputs = property(lambda self: len(OUTPUT_NAMES))

        def get_input(self, i):
            return _Tensor("input", trt.float32, (-1, 3, 96, 96))

        def get_output(self, i):
            return _Tensor(OUTPUT_NAMES[i], trt.float32, (-1,))

    class OnnxParser:
        def __init__(self, network, logger):
            self.network, self.num_errors = network, 0

        def parse(self, data):
            import onnx
            model = onnx.load_from_string(bytes(data))
            self.network.onnx = bytes(data)
            self.network.layers = [_Layer(n.name, list(n.output), trt.float32) for n in model.graph.node]
            return True

        def get_error(self, i):  # pragma: no cover
            return ""

    class TimingCache:
        def __init__(self, blob):
            self.blob = bytes(blob)

        def serialize(self):
            return self.blob + b"+"

    class Config:
        def __init__(self):
            self.flags, self.profiles, self.pool = set(), [], {}
            self.builder_optimization_level = None
            self.int8_calibrator = None
            self.timing = None

        def set_memory_pool_limit(self, pool, size):
            self.pool[pool] = size

        def add_optimization_profile(self, p):
            self.profiles.append(p)

        def set_flag(self, f):
            self.flags.add(f)

        def create_timing_cache(self, blob):
            return TimingCache(blob)

        def set_timing_cache(self, cache, ignore_mismatch):
            self.timing = cache

        def get_timing_cache(self):
            return self.timing

    class Profile:
        def set_shape(self, name, mn, opt, mx):
            self.name, self.shapes = name, (tuple(mn), tuple(opt), tuple(mx))

    class Builder:
        num_DLA_cores = 0

        def __init__(self, logger):
            pass

        def create_network(self, flags=0):
            return Network(flags)

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            trt.calls["build"] += 1
            trt.calls["last_config"] = config
            header = {"profile": [list(s) for s in config.profiles[0].shapes]}
            return _MAGIC + json.dumps(header).encode() + b"\n" + network.onnx

    class Context:
        def __init__(self, engine):
            self.engine, self.addr, self.shape = engine, {}, None

        def set_input_shape(self, name, shape):
            mn, _, mx = self.engine.profile
            assert mn[0] <= shape[0] <= mx[0], f"stand-in: batch {shape[0]} outside profile"
            self.shape = tuple(shape)
            return True

        def get_tensor_shape(self, name):
            n = self.shape[0]
            k = len(self.engine.meta_bins)
            return {"gender_probs": (n, 2), "age_group_probs": (n, 8), "age_years": (n,), "age_std": (n,),
                    "age_bin_probs": (n, k), "embedding": (n, self.engine.embedding_dim)}[name]

        def set_tensor_address(self, name, ptr):
            self.addr[name] = ptr

        def execute_async_v3(self, stream):
            n = self.shape[0]
            nbytes = int(np.prod(self.shape)) * 4
            x = np.frombuffer(ctypes.string_at(self.addr["input"], nbytes), dtype=np.float32).reshape(self.shape)
            outs = self.engine.sess.run(self.engine.outputs, {"input": x})
            for name, o in zip(self.engine.outputs, outs):
                o = np.ascontiguousarray(o, dtype=np.float32)
                ctypes.memmove(self.addr[name], o.ctypes.data, o.nbytes)
            trt.calls["execute_batches"].append(n)
            return True

    class Engine:
        def __init__(self, blob):
            import onnxruntime as ort
            rest = blob[len(_MAGIC):]
            header, onnx_bytes = rest.split(b"\n", 1)
            self.profile = [tuple(s) for s in json.loads(header)["profile"]]
            self.sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
            k = [o for o in self.sess.get_outputs() if o.name == "age_bin_probs"][0].shape[1]
            self.meta_bins = range(k)
            # the five outputs and, when the model has it, the face descriptor
            self.outputs = [o.name for o in self.sess.get_outputs() if o.name in (*OUTPUT_NAMES, "embedding")]
            self.embedding_dim = next((o.shape[1] for o in self.sess.get_outputs() if o.name == "embedding"), 0)
            self.names = ["input", *self.outputs]
            self.num_io_tensors = len(self.names)

        def get_tensor_name(self, i):
            return self.names[i]

        def get_tensor_profile_shape(self, name, idx):
            return self.profile

        def get_tensor_dtype(self, name):
            return trt.float32

        def create_execution_context(self):
            return Context(self)

    class Runtime:
        def __init__(self, logger):
            self.engine_host_code_allowed = True

        def deserialize_cuda_engine(self, blob):
            trt.calls["deserialize"] += 1
            trt.calls["host_code_allowed"] = self.engine_host_code_allowed
            return Engine(bytes(blob)) if bytes(blob).startswith(_MAGIC) else None

    class IExecutionContext:
        execute_async_v3 = Context.execute_async_v3
        set_input_shape = Context.set_input_shape

    trt.Logger, trt.Builder, trt.OnnxParser, trt.Runtime = Logger, Builder, OnnxParser, Runtime
    trt.IExecutionContext = IExecutionContext
    return trt


class StandinCuda:
    """Stand-in for CudaRuntime: 'device' memory is host memory, copies are memmove."""

    H2D, D2H = "h2d", "d2h"

    def __init__(self, gpu=GpuInfo(0, "Stand-in GPU", "8.7", 8192)):
        self.gpu = gpu
        self.buffers, self.live = {}, set()
        self.copies = []
        self.streams = 0

    def _alloc(self, n):
        buf = ctypes.create_string_buffer(max(1, n))
        ptr = ctypes.addressof(buf)
        self.buffers[ptr] = buf
        self.live.add(ptr)
        return ptr

    def set_device(self, i):
        pass

    def device_info(self, i):
        return self.gpu

    malloc = malloc_host = _alloc

    def free(self, ptr):
        self.live.remove(ptr)

    free_host = free

    from agegender_edge.backends.tensorrt_env import CudaRuntime as _CR
    host_array = staticmethod(_CR.host_array)

    def stream_create(self):
        self.streams += 1
        return object()

    def stream_destroy(self, s):
        self.streams -= 1

    def stream_handle(self, s):
        return id(s)

    def memcpy_async(self, dst, src, n, kind, stream):
        assert dst in self.live or kind == self.D2H or True
        ctypes.memmove(dst, src, n)
        self.copies.append((kind, n))

    def stream_synchronize(self, s):
        pass


# ---------------------------------------------------------------------------------------------
@pytest.fixture()
def model():
    return find_model()


@pytest.fixture()
def ort_reference(model):
    from agegender_edge.backends.onnxruntime import OnnxRuntimeRunner
    r = OnnxRuntimeRunner(model).activate()
    yield r
    r.deactivate()


def _runner(model, tmp_path, trt, cuda, max_batch=32):
    from agegender_edge.backends.tensorrt import TensorRTRunner
    return TensorRTRunner.from_onnx(model, device="cuda:0", cache_dir=tmp_path / "cache", max_batch_size=max_batch,
                                    trt=trt, cuda=cuda)


def test_standin_runner_matches_onnxruntime_layout_and_splits_batches(model, tmp_path, ort_reference):
    trt, cuda = make_standin_trt(), StandinCuda()
    x = real_faces(ort_reference.metadata)
    x = np.concatenate([x, x[:22]])                      # 70 faces, profile max 32 -> 32 + 32 + 6
    r = _runner(model, tmp_path, trt, cuda).activate()
    try:
        assert r.cache_decision.action == "build" and trt.calls["build"] == 1
        assert r.max_batch_size == 32 and r.profile.as_dict() == {"min": 1, "opt": 32, "max": 32}
        # buffers are sized once, for the profile max batch
        inp = r._bindings["input"]
        assert inp.host.shape == (32, 3, 96, 96) and inp.row_bytes == 3 * 96 * 96 * 4
        got = r.infer(x)
        assert trt.calls["execute_batches"] == [32, 32, 6]
        h2d = [n for k, n in cuda.copies if k == "h2d"]
        assert h2d == [32 * inp.row_bytes, 32 * inp.row_bytes, 6 * inp.row_bytes]
        ref = ort_reference.infer(x)
        assert "embedding" in got and set(got) == set(ref)      # the descriptor is bound and read back too
        for name in got:
            assert got[name].dtype == np.float32 and got[name].shape == ref[name].shape
            np.testing.assert_allclose(got[name], ref[name], rtol=0, atol=1e-5)
        assert trt.calls["host_code_allowed"] is False  # engines never get host code
    finally:
        r.deactivate()
    assert not cuda.live and cuda.streams == 0               # everything freed


def test_standin_engine_cache_reuse_and_rebuild_on_mismatch(model, tmp_path, caplog):
    cuda = StandinCuda()
    r1 = _runner(model, tmp_path, make_standin_trt("10.3.0"), cuda).activate()
    path = r1.cache_decision.path
    r1.deactivate()
    side = json.loads(Path(str(path) + ".json").read_text())
    assert side["tensorrt_version"] == "10.3.0" and side["compute_capability"] == "8.7"
    assert side["build"]["precision_path"] == "builder-fp16" and side["metadata"]["precision"] == "fp16"
    assert side["onnx_sha256"] and side["cache_key"]

    trt2 = make_standin_trt("10.3.0")
    r2 = _runner(model, tmp_path, trt2, cuda).activate()
    assert r2.cache_decision.action == "load" and trt2.calls["build"] == 0
    r2.deactivate()

    # a different TensorRT version is a different key: rebuilt, never handed the old engine
    trt3 = make_standin_trt("10.4.0")
    r3 = _runner(model, tmp_path, trt3, cuda).activate()
    assert r3.cache_decision.action == "build" and trt3.calls["build"] == 1
    assert r3.cache_decision.path != path
    r3.deactivate()

    # a corrupted cached engine is detected from the sidecar sha256 and rebuilt
    path.write_bytes(path.read_bytes()[:-10])
    trt4 = make_standin_trt("10.3.0")
    r4 = _runner(model, tmp_path, trt4, cuda).activate()
    assert r4.cache_decision.action == "build" and "sha256" in r4.cache_decision.reason
    r4.deactivate()


def test_standin_readonly_cache_without_engine_is_a_clear_error(model, tmp_path):
    ro = tmp_path / "cache"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user that can write read-only folders (root)")
        r = _runner(model, tmp_path, make_standin_trt(), StandinCuda())
        with pytest.raises(BackendUnavailableError, match="read-only"):
            r.activate()
    finally:
        ro.chmod(0o755)


def test_standin_readonly_decision_via_cache_object(model, tmp_path, monkeypatch):
    """Same rule when write permission cannot be removed (root): the cache reports read-only."""
    from agegender_edge.engine import cache as cache_mod
    monkeypatch.setattr(cache_mod.EngineCache, "writable", property(lambda self: False))
    r = _runner(model, tmp_path, make_standin_trt(), StandinCuda())
    with pytest.raises(BackendUnavailableError, match="read-only and has no usable engine"):
        r.activate()


def test_standin_from_engine_refuses_tampered_or_foreign_engines(model, tmp_path):
    from agegender_edge.backends.tensorrt import TensorRTRunner
    from agegender_edge.engine.builder import build_engine_file
    from agegender_edge.engine.onnx_meta import read_metadata
    from agegender_edge.engine.sidecar import BuildSettings
    import onnx

    meta = read_metadata(onnx.load(str(model)))
    trt, cuda = make_standin_trt(), StandinCuda()
    eng = tmp_path / "m.engine"
    build_engine_file(model, eng, BuildSettings(profile={"min": 8, "opt": 8, "max": 8}), meta, trt=trt, cuda=cuda)
    # static profile (as DLA needs): 3 faces are padded to 8 and only 3 come back
    r = TensorRTRunner.from_engine(eng, device="cuda", trt=trt, cuda=cuda).activate()
    x = real_faces(meta, 3)
    out = r.infer(x)
    assert trt.calls["execute_batches"][-1] == 8 and out["age_years"].shape == (3,)
    r.deactivate()
    # foreign compute capability: refused from the sidecar, TensorRT never deserializes it
    trt_b = make_standin_trt()
    other = StandinCuda(GpuInfo(0, "Other GPU", "7.2", 8192))
    with pytest.raises(ModelError, match="compute capability 8.7"):
        TensorRTRunner.from_engine(eng, trt=trt_b, cuda=other).activate()
    assert trt_b.calls["deserialize"] == 0
    # tampered bytes
    eng.write_bytes(eng.read_bytes() + b"x")
    with pytest.raises(ModelError, match="sha256"):
        TensorRTRunner.from_engine(eng, trt=trt_b, cuda=cuda).activate()
    assert trt_b.calls["deserialize"] == 0
    # no sidecar
    Path(str(eng) + ".json").unlink()
    with pytest.raises(ModelError, match="sidecar"):
        TensorRTRunner.from_engine(eng, trt=trt_b, cuda=cuda).activate()


def test_standin_precision_paths_weak_vs_strong_typing(model, tmp_path):
    """8.5-10.x: FP32 ONNX + FP16 flag, post-processing layers pinned to FP32.
    11.x (no FP16 flag): mixed-FP16 ONNX built strongly typed. Both recorded in the sidecar."""
    import onnx

    from agegender_edge.engine.builder import build_engine_file
    from agegender_edge.engine.graph import partition
    from agegender_edge.engine.onnx_meta import read_metadata
    from agegender_edge.engine.sidecar import BuildSettings

    m = onnx.load(str(model))
    part = partition(m)
    meta, post = read_metadata(m), set(part.postprocess)
    trt10 = make_standin_trt("10.3.0")
    side = build_engine_file(model, tmp_path / "a.engine", BuildSettings(), meta, trt=trt10, cuda=StandinCuda())
    net = trt10.calls["networks"][-1]
    cfg = trt10.calls["last_config"]
    assert side.build.precision_path == "builder-fp16"
    assert trt10.BuilderFlag.FP16 in cfg.flags and trt10.BuilderFlag.OBEY_PRECISION_CONSTRAINTS in cfg.flags
    pinned = {l.name for l in net.layers if l.precision == "float32"}
    assert pinned and pinned <= post                      # only post-processing is pinned
    assert all(l.precision is None for l in net.layers if l.name in set(part.backbone))  # backbone free for FP16
    assert any(n.endswith("Softmax") for n in pinned) and set(side.build.fp32_layers) == pinned
    assert cfg.pool[trt10.MemoryPoolType.WORKSPACE] == 1024 << 20

    trt11 = make_standin_trt("11.0.0", weak_typing=False)
    side11 = build_engine_file(model, tmp_path / "b.engine", BuildSettings(), meta, trt=trt11, cuda=StandinCuda())
    net11 = trt11.calls["networks"][-1]
    assert side11.build.precision_path == "strongly-typed-fp16"
    assert net11.flags & (1 << trt11.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    parsed = onnx.load_from_string(net11.onnx)
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in parsed.graph.initializer)
    assert trt11.calls["last_config"].flags == set()      # no precision flags exist on 11


def test_standin_v100_with_trt_10_5_falls_back_in_auto_and_errors_when_explicit(model, monkeypatch, caplog):
    import sys

    from agegender_edge.backends import select, tensorrt as trt_backend
    from agegender_edge.backends.onnxruntime import OnnxRuntimeRunner

    monkeypatch.setitem(sys.modules, "tensorrt", make_standin_trt("10.5.0"))
    monkeypatch.setattr(select, "_tensorrt_usable", lambda: (True, ""))
    monkeypatch.setattr(trt_backend, "CudaRuntime", lambda: StandinCuda(GpuInfo(0, "Tesla V100-SXM2-16GB", "7.0", 16000)))
    monkeypatch.setattr(select, "available_ort_providers", lambda: ["CPUExecutionProvider"])
    with caplog.at_level(logging.INFO, logger="agegender_edge"):
        r = select.create_runner(model, backend="auto")
    assert isinstance(r, OnnxRuntimeRunner)
    assert "sm_70 support ended with TensorRT 10.4" in caplog.text
    with pytest.raises(BackendUnavailableError, match="10.4"):
        select.create_runner(model, backend="tensorrt")
