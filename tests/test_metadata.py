import json

import pytest

from agegender_edge.errors import ModelFormatError
from agegender_edge.metadata import FORMAT_VERSION, ModelMetadata


def _meta() -> ModelMetadata:
    return ModelMetadata(name="m", architecture="edge_resnet", age_groups=("0-2",) * 8,
                         age_bins=tuple(float(i) for i in range(101)))


def test_round_trip():
    m = _meta()
    assert ModelMetadata.from_json(m.to_json()) == m


def test_newer_format_is_refused_with_a_clear_message():
    d = json.loads(_meta().to_json())
    d["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(ModelFormatError, match="newer than this SDK supports"):
        ModelMetadata.from_dict(d, "x.onnx")


@pytest.mark.parametrize("text, part", [("not json", "not valid JSON"), ("[1, 2]", "not a JSON object"),
                                        ('{"format_version": 1}', "malformed")])
def test_malformed_metadata(text, part):
    with pytest.raises(ModelFormatError, match=part):
        ModelMetadata.from_json(text, "x.onnx")


def test_age_estimate_defaults_to_mean_and_is_validated():
    d = json.loads(_meta().to_json())
    del d["age_estimate"]                      # models exported before the field existed
    assert ModelMetadata.from_dict(d).age_estimate == "mean"
    d["age_estimate"] = "mode"
    with pytest.raises(ModelFormatError, match="unknown age_estimate 'mode'"):
        ModelMetadata.from_dict(d, "x.onnx")


# -- format 2: align and calibration sections ----------------------------------------------------
from agegender_edge.metadata import AlignSpec, CalibrationSpec  # noqa: E402

_TEMPLATE = ((0.27, 0.25), (0.73, 0.25), (0.5, 0.52), (0.3, 0.7), (0.7, 0.7))


def _v2(**changes) -> dict:
    m = ModelMetadata(name="m", architecture="edge_resnet", age_groups=("0-2", "4-6"), age_bins=(0.0, 1.0),
              align=AlignSpec(template=_TEMPLATE), calibration=CalibrationSpec(0.9, (0.15, 0.85), "val half"))
    d = m.to_dict()
    for path, value in changes.items():
        section, _, key = path.partition("__")
        if key:
            d[section][key] = value
        else:
            d[section] = value
    return d


def test_align_and_calibration_round_trip():
    m = ModelMetadata.from_dict(_v2())
    assert m.align == AlignSpec(template=_TEMPLATE) and m.calibration == CalibrationSpec(0.9, (0.15, 0.85), "val half")
    assert ModelMetadata.from_json(m.to_json()) == m


def test_format_1_without_sections_is_identity():
    d = _v2(format_version=1)
    del d["align"], d["calibration"]
    m = ModelMetadata.from_dict(d)
    assert m.align is None and m.calibration == CalibrationSpec() and m.calibration.age_interval_quantiles == (0.1, 0.9)


@pytest.mark.parametrize("changes,needle", [
    ({"format_version": 3}, "newer than this SDK supports"),
    ({"align__template": [[0.1, 0.2]] * 4}, "4 points, not 5"),
    ({"align__template": [[float("nan"), 0.2]] * 5}, "non-finite"),
    ({"align__border": "reflect"}, "border"),
    ({"align__method": "affine6"}, "method"),
    ({"align__unknown": 1}, "malformed"),
    ({"calibration__gender_temperature": 0.0}, "bad calibration"),
    ({"calibration__gender_temperature": float("inf")}, "bad calibration"),
    ({"calibration__age_interval_quantiles": [0.9, 0.1]}, "bad calibration"),
    ({"calibration__age_interval_quantiles": [0.0, 0.9]}, "bad calibration"),
])
def test_bad_align_or_calibration_is_refused_clearly(changes, needle):
    with pytest.raises(ModelFormatError, match=needle):
        ModelMetadata.from_dict(_v2(**changes), "m.onnx")
