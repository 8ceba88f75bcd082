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
    # --target: older pip (23.2.1, what `python3 -m venv` carries here) refuses --platform / --python-version
    # unless installing into a target folder, even with --dry-run; with --dry-run nothing is written there.
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--target", str(tmp_path / "target"), "--ignore-installed",
           "--quiet", "--disable-pip-version-check", "--report", str(report), "--only-binary=:all:"]
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


# --- the README's test command is CI's ------------------------------------------------------

def _readme_command() -> str:
    proc = subprocess.run([sys.executable, str(REPO / ".ci" / "readme_command.py"), str(REPO / "README.md")],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_ci_runs_the_readme_test_command_and_nothing_else():
    """.ci/run runs README.md's test block as written (it reads it from there) in a stock
    `python3 -m venv`, so CI cannot add or hide an install step the README lacks."""
    command = _readme_command()
    readme = (REPO / "README.md").read_text()
    assert f"<!-- ci:test-command -->\n```bash\n{command}\n```" in readme
    assert "pip install" in command and "pytest" in command
    ci = (REPO / ".ci" / "run").read_text()
    code = [line.split("#", 1)[0].strip() for line in ci.splitlines()]
    code = [c for c in code if c]
    assert 'TEST_COMMAND="$(python3 .ci/readme_command.py README.md)"' in code
    assert 'bash -euo pipefail -c "$TEST_COMMAND"' in code
    assert "python3 -m venv .venv-ci" in code
    steps = [c for c in code if "pip " in c or "pytest" in c or "ensurepip" in c]
    assert steps == [], f".ci/run installs or tests beside the README's command: {steps}"


# --- the wheel carries everything the code loads at run time ----------------------------------

def _build_wheel(tmp_path: Path) -> Path:
    """Build the wheel offline from a copy of the sources (the shared checkout gets no build/)."""
    import shutil

    import setuptools
    if Version(setuptools.__version__) < Version("77"):
        pytest.fail(f"setuptools {setuptools.__version__} < 77 (the build backend pyproject.toml names; the [test] extra installs it)")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "agegender_edge", src / "agegender_edge", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--disable-pip-version-check", "--no-deps",
                           "--no-build-isolation", "--no-index", "-w", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    # e.g. `project.license` as a TOML table (unsupported from 2027-02-18): -v shows the backend's warnings
    warnings = [line.strip() for line in out.splitlines() if "DeprecationWarning" in line or "BuildBackendWarning" in line]
    assert not warnings, f"the build backend warns: {warnings}"
    (wheel,) = (tmp_path / "dist").glob("agegender_edge-*.whl")
    return wheel


@pytest.mark.slow
def test_wheel_installed_outside_the_checkout_has_its_recipes_models_and_licences(tmp_path):
    """`pip install .` users run from site-packages: build the wheel, install it (no deps: they come
    from this environment's site-packages through a .pth) into a fresh venv and run the export
    recipe printout from outside the checkout."""
    import site
    import zipfile

    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    for path in [p.relative_to(REPO).as_posix() for p in (REPO / "agegender_edge").rglob("*")
                 if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]:
        assert path in names, f"{path} is not in the wheel (pyproject.toml [tool.setuptools.package-data])"
    licences = {n.rsplit("/", 1)[-1] for n in names if ".dist-info/licenses/" in n}
    assert {"LICENSE", "LICENSE.yunet", "LICENSE.weights"} <= licences

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    # plain path lines: this environment's .pth files (the editable install's finder) are not run there
    (purelib / "_deps_from_test_env.pth").write_text("\n".join(site.getsitepackages() + [site.getusersitepackages()]) + "\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--disable-pip-version-check",
                           "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AGEGENDER_EDGE_MODEL")}
    where = subprocess.run([str(py), "-c", "import agegender_edge, agegender_edge.install_hint as h; "
                            "print(agegender_edge.__file__); print(h.checkout_root()); print(h.pip_install_extra('distributed'))"],
                           cwd=outside, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    module_file, root, hint = where.stdout.splitlines()
    assert Path(module_file).is_relative_to(purelib) and root == "None", where.stdout
    assert hint == f"pip install '{wheel}[distributed]'"      # the wheel it came from, not an index that lacks it
    model = sorted((purelib / "agegender_edge" / "weights").glob("*.onnx"))[0]
    run = subprocess.run([str(venv / "bin" / "agegender-edge"), "export", "--onnx", str(model), "--format", "engine",
                          "--recipe", "v100-trt10-fp16", "--print-trtexec"],
                         cwd=outside, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("trtexec") and f"--onnx={model}" in run.stdout and "--fp16" in run.stdout
