"""Real servers for the serve tests: `agegender-edge serve --port 0` processes (uvicorn on
127.0.0.1, a free port each), started together once per session, and the in-process Predictor
they are compared with (the same defaults)."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO, SHARED_DATA

if any(importlib.util.find_spec(m) is None for m in ("fastapi", "uvicorn", "prometheus_client", "httpx")):
    collect_ignore_glob = ["test_*.py"]     # the [serve] extra is not installed (the [test] extra installs it)

LFW = SHARED_DATA / "lfw" / "images"
TOKEN = "serve-test-token-0123456789abcdef"
TOLERANCE = 1e-6


class ServerProcess:
    """One `agegender-edge serve` process; ``url`` once it listens."""

    def __init__(self, name: str, args: list[str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        self.proc = subprocess.Popen([sys.executable, "-m", "agegender_edge.cli.main", "serve", "--port", "0", *args],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        self.url = None
        self.lines: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if m:
                self.url = m.group(1)
                self._ready.set()
        self._ready.set()

    def wait_ready(self, timeout: float = 120) -> "ServerProcess":
        self._ready.wait(timeout)
        if self.url is None:
            self.stop()
            pytest.fail(f"server {self.name} did not start (rc {self.proc.poll()}):\n{''.join(self.lines)[-3000:]}")
        return self

    @property
    def host_port(self) -> tuple[str, int]:
        host, port = self.url.rsplit("//", 1)[1].split(":")
        return host, int(port)

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> int:
        self.terminate()
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


# name -> extra options; all start at once (their model loads overlap)
CONFIGS = {
    # close to the defaults; small limits so the limit tests are quick
    "default": ["--max-body-mb", "2", "--max-batch-images", "8", "--header-timeout-s", "2", "--body-timeout-s", "2"],
    # authentication, and a batch delay long enough that concurrent requests surely share a batch
    "auth": ["--token-file", "{token_file}", "--max-batch-delay-ms", "250"],
    # a tiny queue; images wait longer than the request timeout
    "tiny_queue": ["--max-queue", "2", "--max-batch-delay-ms", "3000", "--request-timeout-s", "2"],
    # for the graceful-shutdown test: requests stay in flight for a while
    "shutdown": ["--max-batch-delay-ms", "1000"],
}


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    work = tmp_path_factory.mktemp("serve")
    token_file = work / "token"
    token_file.write_text(TOKEN + "\n")
    procs = {name: ServerProcess(name, [a.format(token_file=token_file) for a in args], work)
             for name, args in CONFIGS.items()}
    try:
        yield {name: p.wait_ready() for name, p in procs.items()}
    finally:
        for p in procs.values():
            p.stop()


@pytest.fixture(scope="session")
def server(servers) -> ServerProcess:
    return servers["default"]


@pytest.fixture(scope="session")
def client(server):
    import httpx
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def reference_predictor():
    """What the servers run: the Predictor's defaults (shipped model, YuNet)."""
    from agegender_edge import Predictor
    with Predictor() as p:
        yield p


@pytest.fixture(scope="session")
def photos() -> list[Path]:
    """6 LFW photos (one face each), the two multi-face canvases, and a picture without a face."""
    return sorted(LFW.glob("*.jpg"))[:6] + [FIXTURES / "multi_face_canvas_0.jpg", FIXTURES / "multi_face_canvas_1.jpg"]


@pytest.fixture(scope="session")
def blank_png(tmp_path_factory) -> Path:
    import cv2
    import numpy as np
    path = tmp_path_factory.mktemp("blank") / "blank_wall.png"
    cv2.imwrite(str(path), np.full((240, 320, 3), 128, np.uint8))
    return path


def expected_json(predictor, data: bytes, source: str) -> dict:
    """``Predictor.predict`` on the same bytes, serialised as the server (and `predict --format json`) does."""
    from agegender_edge.serve.payload import rename_result, result_dict
    model = {"name": predictor.metadata.name, "file": predictor.model_path.name}
    return json.loads(json.dumps(result_dict(rename_result(predictor.predict(data), 0, source), model)))


def max_abs_diff(a, b, path: str = "") -> float:
    """Largest difference between two JSON values; structure and non-float values must be equal."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (path, a, b)
        return max([max_abs_diff(a[k], b[k], f"{path}.{k}") for k in a] or [0.0])
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (path, a, b)
        return max([max_abs_diff(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b))] or [0.0])
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b))
    assert a == b, (path, a, b)
    return 0.0


def metric(text: str, name: str, **labels) -> float:
    """The sum of a metric's samples whose labels include ``labels``, from Prometheus text."""
    from prometheus_client.parser import text_string_to_metric_families
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def wait_until(predicate, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")
