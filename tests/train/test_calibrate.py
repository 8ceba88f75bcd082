"""Calibration fitting (train/calibrate.py) and ``agegender-edge calibrate``: the estimators on
data with a known answer, and the whole tool on real UTKFace val faces through the runtime."""
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from agegender_edge import Predictor
from agegender_edge.decode import age_quantiles, calibrate_gender
from agegender_edge.metadata import CalibrationSpec
from agegender_edge.train.calibrate import (collect_outputs, expected_calibration_error, fit_interval_quantiles,
                                            fit_temperature, interval_stats, load_labelled_images,
                                            reliability_bins, split_by_hash,
                                            write_calibrated_model)

from ..conftest import UTKFACE

VAL_FACES = 240   # real UTKFace val chips for the end-to-end tests (a few seconds of inference)


@pytest.fixture(scope="module")
def val_faces():
    return load_labelled_images(UTKFACE / "images", UTKFACE / "labels.csv", split="val", limit=VAL_FACES)


def test_hash_split_is_stable_and_near_the_fraction():
    names = [f"{i}_0_0_2017.jpg.chip.jpg" for i in range(4000)]
    mask = split_by_hash(names, 0.5)
    assert 0.46 < mask.mean() < 0.54
    # a face's part depends only on its own name (not on the rest of the set), not on folders
    assert (split_by_hash(names[::7], 0.5) == mask[::7]).all()
    assert (split_by_hash([f"/a/b/{n}" for n in names[:50]], 0.5) == mask[:50]).all()
    assert split_by_hash(names, 0.2).mean() < 0.25
    with pytest.raises(ValueError, match="fit_fraction"):
        split_by_hash(names, 1.0)


def test_ece_by_hand():
    conf = np.array([0.55, 0.58, 0.92, 0.95, 0.97, 0.99])
    correct = np.array([1, 0, 1, 1, 1, 0])
    # bins (0.5, 0.6]: conf 0.565, acc 0.5; (0.9, 1.0]: conf 0.9575, acc 0.75
    want = 2 / 6 * abs(0.5 - 0.565) + 4 / 6 * abs(0.75 - 0.9575)
    assert expected_calibration_error(conf, correct) == pytest.approx(want)
    bins = reliability_bins(conf, correct)
    assert len(bins) == 10 and sum(b["count"] for b in bins) == 6 and bins[5]["count"] == 2
    assert math.isnan(expected_calibration_error(np.array([]), np.array([])))


@pytest.mark.parametrize("true_t", [0.6, 1.0, 1.8])
def test_temperature_fit_recovers_a_known_temperature(true_t):
    rng = np.random.default_rng(1)
    z = rng.normal(0, 3, 20000)
    y = (rng.uniform(size=z.size) < 1 / (1 + np.exp(-z / true_t))).astype(np.int64)
    probs = np.stack([1 / (1 + np.exp(z)), 1 / (1 + np.exp(-z))], axis=1).astype(np.float32)
    assert fit_temperature(probs, y) == pytest.approx(true_t, rel=0.06)


def test_interval_fit_gives_the_nominal_coverage_on_fresh_data():
    rng = np.random.default_rng(2)
    bins = np.arange(101, dtype=np.float32)

    def sample(n):
        centre = rng.uniform(20, 70, n)
        p = np.exp(-0.5 * ((bins[None, :] - centre[:, None]) / 4.0) ** 2)
        ages = centre + rng.normal(0, 6.0, n)        # the model is over-confident: true spread 6 y, not 4
        return (p / p.sum(1, keepdims=True)).astype(np.float32), ages

    p_fit, a_fit = sample(3000)
    lo, hi = fit_interval_quantiles(p_fit, bins, a_fit)
    assert lo < 0.1 and hi > 0.9 and lo + hi == pytest.approx(1.0)   # widened, symmetric around the median
    p_new, a_new = sample(3000)
    assert interval_stats(p_new, bins, a_new, (0.1, 0.9))["coverage"] < 0.7
    assert interval_stats(p_new, bins, a_new, (lo, hi))["coverage"] == pytest.approx(0.8, abs=0.025)


def test_raw_outputs_are_the_runtime_predictions(val_faces):
    """collect_outputs cuts faces with the runtime's face_input: on an uncalibrated model its gender
    probabilities are exactly what Predictor.predict_faces reports."""
    from agegender_edge.shipped import WEIGHTS_DIR
    shipped_model = WEIGHTS_DIR / "edge_resnet_utkface.onnx"   # shipped without a calibration
    raw = collect_outputs(shipped_model, val_faces.subset(np.arange(len(val_faces)) < 40))
    with Predictor(shipped_model, backend="onnxruntime", device="cpu", detector=None) as p:
        res = p.predict_faces([str(x) for x in val_faces.paths[:40]])
        male = p.metadata.gender_labels.index("male")
    p_male = [f.gender_probability if f.gender == "male" else 1 - f.gender_probability for f in (r.faces[0] for r in res)]
    np.testing.assert_allclose(raw.gender_probs[:, male], p_male, atol=1e-6)
    assert list(raw.found) == list(range(40)) and not raw.missed


