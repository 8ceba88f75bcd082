"""Output decoding: the reported age (mean or median) with its own rule, and the age group: always
the most probable one (issue 21), whatever the metadata's age_group_rule."""
import dataclasses

import numpy as np

from agegender_edge.decode import age_and_interval, age_quantiles, decode_outputs
from agegender_edge.labels import AGE_GROUP_LABELS
from agegender_edge.metadata import (OUTPUT_AGE_BINS, OUTPUT_AGE_GROUP, OUTPUT_AGE_MEAN, OUTPUT_AGE_STD,
                                     OUTPUT_GENDER, ModelMetadata)


def _outputs(p: np.ndarray) -> dict:
    bins = np.arange(101, dtype=np.float32)
    mean = p @ bins
    return {OUTPUT_GENDER: np.tile([[0.2, 0.8]], (len(p), 1)).astype(np.float32),
            OUTPUT_AGE_GROUP: np.full((len(p), 8), 1 / 8, np.float32), OUTPUT_AGE_MEAN: mean,
            OUTPUT_AGE_STD: np.ones(len(p), np.float32), OUTPUT_AGE_BINS: p}


def _meta(estimate: str) -> ModelMetadata:
    return ModelMetadata(name="m", architecture="edge_resnet", age_groups=AGE_GROUP_LABELS,
                         age_bins=tuple(float(i) for i in range(101)), age_group_rule="expected_age",
                         age_estimate=estimate)


def test_median_of_a_skewed_distribution_differs_from_the_mean_and_the_group_stays_the_most_probable():
    p = np.zeros((1, 101), np.float32)
    p[0, 30], p[0, 90] = 0.6, 0.4          # mean 54 (group 48-53 by the nearest rule); median ~29.9
    out = _outputs(p)
    out[OUTPUT_AGE_GROUP] = np.array([[0.02, 0.02, 0.02, 0.04, 0.30, 0.05, 0.05, 0.50]], np.float32)
    mean_face = decode_outputs(out, _meta("mean"))[0]
    median_face = decode_outputs(out, _meta("median"))[0]
    assert abs(mean_face["age"] - 54.0) < 1e-4
    assert abs(median_face["age"] - float(age_quantiles(p, np.arange(101, dtype=np.float32), (0.5,))[0, 0])) < 1e-6
    assert 29 < median_face["age"] < 31
    # the age's group (48-53 or 25-32) does not decide: the most probable group is reported, with
    # the largest probability, under either estimate and either age_group_rule
    for face in (mean_face, median_face, decode_outputs(out, dataclasses.replace(_meta("median"),
                                                                                 age_group_rule="argmax"))[0]):
        assert face["age_group"] == "60-100"
        assert face["age_group_probs"][face["age_group"]] == max(face["age_group_probs"].values())
    # the 80% interval does not depend on the estimate
    assert mean_face["age_interval_80"] == median_face["age_interval_80"]


def test_equal_group_probabilities_report_the_first_as_numpy_argmax():
    p = np.zeros((1, 101), np.float32)
    p[0, 70] = 1.0                         # age 70, group 60-100 by age; every group 1/8
    assert decode_outputs(_outputs(p), _meta("median"))[0]["age_group"] == "0-2"


def test_reported_age_on_symmetric_distributions_agrees():
    p = np.zeros((2, 101), np.float32)
    p[0, 19:22] = [0.25, 0.5, 0.25]
    p[1, 60] = 1.0
    bins = np.arange(101, dtype=np.float32)
    med = age_and_interval(p, bins, p @ bins, "median")[0]
    np.testing.assert_allclose(age_and_interval(p, bins, p @ bins, "mean")[0], [20, 60], atol=1e-5)
    np.testing.assert_allclose(med, [20, 60], atol=0.51)   # linear within the bin CDF


# -- calibration (metadata.CalibrationSpec) -------------------------------------------------------
from agegender_edge.decode import calibrate_gender  # noqa: E402
from agegender_edge.metadata import CalibrationSpec  # noqa: E402


def _gender_outputs(p_male: list) -> dict:
    p = np.zeros((len(p_male), 101), np.float32)
    p[:, 30] = 1.0
    out = _outputs(p)
    pm = np.asarray(p_male, np.float32)
    out[OUTPUT_GENDER] = np.stack([1 - pm, pm], axis=1)
    return out


