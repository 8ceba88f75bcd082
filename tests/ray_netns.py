"""Running a Ray workload in a loopback-only network namespace, shared by the Ray tests
(tests/label/test_ray_engine.py, tests/serve/test_ray_serve.py).

Ray's local cluster binds the machine's address, never 127.0.0.1, so each workload runs as one
subprocess under ``unshare -n`` (needs root). CI runs as root and sets
AGEGENDER_EDGE_REQUIRE_RAY_TESTS=1, so there a missing prerequisite fails instead of skipping.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Ray's message when a new raylet misses its fixed 30 s to register (a machine shared with heavy
# jobs can miss it once); the SDK's own errors quote it, so tests retry on it and on nothing else
RAY_START_TIMEOUT = "timed out during startup"


def require_loopback_netns(*modules: str) -> None:
    """Skip (or fail, where the Ray tests are required) unless ``modules`` import and a
    loopback-only network namespace can be made."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    reason = (f"{', '.join(missing)} not installed (pip install -e '.[distributed]')" if missing
              else "unshare (util-linux) is not installed" if shutil.which("unshare") is None
              else "needs root for a loopback-only network namespace (unshare -n)" if os.geteuid() != 0
              else "")
    if reason:
        if os.environ.get("AGEGENDER_EDGE_REQUIRE_RAY_TESTS") == "1":
            pytest.fail(f"Ray tests required here but cannot run: {reason}")
        pytest.skip(reason)


def run_in_loopback_netns(script: Path, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """``python script args`` under ``unshare -n`` with a short private RAY_TMPDIR: Ray's unix
    socket paths must stay under 108 bytes, and the test cluster must not share /tmp/ray (its
    "current cluster" file, session folders) with anyone."""
    ray_tmp = tempfile.mkdtemp(prefix="agr-")
    env = dict(os.environ, RAY_TMPDIR=ray_tmp, RAY_USAGE_STATS_ENABLED="0",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    try:
        return subprocess.run(["unshare", "-n", sys.executable, str(script), *map(str, args)], env=env,
                              capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
