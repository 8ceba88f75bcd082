"""prepare -> train -> export -> evaluate through the CLI (click's runner), on real faces."""
import json
import shutil

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("h5py")

from agegender_edge.cli.main import cli  # noqa: E402

from ..conftest import ADIENCE, FACES_48  # noqa: E402


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def utk_folder(tmp_path):
    """The 48 real fixture faces as a UTKFace-style folder, every third face in the val split."""
    folder = tmp_path / "utk"
    folder.mkdir()
    for f in sorted(FACES_48.glob("*.jpg")):
        shutil.copy(f, folder / f.name)
    (folder / "labels.csv").write_text("file,split\n" + "\n".join(
        f"{f.name},{'val' if i % 3 == 0 else 'train'}" for i, f in enumerate(sorted(folder.glob("*.jpg")))))
    return folder


def test_prepare_adience_counts_add_up(tmp_path):
    r = invoke("prepare", "adience", ADIENCE / "folds", "--images", ADIENCE / "sample_faces",
               "--out", tmp_path / "adience.h5", "--size", 64)
    assert r.exit_code == 0, r.output
    assert "records seen: 19370" in r.output and "kept: 19" in r.output
    assert "dropped age_none: 748" in r.output


def test_prepare_adience_missing_root(tmp_path):
    r = invoke("prepare", "adience", ADIENCE / "folds", "--images", tmp_path / "nope", "--out", tmp_path / "a.h5")
    assert r.exit_code == 1 and "does not exist" in r.output


def test_prepare_train_export_evaluate(tmp_path):
    folder = utk_folder(tmp_path)
    h5 = tmp_path / "utk.h5"
    r = invoke("prepare", "utkface", folder, "--out", h5)
    assert r.exit_code == 0 and "kept: 48" in r.output, r.output
    run = tmp_path / "run"
    r = invoke("train", "--data", h5, "--out", run, "--epochs", 1, "--batch-size", 16, "--no-progress")
    assert r.exit_code == 0, r.output
    assert "epoch 1:" in r.output and (run / "best.pt").is_file()
    onnx_path = tmp_path / "m.onnx"
    r = invoke("export", "--checkpoint", run / "best.pt", "--out", onnx_path, "--parity-faces", FACES_48)
    assert r.exit_code == 0, r.output
    assert "parity OK on 48 real faces" in r.output
    out = tmp_path / "eval.json"
    r = invoke("evaluate", folder, "--model", onnx_path, "--json", out, "--confusion", tmp_path / "cm.png")
    assert r.exit_code == 0, r.output
    rep = json.loads(out.read_text())
    assert rep["n"] == 48
    for key in ("gender_accuracy", "age_group_accuracy", "one_off_accuracy", "age_mae", "per_group"):
        assert key in rep
    assert (tmp_path / "cm.png").stat().st_size > 1000
    # the checkpoint evaluates to the same figures as its ONNX export (same preprocessing)
    r2 = invoke("evaluate", h5, "--model", run / "best.pt", "--json", tmp_path / "ck.json")
    assert r2.exit_code == 0, r2.output
    assert json.loads((tmp_path / "ck.json").read_text())["n"] == 48


def test_evaluate_cc0_baseline_on_a_utkface_folder(tmp_path):
    from ..conftest import SHARED_DATA
    r = invoke("evaluate", FACES_48, "--model", SHARED_DATA / "models" / "cydral_dlib_age_gender",
               "--json", tmp_path / "cc0.json")
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "cc0.json").read_text())
    assert rep["n"] == 48 and rep["gender_accuracy"] > 0.6


def test_adience_five_fold_cross_validation(tmp_path):
    """5-fold mode on real faces: the 48 UTKFace fixtures relabelled as an Adience-style h5 with
    group-only labels spread over 5 folds (the real Adience images are not available here)."""
    import h5py
    import numpy as np

    from agegender_edge.train.data.h5pack import pack_h5
    from agegender_edge.train.data.records import DropCounter, FaceRecord
    from agegender_edge.train.data.utkface import parse_utkface_name
    from agegender_edge.labels import age_to_group_nearest

    recs = []
    for i, f in enumerate(sorted(FACES_48.glob("*.jpg"))):
        age, gender, _race = parse_utkface_name(f.name)
        recs.append(FaceRecord(path=f, source_name=f.name, age_group=age_to_group_nearest(age), gender=gender, fold=i % 5))
    h5 = tmp_path / "adience_like.h5"
    pack_h5(recs, h5, 112, DropCounter(), "adience", {}, progress=False)
    with h5py.File(h5) as f:
        assert np.isnan(f["age"][:]).all() and sorted(set(f["fold"][:])) == [0, 1, 2, 3, 4]
    out = tmp_path / "cv.json"
    r = invoke("evaluate", h5, "--cv", "edge_resnet", "--cv-epochs", 1, "--cv-out", tmp_path / "cv", "--json", out)
    assert r.exit_code == 0, r.output
    rep = json.loads(out.read_text())
    assert rep["n"] == 48
    for key in ("gender_accuracy", "age_group_accuracy", "one_off_accuracy"):
        folds = rep["folds"][key]["folds"]
        assert len(folds) == 5 and all(0 <= v <= 1 for v in folds)
        assert rep[key] == pytest.approx(np.mean(folds))
    assert "fold 4:" in r.output and "±" in r.output


def test_train_from_a_committed_config_with_overrides(tmp_path):
    """--config reproduces a run from its config.json; command-line options override it."""
    from ..conftest import REPO

    folder = utk_folder(tmp_path)
    h5 = tmp_path / "utk.h5"
    assert invoke("prepare", "utkface", folder, "--out", h5).exit_code == 0
    shipped = json.loads((REPO / "training" / "edge_resnet_utkface" / "config.json").read_text())
    cfg = dict(shipped, teacher=None)
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    run = tmp_path / "run"
    r = invoke("train", "--config", tmp_path / "c.json", "--data", h5, "--out", run, "--epochs", 1,
               "--batch-size", 16, "--no-progress")
    assert r.exit_code == 0, r.output
    used = json.loads((run / "config.json").read_text())
    assert used["epochs"] == 1 and used["batch_size"] == 16 and used["data"] == str(h5)
    for key in ("augment", "dropout", "weight_decay", "gender_label_smoothing", "lr"):
        assert used[key] == shipped[key]          # not given on the command line: from the file
    (tmp_path / "bad.json").write_text(json.dumps(dict(cfg, learning_rate=1)))
    r = invoke("train", "--config", tmp_path / "bad.json")
    assert r.exit_code == 1 and "unknown training settings ['learning_rate']" in r.output
    r = invoke("train", "--out", run)
    assert r.exit_code == 2 and "--data and --out are required" in r.output