def test_absent_calibration_decodes_exactly_as_before():
    p = np.random.default_rng(0).dirichlet(np.ones(101), size=4).astype(np.float32)
    out = _gender_outputs([0.1, 0.6, 0.93, 0.5001])
    out[OUTPUT_AGE_BINS] = p
    meta = _meta("median")
    faces = decode_outputs(out, meta)
    explicit = decode_outputs(out, meta.replace(calibration=CalibrationSpec(1.0, (0.1, 0.9))))
    assert faces == explicit
    q = age_quantiles(p, np.arange(101, dtype=np.float32), (0.1, 0.9))
    for face, (lo, hi), pm in zip(faces, q, out[OUTPUT_GENDER][:, 1]):
        assert face["age_interval_80"] == (float(lo), float(hi))
        assert face["gender_probability"] == float(max(pm, 1 - pm))


def test_gender_temperature_follows_the_logit_formula_and_keeps_the_label():
    pm = np.array([0.1, 0.6, 0.93, 0.99], np.float64)
    for t in (0.5, 1.7):
        faces = decode_outputs(_gender_outputs(list(pm)), _meta("mean").replace(calibration=CalibrationSpec(t)))
        want = 1 / (1 + np.exp(-np.log(pm / (1 - pm)) / t))
        for face, w in zip(faces, want):
            assert face["gender"] == ("male" if w > 0.5 else "female")
            np.testing.assert_allclose(face["gender_probability"], max(w, 1 - w), rtol=1e-6)
    # T > 1 pulls towards 0.5, T < 1 sharpens
    soft = decode_outputs(_gender_outputs([0.93]), _meta("mean").replace(calibration=CalibrationSpec(2.0)))[0]
    sharp = decode_outputs(_gender_outputs([0.93]), _meta("mean").replace(calibration=CalibrationSpec(0.5)))[0]
    assert 0.5 < soft["gender_probability"] < 0.93 < sharp["gender_probability"] < 1.0


def test_gender_temperature_is_finite_on_saturated_outputs():
    out = calibrate_gender(np.array([[0.0, 1.0], [1.0, 0.0]], np.float32), 3.0)
    assert np.isfinite(out).all() and out[0, 1] > 0.99 and out[1, 0] > 0.99
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-6)


def test_calibrated_interval_uses_the_metadata_quantile_pair():
    p = np.zeros((1, 101), np.float32)
    p[0, 20:41] = 1 / 21                    # uniform over 20..40
    bins = np.arange(101, dtype=np.float32)
    meta = _meta("median").replace(calibration=CalibrationSpec(1.0, (0.2, 0.8)))
    face = decode_outputs(_outputs(p), meta)[0]
    want = age_quantiles(p, bins, (0.2, 0.8))[0]
    assert face["age_interval_80"] == (float(want[0]), float(want[1]))
    wide = decode_outputs(_outputs(p), _meta("median"))[0]["age_interval_80"]
    assert wide[0] < face["age_interval_80"][0] < face["age_interval_80"][1] < wide[1]
    # the reported age (median) does not depend on the interval quantiles
    assert face["age"] == decode_outputs(_outputs(p), _meta("median"))[0]["age"]


# -- the reported group on real photos (issue 21) -----------------------------------------------
def test_age_group_is_the_most_probable_for_every_face_on_real_photos(predictor):
    """Every face of real photos (the multi-face fixture canvases, scikit-image's astronaut, LFW
    photos) through a CPU predictor (Haar): age_group == argmax(age_group_probs), and its
    probability is that maximum; the age keeps its own rule (the model's age_estimate)."""
    import skimage.data

    from .conftest import FIXTURES, SHARED_DATA

    lfw = sorted((SHARED_DATA / "lfw" / "images").glob("*.jpg"))[:40]
    inputs = [str(p) for p in sorted(FIXTURES.glob("multi_face_canvas_*.jpg")) + lfw]
    results = predictor.predict(inputs) + [predictor.predict(skimage.data.astronaut(), colour_order="RGB")]
    faces = [f for r in results for f in r.faces]
    assert len(faces) >= 50
    for f in faces:
        probs = f.age_group_probs
        assert f.age_group == max(probs, key=probs.get)
        assert probs[f.age_group] == max(probs.values())
