import shlex
from pathlib import Path

import pytest

from agegender_edge.engine import generate
from agegender_edge.engine.deepstream import labels_file, nvinfer_config
from agegender_edge.engine.recipes import (PRECISION_PATHS, RECIPE_DIR, list_recipes, load_recipe, parse_recipe,
                                           version_in_range)
from agegender_edge.engine.trtexec import trtexec_args

REPO = Path(__file__).resolve().parents[2]
MINIMAL = {"recipe": {"name": "x", "tensorrt": ">=8.5"}, "onnx": {"opset": 17, "precision_path": "builder-fp16"}}


def test_committed_recipes_parse_and_cover_the_targets():
    recipes = {r.name: r for r in list_recipes()}
    assert len(recipes) >= 5
    v100 = recipes["v100-trt10-fp16"]
    assert v100.supports("10.4.0") and not v100.supports("10.5.0") and "7.0" in v100.compute_capability
    xavier = recipes["jetson-xavier-jp51-fp16"]
    assert xavier.supports("8.5.2") and xavier.precision_path == "builder-fp16"
    orin = recipes["jetson-orin-jp6-fp16"]
    assert orin.supports("10.3.0") and orin.target == "jetson"
    trt11 = recipes["trt11-fp16-strongly-typed"]
    assert trt11.supports("11.0.0") and trt11.onnx_variant == "fp16" and trt11.precision == "fp16"
    dla = recipes["jetson-xavier-jp51-dla0"]
    assert dla.dla_core == 0 and dla.profile.min == dla.profile.max
    for r in recipes.values():
        assert r.precision_path in PRECISION_PATHS and 17 <= r.opset <= 21


def test_version_ranges():
    assert version_in_range("10.3.0.26", ">=10.3,<10.4")
    assert not version_in_range("10.4.0", ">=10.3,<10.4")
    assert version_in_range("8.5.2", "==8.5.2")
    with pytest.raises(ValueError):
        version_in_range("8.5", "~8.5")


@pytest.mark.parametrize("patch,msg", [
    ({"onnx": {"opset": 17, "precision_path": "fp8"}}, "precision_path"),
    ({"onnx": {"opset": 12, "precision_path": "fp32"}}, "opset"),
    ({"build": {"dla_core": 0}, "profile": {"min": 1, "opt": 8, "max": 8}}, "static batch"),
    ({"build": {"dla_core": 0}, "profile": {"min": 8, "opt": 8, "max": 8},
      "onnx": {"opset": 17, "precision_path": "fp32"}}, "FP16 or INT8"),
    ({"profile": {"min": 4, "opt": 2, "max": 8}}, "min <= opt <= max"),
    ({"bogus": {}}, "unknown recipe section"),
    ({"deepstream": {"colour": 1}}, "unknown \\[deepstream\\]"),
])
def test_recipe_validation(patch, msg):
    d = {**MINIMAL, **patch}
    with pytest.raises(ValueError, match=msg):
        parse_recipe(d, "t.toml")


def test_missing_recipe_lists_available():
    with pytest.raises(FileNotFoundError, match="v100-trt10-fp16"):
        load_recipe("no-such-recipe")


def test_trtexec_flags_per_precision_path(meta):
    r = {x.name: x for x in list_recipes()}
    a = trtexec_args(r["v100-trt10-fp16"], meta, "m.onnx", "m.engine", ["/outputs/Softmax"])
    assert "--fp16" in a and "--precisionConstraints=obey" in a and "--layerPrecisions=/outputs/Softmax:fp32" in a
    assert "--minShapes=input:1x3x96x96" in a and "--maxShapes=input:128x3x96x96" in a
    assert "--memPoolSize=workspace:4096" in a and any(x.startswith("--timingCacheFile=") for x in a)
    s = trtexec_args(r["trt11-fp16-strongly-typed"], meta, "m.fp16.onnx", "m.engine")
    assert "--stronglyTyped" in s and "--fp16" not in s and "--int8" not in s   # 11.x has no precision flags
    x = trtexec_args(r["jetson-xavier-jp51-fp16"], meta, "m.onnx", "m.engine")
    assert not any(v.startswith("--builderOptimizationLevel") for v in x)     # not in TensorRT 8.5
    d = trtexec_args(r["jetson-xavier-jp51-dla0"], meta, "m.onnx", "m.engine")
    assert "--useDLACore=0" in d and "--allowGPUFallback" in d and "--minShapes=input:8x3x96x96" in d


def test_deepstream_config_from_metadata(meta):
    r = load_recipe("jetson-orin-jp6-fp16")
    cfg = nvinfer_config(r, meta, "edge_resnet_utkface")
    kv = dict(l.split("=", 1) for l in cfg.splitlines() if "=" in l and not l.startswith("#"))
    h, w = meta.input.size
    assert kv["infer-dims"] == f"3;{h};{w}" and kv["network-type"] == "1" and kv["process-mode"] == "2"
    assert kv["net-scale-factor"] == "1" and kv["offsets"] == "0;0;0"     # normalisation is in the graph
    assert kv["model-color-format"] == {"RGB": "0", "BGR": "1"}[meta.input.colour_order]
    assert kv["output-blob-names"] == "gender_probs;age_group_probs" and kv["network-mode"] == "2"
    assert int(kv["batch-size"]) <= r.profile.max
    lines = labels_file(meta).splitlines()
    assert lines[0].split(";") == list(meta.gender_labels) and lines[1].split(";") == list(meta.age_groups)
    st = nvinfer_config(load_recipe("trt11-fp16-strongly-typed"), meta, "m")
    assert "network-mode=0" in st and "onnx-file=m.fp16.onnx" in st


def test_committed_generated_files_are_current():
    """export/generated/ must equal what the recipes + the shipped default model's metadata
    produce (regenerate with: python -m agegender_edge.engine.generate)."""
    from agegender_edge.shipped import WEIGHTS_DIR, DEFAULT_MODEL
    files = generate.render_all(WEIGHTS_DIR / f"{DEFAULT_MODEL}.onnx")
    assert len(files) == 3 * len(list_recipes())
    problems = generate.diff_against(files)
    assert not problems, "stale generated deployment files: " + "; ".join(problems[:5])
    for rel, text in files.items():
        if rel.endswith("trtexec.sh"):
            cmd = text.split("\n", 6)[-1]
            assert "trtexec" in cmd and shlex.split(cmd.replace("\\\n", " "))
    assert RECIPE_DIR.is_relative_to(REPO / "agegender_edge")     # package data: a wheel carries the recipes
    assert generate.GENERATED_DIR == REPO / "export" / "generated"
