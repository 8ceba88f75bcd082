"""The environment recorded in every benchmark report.

Numbers without the machine they were taken on are worthless, and so are numbers taken on a
busy machine: the load average is recorded before and after, and a warning is raised when
other processes were using the CPU.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Optional

from .._version import __version__

PACKAGES = ("agegender-edge", "numpy", "onnxruntime", "onnxruntime-gpu", "opencv-python-headless",
            "opencv-python", "torch", "tensorrt", "onnx", "matplotlib")
# The instruction-set flags that decide ONNX Runtime's speed (INT8 above all: VNNI / AMX): every
# avx512* and amx* flag the CPU reports is recorded, plus these.
CPU_FLAGS = ("avx2", "fma", "avx_vnni", "avx_vnni_int8", "f16c", "neon", "asimd", "asimddp", "i8mm", "sve")
CPU_FLAG_PREFIXES = ("avx512", "amx")


def cpu_flags_of(flags_line: str) -> list[str]:
    """The speed-relevant flags of a /proc/cpuinfo ``flags`` (x86) or ``Features`` (Arm) line, sorted."""
    have = set(flags_line.split())
    return sorted(f for f in have if f in CPU_FLAGS or f.startswith(CPU_FLAG_PREFIXES))


def cpu_isa(flags) -> str:
    """The CPU family for speed tables: the best INT8 / vector path the flags offer."""
    f = set(flags)
    for name, needed in (("AMX-INT8", "amx_int8"), ("AVX-512 VNNI", "avx512_vnni"), ("AVX-512", "avx512f"),
                         ("AVX-VNNI", "avx_vnni"), ("AVX2", "avx2"), ("Arm dot product", "asimddp"), ("NEON", "asimd")):
        if needed in f:
            return name
    return "baseline"


def _cpuinfo() -> dict:
    info: dict = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return info
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key in ("model name", "Model", "Hardware") and "model" not in info:
            info["model"] = value
        elif key == "cpu family" and "family" not in info:
            info["family"] = value
        elif key == "model" and "model_id" not in info:
            info["model_id"] = value
        elif key in ("flags", "Features") and "flags" not in info:
            info["flags"] = cpu_flags_of(value)
        elif key == "cpu MHz" and "mhz" not in info:
            try:
                info["mhz"] = float(value)
            except ValueError:
                pass
    return info


def package_versions(names=PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def gpu_info() -> list[str]:
    """GPU names from nvidia-smi (empty when there is none); never imports CUDA."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def ort_providers() -> list[str]:
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return list(ort.get_available_providers())


def load_average() -> Optional[list[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


def capture_environment(threads: Optional[int] = None, precision: Optional[str] = None, **extra) -> dict:
    cpu = _cpuinfo()
    env = {
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpu_model": cpu.get("model") or platform.processor() or "unknown",
        "cpu_family_model": f"{cpu.get('family', '?')}/{cpu.get('model_id', '?')}",
        "cpu_flags": cpu.get("flags", []),
        "cpu_isa": cpu_isa(cpu.get("flags", [])),    # e.g. "AMX-INT8", "AVX2": figures hold per CPU family
        "cpu_mhz": cpu.get("mhz"),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "threads": threads,
        "precision": precision,
        "gpus": gpu_info(),
        "ort_providers": ort_providers(),
        "packages": package_versions(),
        "agegender_edge": __version__,
        "load_average_start": load_average(),
    }
    env.update(extra)
    return env


def finish_environment(env: dict) -> dict:
    """Record the load at the end and warn when the machine was busy during the run."""
    env["load_average_end"] = load_average()
    loads = [x for x in (env.get("load_average_start") or [])[:1] + (env.get("load_average_end") or [])[:1]]
    cpus = env.get("usable_cpus") or 1
    # our own benchmark keeps up to ``cpus`` threads busy; more than that means someone else ran
    env["busy_warning"] = bool(loads) and max(loads) > cpus + 0.5
    return env
