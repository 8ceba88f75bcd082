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
