"""The install extras resolve to a working set per target (docs/GPU.md, "Install per target").

For the CPU default and each GPU target, ``pip install --dry-run --report`` resolves the core
dependencies plus the target's extra (for the target's platform and Python) and the resolved set
must hold exactly one ONNX Runtime distribution and a cuda-python inside the target's bounds.
TensorRT's own wheels cannot be resolved here (``tensorrt-cu12`` pulls multi-GB library packages
from NVIDIA's index), so the tensorrt* requirements are left out of the resolve and their
specifiers are checked statically against each target's bounds instead.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
ORT = {"onnxruntime", "onnxruntime-gpu"}


@dataclass(frozen=True)
class Target:
    extra: Optional[str]              # None: `pip install .` (the CPU default)
    platforms: tuple[str, ...]        # pip --platform tags; () = this machine
    python: Optional[str]             # pip --python-version; None = this interpreter
    cuda_python: Optional[str]        # bounds cuda-python must resolve within (None: not installed)
    tensorrt: Optional[str]           # the tensorrt* distribution the extra names (None: none, e.g. from JetPack)
    tensorrt_allowed: tuple[str, ...] = ()   # versions its specifier must admit
    tensorrt_refused: tuple[str, ...] = ()   # ... and must refuse (the upper bound)


X86 = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
ARM = ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64")
TARGETS = {
    "cpu": Target(None, (), None, None, None),
    "gpu": Target("gpu", X86, "3.10", ">=12.6,<13", "tensorrt-cu12", ("10.0.1", "10.16.1.11", "11.4.0.106"), ("12.0",)),
    "gpu-v100": Target("gpu-v100", X86, "3.10", ">=12.6,<13", "tensorrt-cu12", ("10.0.1", "10.4.0"), ("10.5.0", "11.0.0.114")),
    "gpu-cu13": Target("gpu-cu13", X86, "3.12", ">=13,<14", "tensorrt-cu13", ("10.13.2.6", "11.4.0.106"), ("12.0",)),
    "jetpack6": Target("jetpack6", ARM, "3.10", ">=12.2,<13", None),   # TensorRT 10.3 comes with JetPack (apt)
}
NETWORK_ERRORS = ("Could not fetch URL", "Max retries exceeded", "NewConnectionError", "Temporary failure in name resolution",
                  "Network is unreachable", "Read timed out", "ConnectTimeout", "ProxyError")


def requirements(extra: Optional[str]) -> list[Requirement]:
    reqs = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    if extra:
        reqs += [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"][extra]]
    return reqs


def is_tensorrt(req: Requirement) -> bool:
    return req.name.lower().startswith("tensorrt")


def resolve(target: Target, tmp_path: Path) -> dict[str, Version]:
    reqs = [str(r) for r in requirements(target.extra) if not is_tensorrt(r)]
    report = tmp_path / f"{target.extra or 'cpu'}.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--disable-pip-version-check",
           "--report", str(report), "--only-binary=:all:"]
    for p in target.platforms:
        cmd += ["--platform", p]
    if target.python:
        cmd += ["--python-version", target.python]
    proc = subprocess.run(cmd + reqs, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        if any(s in out for s in NETWORK_ERRORS):
            if os.environ.get("AGEGENDER_EDGE_REQUIRE_REGISTRY"):   # .ci/run: CI reaches PyPI
                pytest.fail(f"AGEGENDER_EDGE_REQUIRE_REGISTRY is set but PyPI is unreachable: {out[-300:]}")
            pytest.skip(f"PyPI unreachable: {out[-300:]}")
        pytest.fail(f"{target.extra or 'cpu'}: the dependency set does not resolve:\n{out[-3000:]}")
    data = json.loads(report.read_text())
    return {i["metadata"]["name"].lower().replace("_", "-"): Version(i["metadata"]["version"]) for i in data["install"]}


@pytest.mark.parametrize("name", TARGETS)
def test_target_resolves_to_one_onnxruntime_and_a_bounded_cuda_python(name, tmp_path):
    target = TARGETS[name]
    got = resolve(target, tmp_path)
    ort = sorted(ORT & set(got))
    assert len(ort) == 1, f"{name}: want exactly one ONNX Runtime distribution, resolved {ort or 'none'}"
    if target.cuda_python is None:
        assert "cuda-python" not in got
    else:
        v = got.get("cuda-python")
        assert v is not None and v in SpecifierSet(target.cuda_python), \
            f"{name}: cuda-python {v} is outside {target.cuda_python}"
        assert v.major == 12 or (v.major == 13 and name == "gpu-cu13"), \
            "cuda-python 13 has no cuda.cudart and needs an R580+ driver: only the cu13 target may get it"


@pytest.mark.parametrize("name", TARGETS)
def test_tensorrt_specifiers_are_bounded(name):
    target = TARGETS[name]
    trt = [r for r in requirements(target.extra) if is_tensorrt(r)]
    if target.tensorrt is None:
        assert trt == [], f"{name}: TensorRT is not a pip requirement of this target"
        return
    assert [r.name for r in trt] == [target.tensorrt]
    spec = trt[0].specifier
    assert any(s.operator in ("<", "<=", "==", "~=") for s in spec), f"{name}: {trt[0]} has no upper bound"
    for v in target.tensorrt_allowed:
        assert Version(v) in spec, f"{name}: {trt[0]} refuses TensorRT {v}"
    for v in target.tensorrt_refused:
        assert Version(v) not in spec, f"{name}: {trt[0]} admits TensorRT {v}"


def test_no_extra_adds_a_second_onnxruntime_and_every_target_is_documented():
    extras = PYPROJECT["project"]["optional-dependencies"]
    for extra, reqs in extras.items():
        names = {Requirement(r).name.lower() for r in reqs}
        assert not names & ORT, f"[{extra}] adds {names & ORT} beside the core onnxruntime"
    gpu_md = (REPO / "docs" / "GPU.md").read_text()
    for name, target in TARGETS.items():
        if target.extra:
            assert target.extra in extras, f"pyproject.toml has no [{target.extra}] extra"
            row = next((line for line in gpu_md.splitlines() if f"[{target.extra}]" in line and line.startswith("|")), None)
            assert row is not None, f"docs/GPU.md has no table row for [{target.extra}]"
            assert target.cuda_python in row, f"docs/GPU.md row for [{target.extra}] does not state cuda-python {target.cuda_python}"
