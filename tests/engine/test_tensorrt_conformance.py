"""The SDK's TensorRT code against the REAL TensorRT Python bindings of 8.6.1, 10.3.x, the newest
10.x and the newest 11.x (no GPU: see trt_wheels.py for how the modules import, trt_probe.py for
what runs against them).

What holds here: every TensorRT name the code uses (collected from the source by AST,
trt_names.py) exists on every version that runs it; feature-detected names exist on some version;
the precision-path choice, network-creation flags, builder-config calls, FP32 pinning, DLA set-up,
INT8 calibrator and runner activation run against each version's real classes, signatures and
enum values. What does not: anything TensorRT does on a GPU (building, running engines).

Wheels are downloaded with pip once and cached (trt_wheels.cache_dir()); the tests skip only when
PyPI cannot be reached and nothing is cached.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.engine import trt_names
from tests.engine.trt_wheels import BindingsUnavailable, prepare


def default_metadata():
    import onnx

    from agegender_edge.engine.onnx_meta import read_metadata
    from agegender_edge.shipped import default_model_path
    return read_metadata(onnx.load(str(default_model_path())), "default model")

VERSIONS = {                      # id -> pip requirement of the bindings wheel
    "8.6.1": "tensorrt-bindings==8.6.1",
    "10.3": "tensorrt-cu12-bindings>=10.3,<10.4",
    "10-newest": "tensorrt-cu12-bindings>=10.4,<11",
    "11-newest": "tensorrt-cu12-bindings>=11,<12",
}
MAJOR = {"8.6.1": 8, "10.3": 10, "10-newest": 10, "11-newest": 11}


@pytest.fixture(scope="session")
def collected() -> trt_names.Collected:
    return trt_names.collect()


@pytest.fixture(scope="session")
def reports(collected, tmp_path_factory) -> dict:
    names = tmp_path_factory.mktemp("trt") / "names.json"
    names.write_text(json.dumps({"module": sorted(collected.names()),
                                 "object_probes": sorted({u.name for u in collected.object_probes})}))
    out = {}
    for vid, req in VERSIONS.items():
        try:
            rb = prepare(req)
        except BindingsUnavailable as exc:
            out[vid] = exc
            continue
        proc = subprocess.run([sys.executable, str(trt_names.REPO / "tests/engine/trt_probe.py"), str(names)],
                              env=rb.env(trt_names.REPO), capture_output=True, text=True, timeout=600,
                              cwd=str(trt_names.REPO))
        assert proc.returncode == 0, f"probe against TensorRT {rb.version} crashed:\n{proc.stderr[-4000:]}"
        out[vid] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def report_of(reports, vid) -> dict:
    r = reports[vid]
    if isinstance(r, BindingsUnavailable):
        if os.environ.get("AGEGENDER_EDGE_REQUIRE_REGISTRY"):   # .ci/run: CI reaches PyPI, a skip would hide a failure
            pytest.fail(f"AGEGENDER_EDGE_REQUIRE_REGISTRY is set but {r}")
        pytest.skip(f"registry unreachable: {r}")
    return r


def calls(report, scenario, prefix):
    return [c for c in report["scenarios"][scenario]["calls"] if c.startswith(prefix)]


@pytest.mark.parametrize("vid", VERSIONS)
def test_every_scenario_runs_on_the_real_api(reports, vid):
    r = report_of(reports, vid)
    assert r["version"].split(".")[0] == str(MAJOR[vid])
    failed = {k: v.get("traceback") or v.get("error") for k, v in r["scenarios"].items() if v.get("ok") is False}
    assert not failed, f"TensorRT {r['version']}: " + "\n".join(f"{k}:\n{v}" for k, v in failed.items())


@pytest.mark.parametrize("vid", VERSIONS)
def test_used_names_exist_where_they_are_used(reports, collected, vid):
    r = report_of(reports, vid)
    feature = collected.feature_detected
    # a name the code uses without checking for it must exist on every version
    absent = sorted(n for n, ok in r["exists"].items() if not ok and n not in feature)
    assert not absent, (f"TensorRT {r['version']} lacks names the SDK uses unconditionally: "
                        + "; ".join(f"trt.{n} ({collected.where(n)})" for n in absent))
    # at run time the code looked up only feature-detected names that this version lacks
    unexpected = sorted(set(r["missing"]) - feature)
    assert not unexpected, f"TensorRT {r['version']}: looked up missing trt.{unexpected} without checking for them"
    probes = {u.name for u in collected.object_probes}
    obj_unexpected = sorted(m for m in r["obj_missing"] if m.split(".", 1)[1] not in probes)
    assert not obj_unexpected, f"TensorRT {r['version']}: the code used {obj_unexpected}, which the real classes lack"


def test_names_are_covered_and_probes_can_succeed(reports, collected):
    rs = [report_of(reports, vid) for vid in VERSIONS]
    looked_up = set().union(*({*r["found"], *r["missing"]} for r in rs))
    not_run = sorted(collected.names() - looked_up)
    assert not not_run, ("TensorRT names the conformance run never reached (extend tests/engine/trt_probe.py): "
                         + "; ".join(f"trt.{n} ({collected.where(n)})" for n in not_run))
    dead = sorted(n for n in collected.feature_detected if not any(r["exists"][n] for r in rs))
    assert not dead, f"feature checks that no tested TensorRT version can pass (typo?): {dead}"
    dead_probes = sorted(n for n in {u.name for u in collected.object_probes}
                         if not any(r["object_probe_exists"][n] for r in rs))
    assert not dead_probes, f"hasattr() probes on TensorRT objects that no version has: {dead_probes}"


EXPECTED_CHOICE = {
    8: {"fp16|cal=False|None": "builder-fp16", "int8|cal=True|None": "int8-calibrated",
        "int8|cal=False|None": "BackendUnavailableError", "fp16|cal=False|strongly-typed-fp16": "BackendUnavailableError",
        "int8|cal=True|int8-qdq": "BackendUnavailableError"},
    10: {"fp16|cal=False|None": "builder-fp16", "int8|cal=True|None": "int8-calibrated", "int8|cal=False|None": "int8-qdq",
         "fp16|cal=False|strongly-typed-fp16": "strongly-typed-fp16", "int8|cal=True|int8-qdq": "int8-qdq"},
    11: {"fp16|cal=False|None": "strongly-typed-fp16", "int8|cal=True|None": "int8-qdq", "int8|cal=False|None": "int8-qdq",
         "fp16|cal=False|builder-fp16": "BackendUnavailableError", "int8|cal=True|int8-calibrated": "BackendUnavailableError"},
}


@pytest.mark.parametrize("vid", VERSIONS)
def test_precision_path_choice(reports, vid):
    r = report_of(reports, vid)
    got = r["scenarios"]["precision_choice"]["result"]
    assert got["fp32|cal=False|None"] == "fp32"
    for key, want in EXPECTED_CHOICE[MAJOR[vid]].items():
        assert got[key] == want, (r["version"], key, got[key])
    env = r["scenarios"]["env"]["result"]
    assert env["has_builder_fp16"] == (MAJOR[vid] < 11) and env["named_tensor_api"] and env["orin"] is None
    assert (env["v100"] is None) == (vid in ("8.6.1", "10.3"))   # sm_70 ended with 10.4


@pytest.mark.parametrize("vid", VERSIONS)
def test_network_creation_flags(reports, vid):
    r = report_of(reports, vid)
    ncf = r["enums"]["NetworkDefinitionCreationFlag"]
    weak = "build:builder-fp16" if MAJOR[vid] < 11 else "build:fp32"
    want_weak = 1 << ncf["EXPLICIT_BATCH"] if MAJOR[vid] < 10 else 0   # required on 8.x, gone in 11
    assert calls(r, weak, "Builder.create_network(") == [f"Builder.create_network({want_weak})"]
    if MAJOR[vid] >= 10:
        want = 1 << ncf["STRONGLY_TYPED"]
        assert want == {10: 2, 11: 1}[MAJOR[vid]]                       # STRONGLY_TYPED is 1 on 10.x, 0 on 11.x
        for path in ("build:strongly-typed-fp16", "build:int8-qdq"):
            assert calls(r, path, "Builder.create_network(") == [f"Builder.create_network({want})"]


@pytest.mark.parametrize("vid", VERSIONS)
def test_builder_config(reports, vid):
    r = report_of(reports, vid)
    flags = r["enums"]["BuilderFlag"]
    if MAJOR[vid] < 11:
        fp16 = calls(r, "build:builder-fp16", "IBuilderConfig.set_flag(")
        assert fp16 == [f"IBuilderConfig.set_flag(<BuilderFlag.FP16: {flags['FP16']}>)",
                        f"IBuilderConfig.set_flag(<BuilderFlag.OBEY_PRECISION_CONSTRAINTS: {flags['OBEY_PRECISION_CONSTRAINTS']}>)"]
        pinned = r["scenarios"]["build:builder-fp16"]
        assert pinned["result"]["fp32_layers"] and "ILayer.precision = <DataType.FLOAT: 0>" in pinned["sets"]
        assert any(c.startswith("ILayer.set_output_type(0, <DataType.FLOAT") for c in pinned["calls"])
        cal = r["scenarios"]["build:int8-calibrated"]
        assert any(s.startswith("IBuilderConfig.int8_calibrator = ") for s in cal["sets"])
        assert r["scenarios"]["calibrator"]["result"] == {"batch_size": 4, "batches": 2, "cache": True}
    else:
        for s in r["scenarios"].values():
            assert not any("set_flag(<BuilderFlag.FP16" in c for c in s.get("calls", []))
    for path in ("build:fp32", "build:dla"):
        assert calls(r, path, "IBuilderConfig.set_memory_pool_limit(<MemoryPoolType.WORKSPACE: 0>")
    dla = r["scenarios"]["build:dla"]
    assert "IBuilderConfig.default_device_type = <DeviceType.DLA: 1>" in dla["sets"] and "IBuilderConfig.DLA_core = 0" in dla["sets"]
    assert f"IBuilderConfig.set_flag(<BuilderFlag.GPU_FALLBACK: {flags['GPU_FALLBACK']}>)" in dla["calls"]
    assert "IBuilderConfig.builder_optimization_level = 3" in r["scenarios"]["build:fp32"]["sets"]


@pytest.mark.parametrize("vid", VERSIONS)
def test_runner_activation_and_inference_calls(reports, vid):
    r = report_of(reports, vid)
    run = r["scenarios"]["runner"]
    assert "Runtime.engine_host_code_allowed = False" in run["sets"]     # 8.6+ has the switch: always off
    assert run["result"]["profile"] == {"min": 1, "opt": 16, "max": 32}
    assert run["result"]["outputs"]["age_bin_probs"] == [40, 101]
    assert len(calls(r, "runner", "IExecutionContext.execute_async_v3(")) == 2       # 40 rows = 32 + 8
    h, w = default_metadata().input.size     # the shipped default's input (150 x 150 since issue 20)
    assert calls(r, "runner", "IExecutionContext.set_input_shape(")[-1] == f"IExecutionContext.set_input_shape('input', (8, 3, {h}, {w}))"
