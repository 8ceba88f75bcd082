"""--token-file: every route but the health checks (and the page's own files) needs the bearer token."""
from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from .conftest import TOKEN

PROTECTED = [("POST", "/v1/predict"), ("POST", "/v1/predict/batch"), ("GET", "/v1/model"), ("GET", "/metrics"),
             ("GET", "/openapi.json")]


@pytest.fixture(scope="module")
def auth_url(servers) -> str:
    return servers["auth"].url


@pytest.mark.parametrize("method,path", PROTECTED)
def test_protected_routes_need_the_token(auth_url, method, path):
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}):
        r = httpx.request(method, auth_url + path, headers=headers, content=b"x")
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error_type"] == "Unauthorized"


def test_the_token_opens_them(auth_url, photos):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = httpx.post(auth_url + "/v1/predict", content=photos[0].read_bytes(),
                   headers={**auth, "Content-Type": "image/jpeg"}, timeout=60)
    assert r.status_code == 200 and len(r.json()["faces"]) == 1
    assert httpx.get(auth_url + "/v1/model", headers=auth).status_code == 200
    assert httpx.get(auth_url + "/metrics", headers=auth).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/", "/static/app.js"])
def test_health_checks_and_page_need_no_token(auth_url, path):
    assert httpx.get(auth_url + path).status_code == 200


def test_without_token_file_nothing_needs_a_token(client):
    assert client.get("/v1/model").status_code == 200 and client.get("/metrics").status_code == 200


@pytest.mark.parametrize("content,problem", [("", "the token file is empty"), ("short", "at least 16 characters")])
def test_bad_token_file_is_a_usage_error(tmp_path, content, problem):
    token_file = tmp_path / "token"
    token_file.write_text(content)
    r = subprocess.run([sys.executable, "-m", "agegender_edge.cli.main", "serve", "--token-file", str(token_file)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and problem in r.stderr and "Traceback" not in r.stderr
