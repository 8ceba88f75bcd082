"""Test helper: a copy of an exported model whose metadata asks for landmark alignment (and,
optionally, a calibration), written with the project's own metadata writer
(engine/onnx_meta.write_metadata: the weights and their checksum stay valid).

The template is the training one (train/data/aligned.py alignment_spec over the model's own input
size and crop rule), so the shipped weights see faces framed as in training. Used by the Python
tests and by tests/cpp/make_aligned_model.py (the C++ parity test's model)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from agegender_edge.metadata import FORMAT_VERSION, CalibrationSpec


def make_aligned_model(src: Path, dst: Path, calibration: Optional[CalibrationSpec] = None,
                       **align_changes) -> Path:
    import onnx

    from agegender_edge.engine.onnx_meta import read_metadata, write_metadata
    from agegender_edge.train.data.aligned import alignment_spec

    model = onnx.load(str(src))
    meta = read_metadata(model, str(src))
    align = alignment_spec(meta.input, meta.crop)
    if align_changes:
        align = align.__class__(**{**align.__dict__, **align_changes})
    meta = meta.replace(align=align, format_version=FORMAT_VERSION, name=f"{meta.name}_aligned",
                        calibration=calibration if calibration is not None else meta.calibration)
    write_metadata(model, meta)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return Path(dst)
