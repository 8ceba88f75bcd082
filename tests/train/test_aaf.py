"""All-Age-Faces reader and ``agegender-edge prepare aaf``: only the manifest's files, labels
checked against the names, head crops cut through YuNet + the architecture's alignment.

The AAF images themselves are fetched, not in shared/data, so the folders here hold real faces
(UTKFace val chips pasted into head-crop-sized photos) under file names the real manifest lists.
"""
from __future__ import annotations

import csv
import shutil

import cv2
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from agegender_edge.cli.main import cli
from agegender_edge.train.data.aaf import AafManifestError, read_aaf
from agegender_edge.train.data.records import DropCounter

from ..conftest import FACES_48, SHARED_DATA

MANIFEST = SHARED_DATA / "aaf" / "labels.csv"


def _manifest_rows():
    with open(MANIFEST, newline="") as fh:
        return list(csv.DictReader(fh))


def _head_crop(chip_path, out_path) -> None:
    """A 300 x 340 'head crop' photo: a face chip on a textured background, as AAF's originals."""
    rng = np.random.default_rng(0)
    canvas = rng.integers(90, 160, (340, 300, 3), dtype=np.uint8)
    chip = cv2.resize(cv2.imread(str(chip_path)), (220, 220), interpolation=cv2.INTER_AREA)
    canvas[70:290, 40:260] = chip
    cv2.imwrite(str(out_path), canvas)


@pytest.fixture()
def aaf_folder(tmp_path):
    rows = _manifest_rows()
    picked = [rows[0], rows[1], next(r for r in rows if r["gender"] == "M"),
              next(r for r in rows if r["split"] == "val")]
    chips = sorted(FACES_48.glob("*.jpg"))
    folder = tmp_path / "aaf"
    folder.mkdir()
    for row, chip in zip(picked, chips[10:]):
        _head_crop(chip, folder / row["file"])
    # a listed file without a face: skipped and counted by `prepare aaf`
    blank = next(r for r in rows if r not in picked)
    cv2.imwrite(str(folder / blank["file"]), np.full((340, 300, 3), 128, np.uint8))
    return folder, picked, blank


def test_reader_yields_listed_files_with_manifest_labels(aaf_folder):
    folder, picked, blank = aaf_folder
    drops = DropCounter()
    recs = list(read_aaf(folder, MANIFEST, drops))
    assert sorted(r.source_name for r in recs) == sorted([p["file"] for p in picked] + [blank["file"]])
    by_name = {r.source_name: r for r in recs}
    for row in picked:
        rec = by_name[row["file"]]
        assert rec.age == float(row["age"]) and rec.split == row["split"]
        assert rec.gender == (1 if row["gender"] == "M" else 0)      # labels.GENDER_LABELS: female, male
    # the manifest lists 11,322 files; those absent from the folder are counted, not read
    assert drops.counts["missing_file"] == len(_manifest_rows()) - 5
    assert [r.split for r in read_aaf(folder, MANIFEST, DropCounter(), {"val"})] == \
        ["val"] * sum(1 for r in recs if r.split == "val")


def test_reader_refuses_unlisted_aaf_files(aaf_folder):
    folder, picked, _ = aaf_folder
    listed = {r["file"] for r in _manifest_rows()}
    unlisted = next(f"{i:05d}A{a:02d}.jpg" for i in range(13322) for a in (30,) if f"{i:05d}A{a:02d}.jpg" not in listed)
    shutil.copy(folder / picked[0]["file"], folder / unlisted)
    with pytest.raises(AafManifestError, match=r"1 AAF images the manifest does not list.*held-back"):
        list(read_aaf(folder, MANIFEST, DropCounter()))


def test_reader_refuses_a_manifest_whose_labels_disagree_with_names(tmp_path, aaf_folder):
    folder, picked, _ = aaf_folder
    bad = tmp_path / "labels.csv"
    row = picked[0]
    bad.write_text(f"file,age,gender,split\n{row['file']},{int(row['age']) + 1},{row['gender']},train\n")
    with pytest.raises(AafManifestError, match="disagree with its name"):
        list(read_aaf(folder, bad, DropCounter()))
    other = tmp_path / "other.csv"
    other.write_text("file,label\nx.jpg,1\n")
    with pytest.raises(AafManifestError, match="not an AAF manifest"):
        list(read_aaf(folder, other, DropCounter()))


def test_prepare_aaf_cuts_faces_through_the_runtime_alignment(aaf_folder, tmp_path):
    folder, picked, blank = aaf_folder
    out = tmp_path / "aaf.h5"
    res = CliRunner().invoke(cli, ["prepare", "aaf", str(folder), "--manifest", str(MANIFEST), "--out", str(out),
                                   "--align", "edge_resnet", "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "no subject face, skipped: 1" in res.output
    with h5py.File(out, "r") as f:
        files = [x.decode() for x in f["file"][:]]
        assert sorted(files) == sorted(p["file"] for p in picked)
        assert f["images"].shape[1:] == (112, 112, 3)
        assert f.attrs["source"] == "aaf" and "no_subject_face" in f.attrs["dropped"]
        # an aligned face, not the whole head crop resized: the chip's face fills the crop
        img = f["images"][0]
        assert img.std() > 20


def test_prepare_aaf_refuses_a_folder_with_other_aaf_images(aaf_folder, tmp_path):
    folder, picked, _ = aaf_folder
    listed = {r["file"] for r in _manifest_rows()}
    unlisted = next(f"{i:05d}A45.jpg" for i in range(13322) if f"{i:05d}A45.jpg" not in listed)
    shutil.copy(folder / picked[0]["file"], folder / unlisted)
    res = CliRunner().invoke(cli, ["prepare", "aaf", str(folder), "--manifest", str(MANIFEST),
                                   "--out", str(tmp_path / "x.h5"), "--align", "edge_resnet"])
    assert res.exit_code != 0 and "does not list" in res.output and "Traceback" not in res.output
    assert not list(tmp_path.glob("x.h5*"))


def test_evaluation_reads_aaf_through_the_manifest(aaf_folder):
    from agegender_edge.train.evaluate import load_labelled

    folder, picked, blank = aaf_folder
    val = [p for p in picked if p["split"] == "val"]
    faces = load_labelled(folder, split="val", aaf_manifest=MANIFEST)
    listed = sorted(val + ([blank] if blank["split"] == "val" else []), key=lambda r: r["file"])
    assert faces.files == [r["file"] for r in listed]
    assert [float(a) for a in faces.age] == [float(r["age"]) for r in listed]
    assert faces.chips[0].shape == (340, 300, 3)          # the whole head crop: the detector finds the face
    with open(folder / picked[0]["file"], "wb") as fh:     # an unreadable listed file is skipped by name
        fh.write(b"not a jpeg")
    everything = load_labelled(folder, aaf_manifest=MANIFEST)
    assert picked[0]["file"] in everything.skipped["unreadable_image"]
    assert picked[0]["file"] not in everything.files
