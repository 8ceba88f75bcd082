"""The `serve` command line (usage errors, lightness) and the client examples against a real server."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

from tests.conftest import REPO

def test_help_loads_no_web_framework():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom agegender_edge.cli.main import cli\n"
            "r = CliRunner().invoke(cli, ['serve', '--help']); assert r.exit_code == 0, r.output\n"
            "assert '--max-batch-delay-ms' in r.output and '--token-file' in r.output\n"
            "print(' '.join(m for m in ('fastapi', 'starlette', 'uvicorn', 'ray', 'prometheus_client', 'torch') "
            "if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def _serve(*args: str):
    from click.testing import CliRunner

    from agegender_edge.cli.main import cli
    return CliRunner().invoke(cli, ["serve", *args])


def test_usage_errors_exit_2(tmp_path):
    for args, problem in ((["--replicas", "2"], "go with --engine ray"), (["--detector", "nope"], "unknown detector"),
                          (["--model", "/no/such/model.onnx"], "model not found"),
                          (["--token-file", str(tmp_path / "missing")], "cannot read the token file")):
        r = _serve(*args)
        assert r.exit_code == 2 and problem in r.output, (args, r.output)


def test_port_in_use_exits_1():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = _serve("--port", str(s.getsockname()[1]))
    assert r.exit_code == 1 and "cannot listen on 127.0.0.1" in r.output, r.output


def test_httpx_example(server, photos):
    example = REPO / "examples" / "serve_client_httpx.py"
    one = subprocess.run([sys.executable, str(example), str(photos[0]), "--url", server.url],
                         capture_output=True, text=True, timeout=60)
    assert one.returncode == 0, one.stderr
    assert one.stdout.startswith(f"{photos[0].name}: 1 face(s)") and "  face 1: " in one.stdout
    many = subprocess.run([sys.executable, str(example), str(photos[0]), str(photos[6]), "--url", server.url],
                          capture_output=True, text=True, timeout=60)
    assert many.returncode == 0, many.stderr
    assert f"{photos[6].name}: " in many.stdout and "  face 3: " in many.stdout


def test_curl_example(server, photos, tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    r = subprocess.run(["bash", str(REPO / "examples" / "serve_client_curl.sh"), str(photos[0]), str(photos[6])],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "URL": server.url, "TMPDIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert '{"status":"ready"}' in r.stdout and f'"source":"{photos[6].name}"' in r.stdout
    assert (tmp_path / "annotated.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert "agegender_faces_total" in r.stdout