def test_calibrate_end_to_end_and_the_written_model_applies_it(shipped_model, val_faces, tmp_path):
    from agegender_edge.train.calibrate import calibrate, save_report

    report, raw = calibrate(shipped_model, val_faces, fit_fraction=0.5, fitted_on="test")
    cal = report.calibration
    assert 0.3 < cal.gender_temperature < 3.0 and cal.fitted_on == "test"
    fit, held = report.parts["fit"], report.parts["held_out"]
    assert fit["gender"]["before"]["n"] + held["gender"]["before"]["n"] == VAL_FACES
    assert fit["age_interval"]["after"]["coverage"] == pytest.approx(0.8, abs=0.02)  # fitted on it
    assert fit["gender"]["after"]["nll"] <= fit["gender"]["before"]["nll"] + 1e-9     # the NLL minimum
    assert held["gender"]["after"]["accuracy"] == held["gender"]["before"]["accuracy"]  # T keeps labels
    paths = save_report(report, tmp_path / "out")
    assert json.loads(paths["json"].read_text())["calibration"]["gender_temperature"] == cal.gender_temperature
    assert paths["held_out"].stat().st_size > 10_000     # a real PNG

    out = tmp_path / "calibrated.onnx"
    write_calibrated_model(shipped_model, out, cal)
    with Predictor(out, backend="onnxruntime", device="cpu", detector=None) as p:   # checksum checked on load
        assert p.metadata.calibration == cal and p.metadata.format_version == 2
        male = p.metadata.gender_labels.index("male")
        faces = [r.faces[0] for r in p.predict_faces([str(x) for x in val_faces.paths[:20]])]
        bins = np.asarray(p.metadata.age_bins, dtype=np.float32)
    want = calibrate_gender(raw.gender_probs[:20], cal.gender_temperature)[:, male]
    got = [f.gender_probability if f.gender == "male" else 1 - f.gender_probability for f in faces]
    np.testing.assert_allclose(got, want, atol=1e-6)
    q = age_quantiles(raw.age_bin_probs[:20], bins, cal.age_interval_quantiles)
    np.testing.assert_allclose([f.age_interval_80 for f in faces], q, atol=1e-4)


def test_calibrate_with_the_detector_counts_misses(shipped_model, val_faces):
    from agegender_edge.train.calibrate import calibrate

    report, raw = calibrate(shipped_model, val_faces, fit_fraction=0.5, detector="auto")
    assert report.data["faces"] + report.data["missed"] == VAL_FACES
    assert report.data["faces"] >= 0.95 * VAL_FACES and report.data["detector"] == "auto"


def test_too_few_faces_is_a_clear_error(shipped_model, val_faces):
    from agegender_edge.train.calibrate import calibrate

    with pytest.raises(ValueError, match="too few faces"):
        calibrate(shipped_model, val_faces.subset(np.arange(len(val_faces)) < 30))


def test_labels_from_an_lfw_style_csv(tmp_path):
    from ..conftest import FACES_48
    files = sorted(FACES_48.glob("*.jpg"))[:4]
    (tmp_path / "labels.csv").write_text("file,identity,gender\n" + "".join(
        f"{f.name},x,{'M' if i % 2 else 'F'}\n" for i, f in enumerate(files)) + "missing.jpg,y,M\n")
    data = load_labelled_images(FACES_48, tmp_path / "labels.csv")
    assert len(data) == 4 and list(data.gender) == [0, 1, 0, 1] and np.isnan(data.age).all()
    with pytest.raises(ValueError, match="no 'split' column"):
        load_labelled_images(FACES_48, tmp_path / "labels.csv", split="val")


def test_cli_calibrate_writes_report_diagrams_and_model(shipped_model, tmp_path):
    from agegender_edge.cli.main import cli

    out = tmp_path / "cal"
    res = CliRunner().invoke(cli, ["calibrate", str(UTKFACE / "images"), "--model", str(shipped_model),
                                   "--labels", str(UTKFACE / "labels.csv"), "--split", "val",
                                   "--limit", str(VAL_FACES), "--out", str(out),
                                   "--write-model", str(tmp_path / "m.onnx")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "held_out  gender" in res.output and "coverage" in res.output
    assert {p.name for p in out.iterdir()} == {"calibration.json", "calibration_fit.png", "calibration_held_out.png"}
    with Predictor(tmp_path / "m.onnx", backend="onnxruntime", device="cpu", detector=None) as p:
        assert p.metadata.calibration != CalibrationSpec()
        assert "split val" in p.metadata.calibration.fitted_on
    bad = CliRunner().invoke(cli, ["calibrate", str(tmp_path), "--model", str(shipped_model)])
    assert bad.exit_code != 0 and "no labelled images" in bad.output


def test_labels_from_utkface_names_and_remapping_to_a_model_order():
    from ..conftest import FACES_48
    data = load_labelled_images(FACES_48)          # no CSV: {age}_{gender 0=male 1=female}_...
    assert len(data) == 48 and np.isfinite(data.age).all()
    names = [p.name for p in data.paths]
    want_male = [n.split("_")[1] == "0" for n in names]
    assert [data.gender_labels[g] == "male" for g in data.gender] == want_male
    flipped = data.gender_as(("male", "female"))   # a model listing male first
    assert [g == 0 for g in flipped] == want_male
    with pytest.raises(ValueError, match="lack"):
        data.gender_as(("man", "woman"))
