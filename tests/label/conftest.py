"""Real inputs for the label tests: 300 UTKFace val chips + 3 broken files (as a CSV manifest), a
few real photos with the default detector, and helpers to read and compare label datasets."""
from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, UTKFACE

if importlib.util.find_spec("pyarrow") is None:   # the [distributed] extra is not installed (CI installs it)
    collect_ignore_glob = ["test_*.py"]

LFW = FIXTURES.parent / "lfw" / "images"
N_CHIPS = 300
TOLERANCE = 1e-6


def val_chips(n: int = N_CHIPS) -> list[str]:
    """The first ``n`` val-split chips by file name (deterministic)."""
    with open(UTKFACE / "labels.csv", newline="") as fh:
        names = sorted(r["file"] for r in csv.DictReader(fh) if r["split"] == "val")
    return [str(UTKFACE / "images" / name) for name in names[:n]]


def write_broken_files(folder: Path, good_jpeg: str) -> list[str]:
    """A truncated JPEG, text named .jpg, and an empty file: three different per-image errors."""
    folder.mkdir(parents=True, exist_ok=True)
    truncated, text, empty = folder / "truncated.jpg", folder / "not_an_image.jpg", folder / "empty.jpg"
    truncated.write_bytes(Path(good_jpeg).read_bytes()[:1500])
    text.write_text("this is not an image\n")
    empty.write_bytes(b"")
    return [str(truncated), str(text), str(empty)]


def write_manifest(path: Path, files: list[str], column: str = "path") -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", column])
        w.writerows(enumerate(files))
    return path


def photo_set(folder: Path) -> list[str]:
    """Real photos for the default (Haar) detector: the two multi-face canvases, 6 LFW photos, and
    a blank picture that has no face (its no-face row is part of what is compared)."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    blank = folder / "blank_wall.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 128, np.uint8))
    lfw = sorted(LFW.glob("*.jpg"))[:6]
    return [str(FIXTURES / "multi_face_canvas_0.jpg"), str(FIXTURES / "multi_face_canvas_1.jpg"),
            *map(str, lfw), str(blank)]


@pytest.fixture(scope="session")
def chip_inputs(tmp_path_factory) -> dict:
    """{'files': 300 chips + 3 broken files, 'manifest': a CSV listing them, 'broken': the 3}."""
    root = tmp_path_factory.mktemp("label_inputs")
    chips = val_chips()
    broken = write_broken_files(root / "broken", chips[0])
    files = chips[:150] + broken + chips[150:]   # broken files in the middle of the stream
    return {"files": files, "manifest": write_manifest(root / "images.csv", files), "broken": broken}


@pytest.fixture(scope="session")
def photo_inputs(tmp_path_factory) -> list[str]:
    return photo_set(tmp_path_factory.mktemp("label_photos"))


@pytest.fixture(scope="session")
def local_chips_dataset(chip_inputs, tmp_path_factory) -> Path:
    """The local engine's dataset for the chips (detector none), small shards."""
    from agegender_edge.label import label

    out = tmp_path_factory.mktemp("local_chips") / "out"
    summary = label(chip_inputs["manifest"], out, engine="local", detector="none", shard_images=40, progress=False)
    assert summary.images == len(chip_inputs["files"]) and summary.errors == 3
    return out


@pytest.fixture(scope="session")
def local_photos_dataset(photo_inputs, tmp_path_factory) -> Path:
    from agegender_edge.label import label

    out = tmp_path_factory.mktemp("local_photos") / "out"
    label(photo_inputs, out, engine="local", progress=False)
    return out


def read_rows(out_dir: Path) -> list[dict]:
    """Every row of a label dataset (all shards), as dicts."""
    import pyarrow.dataset as ds

    return ds.dataset(str(out_dir), format="parquet").to_table().to_pylist()


def keyed(rows: list[dict]) -> dict:
    """(source, face_index) -> row; fails on a duplicate key."""
    out = {}
    for r in rows:
        key = (r["source"], r["face_index"])
        assert key not in out, f"duplicate row {key}"
        out[key] = r
    return out


def assert_same_rows(a: list[dict], b: list[dict], tol: float = TOLERANCE) -> None:
    """Same keys; every value equal (floats within ``tol``), any row order."""
    ka, kb = keyed(a), keyed(b)
    assert ka.keys() == kb.keys(), f"keys differ: {sorted(ka.keys() ^ kb.keys())[:5]}"
    for key, ra in ka.items():
        rb = kb[key]
        for col, va in ra.items():
            vb = rb[col]
            if isinstance(va, float) and isinstance(vb, float):
                assert math.isclose(va, vb, rel_tol=0, abs_tol=tol), (key, col, va, vb)
            else:
                assert va == vb, (key, col, va, vb)


def assert_rows_match_predict(rows: list[dict], results: list) -> None:
    """The dataset says what ``Predictor.predict`` says, field by field, for every image."""
    by_key = keyed(rows)
    assert {r["source"] for r in rows} == {res.source for res in results}
    for res in results:
        if not res.ok or not res.faces:
            row = by_key[(res.source, None)]
            assert (row["error_type"], row["error"], row["num_faces"]) == (res.error_type, res.error, 0)
            assert (row["width"], row["height"]) == (res.width, res.height)
            continue
        for i, face in enumerate(res.faces, start=1):   # face_index counts from 1, as predict
            row = by_key[(res.source, i)]
            assert row["num_faces"] == len(res.faces) and row["error"] is None
            assert (row["width"], row["height"], row["age_group"], row["gender"]) == \
                (res.width, res.height, face.age_group, face.gender)
            expected = {"box_x": face.box.x, "box_y": face.box.y, "box_width": face.box.width,
                        "box_height": face.box.height, "crop_x": face.crop_box.x, "crop_width": face.crop_box.width,
                        "detection_score": face.detection_score, "age": face.age, "age_std": face.age_std,
                        "age_low_80": face.age_interval_80[0], "age_high_80": face.age_interval_80[1],
                        "gender_probability": face.gender_probability,
                        **{"age_group_p_" + g.replace("-", "_"): p for g, p in face.age_group_probs.items()}}
            for col, value in expected.items():
                assert math.isclose(row[col], value, rel_tol=0, abs_tol=TOLERANCE), (res.source, i, col)


@pytest.fixture(scope="session")
def chip_predictions(chip_inputs) -> list:
    """``Predictor.predict`` on the same files (detector none): what every engine must reproduce."""
    from agegender_edge import Predictor

    with Predictor(detector=None) as predictor:
        return predictor.predict(chip_inputs["files"])
