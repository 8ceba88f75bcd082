#!/usr/bin/env python3
"""The C++ parity tests' aligned model: a copy of MODEL whose metadata has an ``align`` section
(the training template) and a non-trivial calibration, so C++ and Python are compared on landmark
alignment AND calibrated decoding:  make_aligned_model.py MODEL.onnx OUT.onnx"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))   # the repo root: tests.aligned_model

from agegender_edge.metadata import CalibrationSpec  # noqa: E402
from tests.aligned_model import make_aligned_model  # noqa: E402

# values in the range a fit gives (see `agegender-edge calibrate`); any T != 1 exercises the path
PARITY_CALIBRATION = CalibrationSpec(gender_temperature=0.87, age_interval_quantiles=(0.143, 0.857),
                                     fitted_on="C++ parity test")


def main() -> None:
    out = make_aligned_model(Path(sys.argv[1]), Path(sys.argv[2]), PARITY_CALIBRATION)
    print(f"wrote {out} (align + calibration metadata, weights of {sys.argv[1]})")


if __name__ == "__main__":
    main()
