"""`agegender-edge export --format triton`: a model repository that Triton's own model-config
protobuf parses (tritonclient's model_config_pb2, text format), consistent with the ONNX it serves."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

onnx = pytest.importorskip("onnx")
model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2",
                                       reason="tritonclient[grpc] (the [test] extra) parses Triton configs")
from google.protobuf import text_format  # noqa: E402

from agegender_edge.cli.main import cli  # noqa: E402
from agegender_edge.engine.onnx_meta import read_metadata  # noqa: E402
from agegender_edge.engine.triton import pbtxt_string  # noqa: E402

FP32 = model_config_pb2.DataType.Value("TYPE_FP32")


def parse(path) -> "model_config_pb2.ModelConfig":
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


@pytest.fixture(scope="module")
def repo(model_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("triton") / "models"
    r = CliRunner().invoke(cli, ["export", "--onnx", str(model_path), "--format", "triton", "--out", str(out),
                                 "--max-batch", "64"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "wrote Triton model repository" in r.output
    return out


def test_repository_layout(repo, model_path):
    meta = read_metadata(onnx.load(str(model_path)), str(model_path))
    name = meta.name
    assert sorted(p.name for p in repo.iterdir()) == [name, f"{name}_tensorrt"]
    assert (repo / name / "1" / "model.onnx").read_bytes() == model_path.read_bytes()
    assert (repo / f"{name}_tensorrt" / "1").is_dir()
    plan = (repo / f"{name}_tensorrt" / "build_plan.sh").read_text()
    assert "--saveEngine=1/model.plan" in plan and "--maxShapes=input:64x3x96x96" in plan
    assert "--stronglyTyped" in plan and "--format onnx-fp16" in plan    # default recipe: strongly typed FP16


@pytest.mark.parametrize("variant,platform", [("", "onnxruntime_onnx"), ("_tensorrt", "tensorrt_plan")])
def test_config_parses_with_tritons_model_config(repo, model_path, variant, platform):
    model = onnx.load(str(model_path))
    meta = read_metadata(model, str(model_path))
    folder = repo / f"{meta.name}{variant}"
    cfg = parse(folder / "config.pbtxt")
    assert cfg.name == folder.name and cfg.platform == platform and cfg.max_batch_size == 64
    assert list(cfg.dynamic_batching.preferred_batch_size) == [8, 16, 32]
    assert cfg.dynamic_batching.max_queue_delay_microseconds > 0
    assert list(cfg.version_policy.specific.versions) == [1]
    # named I/O exactly as the ONNX graph, dims without the batch axis
    assert [(i.name, i.data_type, list(i.dims)) for i in cfg.input] == [("input", FP32, [3, 96, 96])]
    onnx_out = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim[1:]] for o in model.graph.output}
    assert [o.name for o in cfg.output] == list(onnx_out)
    for o in cfg.output:
        assert o.data_type == FP32
        if onnx_out[o.name]:
            assert list(o.dims) == onnx_out[o.name] and not o.HasField("reshape")
        else:                                   # one value per face: [1] reshaped to the model's []
            assert list(o.dims) == [1] and o.HasField("reshape") and list(o.reshape.shape) == []
    labels = {o.name: o.label_filename for o in cfg.output if o.label_filename}
    assert (folder / labels["gender_probs"]).read_text().split() == list(meta.gender_labels)
    assert (folder / labels["age_group_probs"]).read_text().splitlines() == list(meta.age_groups)
    # metadata travels as parameters: the full JSON and the keys a client needs for preprocessing
    params = {k: v.string_value for k, v in cfg.parameters.items()}
    assert json.loads(params["agegender_edge"]) == meta.to_dict()
    assert params["input_colour_order"] == meta.input.colour_order
    assert json.loads(params["input_size"]) == list(meta.input.size)
    assert params["age_estimate"] == meta.age_estimate and json.loads(params["flip_tta"]) == meta.flip_tta
    assert json.loads(params["crop"]) == meta.to_dict()["crop"]
    if platform == "tensorrt_plan":
        assert [g.kind for g in cfg.instance_group] == [model_config_pb2.ModelInstanceGroup.Kind.Value("KIND_GPU")]


def test_config_describes_the_served_model(repo, model_path):
    """Batches shaped as the config says run through the repository's ONNX and come back as declared."""
    import onnxruntime as ort
    meta = read_metadata(onnx.load(str(model_path)), str(model_path))
    cfg = parse(repo / meta.name / "config.pbtxt")
    sess = ort.InferenceSession(str(repo / meta.name / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).uniform(0, 255, (3, *cfg.input[0].dims)).astype(np.float32)
    outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {cfg.input[0].name: x})))
    for o in cfg.output:
        want = [3, *(o.reshape.shape if o.HasField("reshape") else o.dims)]
        assert list(outs[o.name].shape) == want, o.name


def test_pbtxt_strings_round_trip():
    cfg = model_config_pb2.ModelConfig()
    tricky = 'a "quoted" \\ back\nslash\ttab é'
    text_format.Parse(f"name: {pbtxt_string(tricky)}", cfg)
    assert cfg.name == tricky


def test_out_must_be_a_folder_for_triton_and_a_file_otherwise(model_path, tmp_path):
    f = tmp_path / "f.onnx"
    f.write_bytes(b"x")
    r = CliRunner().invoke(cli, ["export", "--onnx", str(model_path), "--format", "triton", "--out", str(f)])
    assert r.exit_code == 2 and "writes a model repository folder" in r.output
    r = CliRunner().invoke(cli, ["export", "--onnx", str(model_path), "--format", "onnx-fp16", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "is a folder" in r.output
