"""The real TensorRT Python bindings from PyPI, importable on a machine without TensorRT.

The ``tensorrt*-bindings`` wheels hold only the pybind11 module (``tensorrt_bindings/tensorrt.so``);
it links against ``libnvinfer`` / ``libnvonnxparser`` (and on 8.x ``libnvparsers``), which come in
separate multi-GB library wheels that cannot be installed here. The module itself only needs those
libraries' C entry points to be present at load time (``createInferBuilder_INTERNAL`` ...;
``nm -D --undefined-only tensorrt.so``): stand-in shared objects exporting them (each returns
NULL / 0, so ``trt.Builder(logger)`` raises "factory function returned nullptr") are compiled here
with the system C compiler. Everything Python-visible is then the real thing: classes, methods and
their pybind11 signatures, enum members and values, properties and their setters.

Wheels are downloaded once with pip into ``$AGEGENDER_EDGE_TRT_WHEELS`` (default
``~/.cache/agegender-edge-trt-wheels``, or under ``$XDG_CACHE_HOME``) and reused.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from packaging.requirements import Requirement
from packaging.utils import parse_wheel_filename
from packaging.version import Version

# C entry points the bindings' tensorrt.so imports (8.6.1, 10.3.0, 10.16.1.11, 11.4.0.106, read
# with nm -D); a symbol a newer release adds is picked up from the loader's error and stubbed too.
BASE_SYMBOLS = [
    "createInferBuilder_INTERNAL", "createInferRefitter_INTERNAL", "createInferRuntime_INTERNAL",
    "createNvOnnxParser_INTERNAL", "createNvOnnxParserRefitter_INTERNAL", "getBuilderPluginRegistry",
    "getNvOnnxParserVersion", "getPluginRegistry", "initLibNvInferPlugins",
    # 8.x links the UFF / Caffe parsers (libnvparsers): C++ functions, exported by mangled name
    "_ZN11nvuffparser15createUffParserEv", "_ZN11nvuffparser8FieldMapC1EPKcPKvNS_9FieldTypeEi",
    "_ZN14nvcaffeparser117createCaffeParserEv", "_ZN14nvcaffeparser123shutdownProtobufLibraryEv",
]
BASE_LIBRARIES = ["libnvinfer", "libnvonnxparser", "libnvinfer_plugin", "libnvparsers"]


class BindingsUnavailable(RuntimeError):
    """The registry could not be reached and no cached wheel matches (the only reason to skip)."""


@dataclass(frozen=True)
class RealBindings:
    requirement: str       # what was asked for, e.g. "tensorrt-cu12-bindings>=10.4,<11"
    version: str           # tensorrt_bindings.__version__ of the wheel, e.g. "10.16.1.11"
    wheel: Path
    site_dir: Path         # holds tensorrt_bindings/
    lib_dir: Path          # stand-in libnvinfer.so.N ...

    def env(self, repo_root: Path) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(self.site_dir), str(repo_root)])
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(self.lib_dir), env.get("LD_LIBRARY_PATH")]))
        return env


def cache_dir() -> Path:
    env = os.environ.get("AGEGENDER_EDGE_TRT_WHEELS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "agegender-edge-trt-wheels"


def _python_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def _cached_wheel(req: Requirement, folder: Path) -> Optional[Path]:
    """Newest wheel in ``folder`` satisfying ``req`` for this Python (used when pip cannot reach
    the registry)."""
    best = None
    for w in folder.glob("*.whl"):
        try:
            name, version, _, tags = parse_wheel_filename(w.name)
        except Exception:
            continue
        if name != req.name.replace("_", "-").lower() or version not in req.specifier:
            continue
        if not any(t.interpreter == _python_tag() for t in tags):
            continue
        if best is None or version > best[0]:
            best = (version, w)
    return best[1] if best else None


def download(requirement: str, folder: Path) -> Path:
    """The wheel pip picks for ``requirement`` (newest matching), downloaded once into ``folder``."""
    req = Requirement(requirement)
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "--dest", str(folder), requirement]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        out = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        proc, out = None, f"pip download timed out ({exc})"
    if proc is not None and proc.returncode == 0:
        m = re.findall(r"(?:Saved|File was already downloaded) (\S+\.whl)", out)
        if m:
            return Path(m[-1])
        found = _cached_wheel(req, folder)
        if found:
            return found
    cached = _cached_wheel(req, folder)
    if cached is not None:
        return cached
    unreachable = ("Could not fetch URL", "Max retries exceeded", "NewConnectionError", "Temporary failure in name resolution",
                   "Network is unreachable", "timed out", "ConnectionError", "ProxyError")
    if any(s in out for s in unreachable):
        raise BindingsUnavailable(f"PyPI unreachable and no cached wheel for {requirement} in {folder}: {out[-400:]}")
    raise RuntimeError(f"pip download {requirement} failed (rc={proc and proc.returncode}):\n{out[-2000:]}")


def _extract(wheel: Path) -> Path:
    site = wheel.parent / "site" / wheel.stem
    marker = site / ".complete"
    if not marker.is_file():
        if site.exists():
            shutil.rmtree(site)
        with zipfile.ZipFile(wheel) as z:
            z.extractall(site)
        marker.write_text("ok")
    return site


def _compiler() -> str:
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    raise RuntimeError("the TensorRT conformance tests need a C compiler (cc/gcc/clang) to build the stand-in "
                       "libnvinfer/libnvonnxparser; install gcc")


def _build_libs(lib_dir: Path, major: str, symbols: list[str], libraries: list[str]) -> None:
    lib_dir.mkdir(parents=True, exist_ok=True)
    src = lib_dir / "trt_entry_points.c"
    body = ["/* stand-in TensorRT entry points: every function returns 0 / NULL */"]
    body += [f"void* {s}(void) {{ return 0; }}" for s in sorted(set(symbols))]
    src.write_text("\n".join(body) + "\n")
    cc = _compiler()
    for lib in sorted(set(libraries)):
        name = f"{lib}.so.{major}"
        subprocess.run([cc, "-shared", "-fPIC", "-O0", "-o", str(lib_dir / name), f"-Wl,-soname,{name}", str(src)],
                       check=True, capture_output=True, text=True)


def _import_check(site: Path, lib_dir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(site), LD_LIBRARY_PATH=str(lib_dir))
    code = "import json, tensorrt_bindings as t; print(json.dumps(t.__version__))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def prepare(requirement: str, folder: Optional[Path] = None) -> RealBindings:
    folder = folder or cache_dir()
    wheel = download(requirement, folder)
    _, wheel_version, _, _ = parse_wheel_filename(wheel.name)
    major = str(Version(str(wheel_version)).major)
    site = _extract(wheel)
    lib_dir = folder / "stub-libs" / wheel.stem
    symbols, libraries = list(BASE_SYMBOLS), list(BASE_LIBRARIES)
    state = lib_dir / "state.json"
    if state.is_file():
        saved = json.loads(state.read_text())
        symbols, libraries = saved["symbols"], saved["libraries"]
    else:
        _build_libs(lib_dir, major, symbols, libraries)
    for _ in range(20):   # add what the loader says is missing, rebuild, retry
        proc = _import_check(site, lib_dir)
        if proc.returncode == 0:
            state.write_text(json.dumps({"symbols": symbols, "libraries": libraries}))
            return RealBindings(requirement, json.loads(proc.stdout.strip().splitlines()[-1]), wheel, site, lib_dir)
        err = proc.stderr
        sym = re.search(r"undefined symbol: (\w+)", err)
        lib = re.search(r"(lib[\w+-]+)\.so\.\d+: cannot open shared object file", err)
        if sym and sym.group(1) not in symbols:
            symbols.append(sym.group(1))
        elif lib and lib.group(1) not in libraries:
            libraries.append(lib.group(1))
        else:
            raise RuntimeError(f"the real bindings {wheel.name} do not import with stand-in libraries:\n{err[-2000:]}")
        _build_libs(lib_dir, major, symbols, libraries)
    raise RuntimeError(f"{wheel.name}: too many missing entry points")
