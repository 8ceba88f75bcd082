"""Precision-path choice from the capabilities a TensorRT module exposes (feature detection).
The objects below are minimal STAND-INS exposing only attribute names, not TensorRT."""
import types

import pytest

from agegender_edge.engine.builder import choose_precision_path
from agegender_edge.errors import BackendUnavailableError


def fake(version, fp16=True, int8=True, strongly=True):
    flags = types.SimpleNamespace(**({"FP16": 1} if fp16 else {}), **({"INT8": 2} if int8 else {}))
    ncf = types.SimpleNamespace(EXPLICIT_BATCH=0, **({"STRONGLY_TYPED": 5} if strongly else {}))
    t = types.SimpleNamespace(__version__=version, BuilderFlag=flags, NetworkDefinitionCreationFlag=ncf)
    if int8:
        t.IInt8EntropyCalibrator2 = object
    return t


def test_trt_8_5_to_10_default_paths():
    t = fake("8.5.2", strongly=False)
    assert choose_precision_path(t, "fp16") == "builder-fp16"
    assert choose_precision_path(t, "fp32") == "fp32"
    assert choose_precision_path(t, "int8", has_calibration=True) == "int8-calibrated"
    with pytest.raises(BackendUnavailableError, match="calibration"):
        choose_precision_path(t, "int8")
    with pytest.raises(BackendUnavailableError, match="strongly typed"):
        choose_precision_path(t, "fp16", "strongly-typed-fp16")
    t10 = fake("10.3.0")
    assert choose_precision_path(t10, "int8") == "int8-qdq"          # no calibration: explicit Q/DQ
    assert choose_precision_path(t10, "fp16", "strongly-typed-fp16") == "strongly-typed-fp16"


def test_trt_11_has_only_strongly_typed_paths():
    t = fake("11.0.0", fp16=False, int8=False)
    assert choose_precision_path(t, "fp16") == "strongly-typed-fp16"
    assert choose_precision_path(t, "int8", has_calibration=True) == "int8-qdq"
    with pytest.raises(BackendUnavailableError, match="no BuilderFlag.FP16"):
        choose_precision_path(t, "fp16", "builder-fp16")
    with pytest.raises(BackendUnavailableError, match="int8-qdq"):
        choose_precision_path(t, "int8", "int8-calibrated")


def test_requested_path_must_match_precision():
    with pytest.raises(ValueError, match="gives fp16"):
        choose_precision_path(fake("10.3.0"), "int8", "builder-fp16")
    with pytest.raises(ValueError, match="unknown precision path"):
        choose_precision_path(fake("10.3.0"), "fp16", "fp8")
