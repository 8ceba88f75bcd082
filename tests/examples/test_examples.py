"""Each example runs as a user would run it (a subprocess), on real images."""
import csv
import os
import subprocess
import sys

import cv2
import pytest

from ..conftest import FACES_48, REPO


def _run(*args, cwd):
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_predict_one_image_astronaut(tmp_path, shipped_model):
    pytest.importorskip("skimage")
    out = tmp_path / "astronaut.jpg"
    r = _run(REPO / "examples" / "predict_one_image.py", "--out", out, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "face 1: female" in r.stdout  # Eileen Collins
    img = cv2.imread(str(out))
    assert img is not None and img.shape == (512, 512, 3)


def test_predict_one_image_writes_nothing_where_it_runs(tmp_path, shipped_model):
    """Without --out the annotated copy goes to the temporary folder, not the working folder
    (README step 1 runs it from the repository root)."""
    pytest.importorskip("skimage")
    cwd, tmp = tmp_path / "repo", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    r = subprocess.run([sys.executable, str(REPO / "examples" / "predict_one_image.py")], cwd=cwd,
                       capture_output=True, text=True, timeout=300, env={**os.environ, "TMPDIR": str(tmp)})
    assert r.returncode == 0, r.stderr
    assert list(cwd.iterdir()) == []
    assert f"annotated image: {tmp / 'astronaut_annotated.jpg'}" in r.stdout
    assert cv2.imread(str(tmp / "astronaut_annotated.jpg")).shape == (512, 512, 3)


def test_predict_folder_to_csv(tmp_path, shipped_model):
    out = tmp_path / "faces.csv"
    r = _run(REPO / "examples" / "predict_folder_to_csv.py", FACES_48, out, "--detector", "none", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 48 and all(row["gender"] in ("female", "male") and not row["error"] for row in rows)
    # labels are in the file names ({age}_{gender}_...; UTKFace 0 = male): most genders must agree
    agree = sum((row["file"].split("_")[1] == "1") == (row["gender"] == "female") for row in rows)
    assert agree >= 36
