"""FFmpeg / OpenCV / libpng lines go to the SDK's logging (issue 21): on real broken files the
default stderr holds only the SDK's own lines; ``-v`` shows the libraries' lines as
``agegender_edge.native`` log records. Run as subprocesses: the capture works on descriptor 2."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from ..conftest import FIXTURES


def run(*args):
    return subprocess.run([sys.executable, "-m", "agegender_edge.cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def truncated_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("broken") / "cut.png"
    ok, buf = cv2.imencode(".png", cv2.imread(str(FIXTURES / "multi_face_canvas_0.jpg")))
    path.write_bytes(buf.tobytes()[: len(buf) // 2])
    return path


@pytest.fixture(scope="module")
def truncated_mp4(tmp_path_factory):
    folder = tmp_path_factory.mktemp("broken")
    whole = folder / "whole.mp4"
    w = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for i in range(20):
        w.write(np.full((120, 160, 3), i * 10, np.uint8))
    w.release()
    cut = folder / "cut.mp4"
    data = whole.read_bytes()
    assert len(data) > 1000
    cut.write_bytes(data[: len(data) // 2])    # the moov atom (at the end for mp4v) is gone
    return cut


def test_truncated_png_gives_only_the_sdk_lines(truncated_png):
    p = run("predict", truncated_png, "--format", "json")
    assert p.returncode == 1
    assert p.stderr.splitlines() == [f"error: {truncated_png}: not a decodable PNG image (corrupt or truncated)",
                                     "0/1 images processed, 0 faces"]
    verbose = run("-v", "predict", truncated_png, "--format", "json")
    assert verbose.returncode == 1
    native = [line for line in verbose.stderr.splitlines() if line.startswith("INFO agegender_edge.native: ")]
    assert any("libpng" in line for line in native), verbose.stderr


def test_truncated_mp4_gives_one_line(truncated_mp4):
    p = run("video", truncated_mp4)
    assert p.returncode == 1 and p.stdout == ""
    [line] = p.stderr.splitlines()
    assert line.startswith(f"error: {truncated_mp4}: ")
    verbose = run("-v", "video", truncated_mp4)
    native = [line for line in verbose.stderr.splitlines() if line.startswith("INFO agegender_edge.native: ")]
    assert any("moov atom not found" in line for line in native), verbose.stderr


def test_python_errors_are_not_hidden(tmp_path):
    """A Python-level failure still prints its traceback on the real stderr (only native lines
    are routed): the capture must never swallow the SDK's or Python's own output."""
    code = ("import sys\n"
            "from agegender_edge.cli.native_output import capture_native_stderr\n"
            "assert capture_native_stderr()\n"
            "import os; os.write(2, b'native line\\n')\n"
            "print('python line', file=sys.stderr)\n"
            "raise RuntimeError('boom')\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "python line" in p.stderr and "RuntimeError: boom" in p.stderr and "Traceback" in p.stderr
    assert "native line" not in p.stderr        # logged at INFO: hidden at the default WARNING level
