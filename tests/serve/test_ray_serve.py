"""`agegender-edge serve --engine ray --replicas 2` on a real local Ray cluster inside a
loopback-only network namespace (tests/serve/ray_serve_scenario.py under ``unshare -n``): the two
replicas answer what the local server answers. Needs root; CI sets AGEGENDER_EDGE_REQUIRE_RAY_TESTS=1."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .conftest import TOLERANCE, max_abs_diff

pytestmark = pytest.mark.ray

SCENARIO = Path(__file__).with_name("ray_serve_scenario.py")
RAY_START_TIMEOUT = "timed out during startup"   # Ray's message; the CLI's error quotes it
REPO = Path(__file__).resolve().parents[2]


def _unavailable() -> str:
    import importlib.util
    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("ray.serve") is None:
        return "ray[serve] is not installed (pip install -e '.[distributed]')"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    if os.geteuid() != 0:
        return "needs root for a loopback-only network namespace (unshare -n)"
    return ""


@pytest.fixture(scope="module")
def ray_report(photos, tmp_path_factory) -> dict:
    reason = _unavailable()
    if reason:
        if os.environ.get("AGEGENDER_EDGE_REQUIRE_RAY_TESTS") == "1":
            pytest.fail(f"Ray tests required here but cannot run: {reason}")
        pytest.skip(reason)
    for attempt in (1, 2):
        work = tmp_path_factory.mktemp("ray_serve")
        ray_tmp = tempfile.mkdtemp(prefix="ags-")        # short: Ray's socket paths must stay < 108 bytes
        env = dict(os.environ, RAY_TMPDIR=ray_tmp, RAY_USAGE_STATS_ENABLED="0",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        try:
            proc = subprocess.run(["unshare", "-n", sys.executable, str(SCENARIO), "--work", str(work),
                                   *map(str, photos)], env=env, capture_output=True, text=True, timeout=480)
        finally:
            shutil.rmtree(ray_tmp, ignore_errors=True)
        log = (work / "serve_ray.log").read_text() if (work / "serve_ray.log").exists() else ""
        # Ray gives a new raylet a fixed 30 s to register; a machine shared with heavy jobs can miss
        # that once (as tests/label/test_ray_engine.py): retry on that failure only
        if proc.returncode == 0 or RAY_START_TIMEOUT not in proc.stdout + proc.stderr + log:
            break
    assert proc.returncode == 0, f"rc {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}\n{log[-3000:]}"
    return json.loads((work / "report.json").read_text())


def test_ray_serve_ran_on_loopback_with_two_replicas(ray_report):
    assert ray_report["interfaces"] == ["lo"] and ray_report["url"].startswith("http://127.0.0.1:")
    assert ray_report["model"]["engine"] == "ray"
    assert len(ray_report["replicas"]) == 2, ray_report["replicas"]
    assert ray_report["exit_code"] == 0


def test_two_replicas_answer_what_the_local_server_answers(ray_report, client, photos):
    local = [client.post("/v1/predict", content=p.read_bytes(), headers={"Content-Type": "image/jpeg"}).json()
             for p in photos]
    for got in (ray_report["single"], ray_report["concurrent"][:len(photos)], ray_report["concurrent"][len(photos):2 * len(photos)]):
        assert max_abs_diff(got, local) < TOLERANCE
    local_batch = client.post("/v1/predict/batch", files=[("image", (p.name, p.read_bytes(), "image/jpeg"))
                                                          for p in photos]).json()
    assert max_abs_diff(ray_report["batch"], local_batch) < TOLERANCE
    assert ray_report["bad"]["status"] == 422 and "not a supported image format" in ray_report["bad"]["body"]["error"]
