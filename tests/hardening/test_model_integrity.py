"""Model integrity and safe loading (issue #7, item 5): every bad model gives the exact exception
type and a message naming the file and the problem; nothing is ever unpickled."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from agegender_edge.backends.onnxruntime import OnnxRuntimeRunner, OrtOptions
from agegender_edge.errors import ModelError, ModelFormatError, ModelIntegrityError
from agegender_edge.metadata import FORMAT_VERSION, ModelMetadata
from agegender_edge.model_file import initializer_digest, metadata_props, verify_weights
from tests.hardening.onnx_edit import (MODEL_METADATA_PROPS, edit_metadata_json, flip_weight_byte,
                                       top_level_fields, with_metadata)

PACKAGE = Path(__file__).resolve().parents[2] / "agegender_edge"
SHARED_MODELS = Path(__file__).resolve().parents[3] / "shared" / "data" / "models"


def load(path: Path, **kw) -> OnnxRuntimeRunner:
    runner = OnnxRuntimeRunner(path, options=OrtOptions(intra_op_threads=1), **kw)
    runner.activate()
    return runner


def expect_model_error(exc_type, part: str, path: Path, **kw) -> str:
    with pytest.raises(exc_type) as info:
        load(path, **kw)
    assert type(info.value) is exc_type, repr(info.value)
    msg = str(info.value)
    assert msg.startswith(f"{path}: "), msg
    assert part in msg, msg
    return msg


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_model_carries_format_version_and_checksum(model_bytes):
    props = metadata_props(model_bytes)
    meta = json.loads(props["agegender_edge"])
    assert meta["format_version"] == FORMAT_VERSION == int(props["format_version"])
    assert meta["weights_sha256"] == initializer_digest(model_bytes)
    assert verify_weights(model_bytes, meta["weights_sha256"]) == meta["weights_sha256"]


def test_intact_model_loads(model_path):
    runner = load(model_path)
    assert runner.metadata.weights_sha256 == initializer_digest(model_path.read_bytes())
    runner.deactivate()


def test_missing_empty_and_directory_models(tmp_path):
    expect_model_error(ModelError, "model file not found", tmp_path / "none.onnx")
    expect_model_error(ModelError, "model file is empty", write(tmp_path, "empty.onnx", b""))
    d = tmp_path / "dir.onnx"
    d.mkdir()
    expect_model_error(ModelError, "model path is not a file", d)


def test_not_onnx(tmp_path, face_paths):
    p = write(tmp_path, "photo.onnx", face_paths[0].read_bytes())
    expect_model_error(ModelError, "ONNX Runtime cannot load this model (truncated or not ONNX?)", p)


@pytest.mark.parametrize("fraction", [0.001, 0.25, 0.5, 0.9, 0.99999])
def test_truncated_model(tmp_path, model_bytes, fraction):
    p = write(tmp_path, "cut.onnx", model_bytes[: int(len(model_bytes) * fraction)])
    expect_model_error(ModelError, "ONNX Runtime cannot load this model (truncated or not ONNX?)", p)


def test_model_missing_its_last_byte(tmp_path, model_bytes):
    p = write(tmp_path, "cut.onnx", model_bytes[:-1])
    expect_model_error(ModelError, "cannot load this model", p)


def test_truncated_at_field_boundaries(tmp_path, model_bytes):
    """A cut exactly between two top-level protobuf fields leaves valid protobuf: it must still fail."""
    fields = top_level_fields(model_bytes)
    first_meta = min(start for f, start, _ in fields if f == MODEL_METADATA_PROPS)
    for field, start, _end in fields:
        if start > first_meta or start == 0:
            continue
        p = write(tmp_path, f"cut_{start}.onnx", model_bytes[:start])
        with pytest.raises(ModelError) as info:
            load(p)
        assert str(info.value).startswith(f"{p}: ")
        if start == first_meta:   # graph and opsets intact, metadata cut off
            assert type(info.value) is ModelFormatError and "no 'agegender_edge' metadata" in str(info.value)


def test_altered_weights_fail_the_checksum(tmp_path, model_bytes):
    p = write(tmp_path, "altered.onnx", flip_weight_byte(model_bytes))
    expect_model_error(ModelIntegrityError, "does not match the recorded", p)


def test_altered_weights_can_be_loaded_only_by_opting_out(tmp_path, model_bytes):
    p = write(tmp_path, "altered.onnx", flip_weight_byte(model_bytes))
    runner = load(p, verify_checksum=False)
    assert runner.is_active
    runner.deactivate()


def test_newer_format_version(tmp_path, model_bytes):
    p = write(tmp_path, "future.onnx", edit_metadata_json(model_bytes, lambda m: {**m, "format_version": FORMAT_VERSION + 1}))
    expect_model_error(ModelFormatError, f"model metadata format {FORMAT_VERSION + 1} is newer than this SDK supports", p)


@pytest.mark.parametrize("change,part", [
    (lambda m: {k: v for k, v in m.items() if k != "format_version"}, "metadata has no valid format_version"),
    (lambda m: {**m, "format_version": "one"}, "metadata format_version is not an integer"),
    (lambda m: "{not json", "metadata is not valid JSON"),
    (lambda m: "[1, 2]", "metadata is not a JSON object"),
    (lambda m: {k: v for k, v in m.items() if k != "input"}, "malformed agegender_edge metadata"),
    (lambda m: {**m, "input": {**m["input"], "size": [64, 64]}}, "does not match metadata size 64x64"),
    (lambda m: {**m, "input": {**m["input"], "name": "pixels"}}, "model has no input named 'pixels'"),
])
def test_malformed_metadata(tmp_path, model_bytes, change, part):
    p = write(tmp_path, "bad_meta.onnx", edit_metadata_json(model_bytes, change))
    expect_model_error(ModelFormatError, part, p)


def test_checksum_is_verified_where_recorded(tmp_path, model_bytes):
    """Metadata without weights_sha256 (older exports) loads; with it, the weights are checked."""
    p = write(tmp_path, "nosum.onnx", edit_metadata_json(model_bytes, lambda m: {**m, "weights_sha256": None}))
    runner = load(p)
    assert runner.metadata.weights_sha256 is None
    runner.deactivate()


def test_foreign_onnx_without_our_metadata(tmp_path, model_bytes):
    p = write(tmp_path, "foreign.onnx", with_metadata(model_bytes, None))
    msg = expect_model_error(ModelFormatError, "ONNX model has no 'agegender_edge' metadata", p)
    assert "pass metadata=ModelMetadata(...)" in msg


def test_third_party_onnx_is_refused():
    age = SHARED_MODELS / "cydral_dlib_age_gender" / "age-v1.onnx"
    if not age.is_file():
        pytest.skip("shared third-party model not present")
    expect_model_error(ModelFormatError, "has no 'agegender_edge' metadata", age)
    meta = ModelMetadata(name="cydral", architecture="resnet", age_groups=("a",) * 8, age_bins=tuple(range(81)),
                         input=ModelMetadata.from_dict({"format_version": 1, "name": "x", "architecture": "y",
                                                        "input": {"name": "images", "size": [64, 64]},
                                                        "age_groups": [], "age_bins": [], "gender_labels": []}).input)
    expect_model_error(ModelFormatError, "model lacks output(s)", age, metadata=meta)


def test_foreign_onnx_with_explicit_preprocessing(tmp_path, model_path, model_bytes, face_paths):
    """An ONNX without our metadata runs when the caller describes its preprocessing explicitly,
    and then gives exactly the results of the original model."""
    from agegender_edge.predictor import Predictor

    p = write(tmp_path, "foreign.onnx", with_metadata(model_bytes, None))
    meta = ModelMetadata.from_json(metadata_props(model_bytes)["agegender_edge"])
    faces = [str(f) for f in face_paths[:6]]
    opts = OrtOptions(intra_op_threads=1)
    with Predictor(p, device="cpu", detector=None, metadata=meta, ort_options=opts) as foreign, \
            Predictor(model_path, device="cpu", detector=None, ort_options=opts) as ours:
        assert [r.faces for r in foreign.predict_faces(faces)] == [r.faces for r in ours.predict_faces(faces)]


def test_metadata_that_disagrees_with_the_outputs_is_refused(tmp_path, model_bytes):
    """7 age-group labels for an 8-group output used to load and then crash predict() with an
    IndexError (or drop a group silently); it must be refused at load time."""
    p = write(tmp_path, "g7.onnx", edit_metadata_json(model_bytes, lambda m: {**m, "age_groups": m["age_groups"][:7]}))
    expect_model_error(ModelFormatError, "'age_group_probs' has 8 values per face but the metadata lists 7", p)


def test_model_file_reader_names_the_file():
    with pytest.raises(ModelError, match=r"^m\.onnx: cannot read the ONNX file: truncated protobuf field"):
        initializer_digest(b"\x3a\xff\x01abc", "m.onnx")
    with pytest.raises(ModelError, match=r"^m\.onnx: ONNX graph has no initializers"):
        initializer_digest(b"\x08\x07", "m.onnx")
    with pytest.raises(ModelIntegrityError, match=r"^m\.onnx: weights checksum [0-9a-f]{12}\.\.\. does not match"):
        verify_weights(b"\x3a\x04\x2a\x02\x08\x01", "0" * 64, "m.onnx")


# -- no unsafe loading anywhere ------------------------------------------------------------------------

def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            yield owner, name, node


def test_no_pickle_based_loading_in_the_package():
    """No pickle / marshal / dill / joblib / shelve; every torch.load passes weights_only=True;
    every np.load passes allow_pickle=False; no yaml.load; no eval/exec."""
    problems, torch_loads = [], 0
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        rel = path.relative_to(PACKAGE.parent)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for m in mods:
                    if m.split(".")[0] in ("pickle", "cPickle", "dill", "joblib", "marshal", "shelve", "cloudpickle"):
                        problems.append(f"{rel}:{node.lineno} imports {m}")
        for owner, name, node in _calls(tree):
            kw = {k.arg: k.value for k in node.keywords}
            if owner == "torch" and name == "load":
                torch_loads += 1
                wo = kw.get("weights_only")
                if not (isinstance(wo, ast.Constant) and wo.value is True):
                    problems.append(f"{rel}:{node.lineno} torch.load without weights_only=True")
            if owner in ("np", "numpy") and name == "load":
                ap = kw.get("allow_pickle")
                if not (isinstance(ap, ast.Constant) and ap.value is False):
                    problems.append(f"{rel}:{node.lineno} np.load without allow_pickle=False")
            if owner == "yaml" and name in ("load", "unsafe_load", "full_load"):
                problems.append(f"{rel}:{node.lineno} yaml.{name}")
            if isinstance(node.func, ast.Name) and name in ("eval", "exec", "__import__"):
                problems.append(f"{rel}:{node.lineno} {name}()")
    assert not problems, "\n".join(problems)
    assert torch_loads >= 1   # the checkpoint loaders exist and were checked


class _Evil:
    def __reduce__(self):
        return (print, ("PWNED-by-pickle",))


def test_torch_checkpoints_load_with_weights_only(tmp_path, capsys):
    """A checkpoint that smuggles a pickled callable is refused by the project's loader, and the
    callable never runs."""
    torch = pytest.importorskip("torch")
    from agegender_edge.train.trainer import load_best

    bad = tmp_path / "evil.pt"
    torch.save({"config": "{}", "ema": {}, "evil": _Evil()}, bad)
    with pytest.raises(Exception) as info:
        load_best(bad)
    assert "Weights only load failed" in str(info.value), str(info.value)
    assert "PWNED-by-pickle" not in capsys.readouterr().out
