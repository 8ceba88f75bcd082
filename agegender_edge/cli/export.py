"""``agegender-edge export``: checkpoint or ONNX -> ONNX (FP32 / FP16 / INT8 QDQ) or a TensorRT
engine, with checks on real faces at every step.

    export --checkpoint best.pt --out m.onnx                              # FP32 ONNX + parity vs PyTorch
    export --onnx m.onnx --format onnx-fp16 --out m.fp16.onnx              # mixed FP16, checked vs FP32
    export --onnx m.onnx --format onnx-int8 --calibration utk112.h5 --out m.int8.onnx
    export --onnx m.onnx --format engine --recipe jetson-orin-jp6-fp16 --out m.engine
    export --onnx m.onnx --recipe v100-trt10-fp16 --print-trtexec          # no TensorRT needed
    export --onnx m.onnx --format triton --out model_repository             # Triton Inference Server
"""
from __future__ import annotations

import glob
import json
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import click

from .main import require_extra

FORMATS = ("onnx", "onnx-fp16", "onnx-int8", "engine", "triton")
DEFAULT_FACES = Path("../shared/data/fixtures/utkface_48")
# FP16 vs FP32 on real faces (ONNX Runtime CPU): probabilities within 5e-3, ages within 0.25 years
FP16_TOLERANCE = {"gender_probs": 5e-3, "age_group_probs": 5e-3, "age_bin_probs": 5e-3,
                  "age_years": 0.25, "age_std": 0.25}


def load_parity_faces(folder: Optional[Path], meta, limit: int = 48):
    """Real face chips for the parity check: a folder of images (default: shared fixtures)."""
    import numpy as np

    from ..preprocess import chip_to_input
    from ..imageio import load_image, DEFAULT_MAX_PIXELS

    files = sorted(glob.glob(str(folder / "*.jpg")) + glob.glob(str(folder / "*.png")))[:limit] if folder else []
    if not files:
        raise click.ClickException(f"no parity faces found in {folder}; pass --parity-faces DIR with face images")
    faces = [chip_to_input(load_image(f, None, DEFAULT_MAX_PIXELS).bgr, meta) for f in files]
    rgb = [f if meta.input.colour_order == "RGB" else f[:, :, ::-1] for f in faces]  # parity_check wants RGB
    return np.stack(rgb)


def _nchw(faces_rgb, meta):
    import numpy as np
    x = faces_rgb if meta.input.colour_order == "RGB" else faces_rgb[..., ::-1]
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32)


def _cpu_session(path: Path):
    """A small single-threaded CPU session: the checks run 48 faces, parallelism buys nothing and
    spinning thread pools only fight other work on small machines."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def compare_onnx(ref_path: Path, new_path: Path, x) -> dict[str, float]:
    """Max abs difference per output between two ONNX files on the same inputs (ORT CPU)."""
    import numpy as np

    from ..metadata import OUTPUT_NAMES
    a = _cpu_session(ref_path).run(list(OUTPUT_NAMES), {"input": x})
    b = _cpu_session(new_path).run(list(OUTPUT_NAMES), {"input": x})
    return {n: float(np.max(np.abs(u - v))) for n, u, v in zip(OUTPUT_NAMES, a, b)}


def agreement(ref_path: Path, new_path: Path, x) -> dict[str, float]:
    """Top-1 agreement of gender and age group, and mean |age difference|, between two models."""
    import numpy as np

    from ..metadata import OUTPUT_NAMES
    a = dict(zip(OUTPUT_NAMES, _cpu_session(ref_path).run(list(OUTPUT_NAMES), {"input": x})))
    b = dict(zip(OUTPUT_NAMES, _cpu_session(new_path).run(list(OUTPUT_NAMES), {"input": x})))
    return {"gender_agreement": float(np.mean(a["gender_probs"].argmax(1) == b["gender_probs"].argmax(1))),
            "age_group_agreement": float(np.mean(a["age_group_probs"].argmax(1) == b["age_group_probs"].argmax(1))),
            "age_mean_abs_diff": float(np.mean(np.abs(a["age_years"] - b["age_years"])))}


def _export_checkpoint(checkpoint: Path, out_path: Path, name, flip_tta, opset, parity_faces, tolerance,
                       val_metrics, age_estimate: str = "mean") -> None:
    require_extra("torch", "train", "export")
    require_extra("onnx", "train", "export")
    import torch

    from ..train.export_onnx import (build_metadata, checkpoint_align, checkpoint_training_info, export_onnx,
                                     parity_check)
    from ..train.trainer import load_best

    net, cfg = load_best(checkpoint)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    training = checkpoint_training_info(state["config"], state.get("val"), int(state.get("epoch", 0)))
    if val_metrics:
        report = json.loads(val_metrics.read_text())
        training["val_metrics_runtime"] = {k: report.get(k) for k in
                                           ("n", "gender_accuracy", "age_group_accuracy", "one_off_accuracy", "age_mae")}
    meta = build_metadata(cfg.model, cfg.age_bins, name or out_path.stem, flip_tta, training, age_estimate=age_estimate,
                          align=checkpoint_align(state))
    export_onnx(net, meta, out_path, opset=opset)
    click.echo(f"wrote {out_path} ({out_path.stat().st_size / 1e6:.1f} MB, opset {opset}, flip_tta={flip_tta}, "
               f"age estimate {age_estimate})")
    faces = load_parity_faces(parity_faces, meta)
    result = parity_check(net, meta, out_path, faces, tolerance)
    for k, v in result.max_abs_diff.items():
        click.echo(f"  parity {k:16s} max |onnxruntime - torch| = {v:.2e} (limit {result.limit(k):g})")
    if not result.ok:
        raise click.ClickException(f"parity check FAILED on {result.n} faces: difference above the limit")
    click.echo(f"parity OK on {result.n} real faces (tolerance {tolerance}, x100 for outputs in years)")


@click.command()
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="best.pt / last.pt written by 'agegender-edge train'.")
@click.option("--onnx", "onnx_in", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="An FP32 ONNX exported by this SDK, instead of --checkpoint.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="onnx", show_default=True,
              help="onnx (FP32), onnx-fp16 (mixed FP16, I/O FP32), onnx-int8 (static QDQ), engine (TensorRT), "
                   "triton (a Triton model repository folder: onnxruntime and tensorrt_plan models).")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=None,
              help="File to write (an engine also gets <out>.json; triton: the repository folder). From "
                   "--checkpoint with another format, the FP32 ONNX is kept next to it as <name>.onnx.")
@click.option("--name", default=None, help="Model name stored in the metadata (default: the file stem).")
@click.option("--flip-tta/--no-flip-tta", default=False, show_default=True,
              help="Put flip averaging inside the graph (2x compute, every runtime gets it); the shipped default "
                   "model has none (INT8-friendly, fast); edge_resnet_aligned_flip has it.")
@click.option("--age-estimate", type=click.Choice(["mean", "median"]), default="median", show_default=True,
              help="Reported age: mean or median of the age distribution (recorded in the metadata; every "
                   "runtime applies it; the age group is always the most probable group).")
@click.option("--opset", default=None, type=click.IntRange(17, 21), help="ONNX opset (default 17, or the recipe's).")
@click.option("--parity-faces", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_FACES,
              show_default=True, help="Folder of real face chips for the parity checks.")
@click.option("--tolerance", default=1e-4, show_default=True, help="Max abs difference ONNX vs PyTorch (FP32) for probabilities; x100 for outputs in years.")
@click.option("--val-metrics", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="JSON written by 'agegender-edge evaluate' to record in the metadata.")
@click.option("--recipe", default=None, help="Deployment recipe: a shipped name (agegender_edge/engine/data/recipes/) or a .toml path.")
@click.option("--precision", type=click.Choice(["fp16", "fp32", "int8"]), default=None,
              help="Engine precision (default: the recipe's, else fp16).")
@click.option("--min-batch", type=click.IntRange(1), default=None)
@click.option("--opt-batch", type=click.IntRange(1), default=None)
@click.option("--max-batch", type=click.IntRange(1), default=None)
@click.option("--workspace-mib", type=click.IntRange(16), default=None, help="TensorRT workspace limit.")
@click.option("--timing-cache", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Persistent TensorRT timing cache (read and updated).")
@click.option("--dla-core", type=click.IntRange(0), default=None, help="Jetson: build for this DLA core.")
@click.option("--device", default="cuda:0", show_default=True, help="GPU to build the engine on.")
@click.option("--calibration", type=click.Path(exists=True, path_type=Path), default=None,
              help="INT8 calibration faces: a packed .h5 (its train split) or a folder of face chips.")
@click.option("--calibration-count", default=512, show_default=True, type=click.IntRange(8))
@click.option("--int8-target", type=click.Choice(["cpu", "tensorrt"]), default="cpu", show_default=True,
              help="onnx-int8: cpu = u8 activations for ONNX Runtime; tensorrt = symmetric s8 Q/DQ.")
@click.option("--int8-keep-first-conv/--int8-quantize-first-conv", default=True, show_default=True,
              help="Keep the first Conv in FP32 in the INT8 model (measured: same speed-up within 5%, "
                   "8-group accuracy kept; benchmarks/int8_cpu.md).")
@click.option("--int8-calibration-method", type=click.Choice(["minmax", "entropy", "percentile"]), default="minmax",
              show_default=True, help="onnx-int8: how activation ranges are set from the calibration faces.")
@click.option("--print-trtexec", is_flag=True, help="Print the trtexec command equivalent to these settings and exit.")
def export(checkpoint, onnx_in, fmt, out_path, name, flip_tta, opset, parity_faces, tolerance, val_metrics,
           recipe, precision, min_batch, opt_batch, max_batch, workspace_mib, timing_cache, dla_core, device,
           calibration, calibration_count, int8_target, int8_keep_first_conv, int8_calibration_method,
           age_estimate, print_trtexec) -> None:
    """Export a checkpoint (or convert an ONNX) for deployment, checking the result on real faces."""
    if (checkpoint is None) == (onnx_in is None):
        raise click.UsageError("give exactly one of --checkpoint or --onnx")
    rec = None
    if recipe:
        from ..engine.recipes import load_recipe
        try:
            rec = load_recipe(recipe)
        except (FileNotFoundError, ValueError) as exc:
            raise click.ClickException(str(exc))
    if print_trtexec:
        _print_trtexec(checkpoint, onnx_in, out_path, rec, precision, min_batch, opt_batch, max_batch,
                       workspace_mib, timing_cache, dla_core)
        return
    if out_path is None:
        raise click.UsageError("--out is required")
    if fmt != "triton" and out_path.is_dir():
        raise click.UsageError(f"--out {out_path} is a folder; --format {fmt} writes a file")
    if fmt == "triton" and out_path.exists() and not out_path.is_dir():
        raise click.UsageError(f"--out {out_path} is a file; --format triton writes a model repository folder")
    if fmt == "onnx" and onnx_in is not None:
        raise click.UsageError("--onnx is already an ONNX file: choose --format onnx-fp16, onnx-int8 or engine")
    from .options import check_device, check_output_dir, check_output_file
    if fmt == "triton":
        check_output_dir(out_path, "--out")
    else:
        check_output_file(out_path, "--out")
    check_output_file(timing_cache, "--timing-cache")
    if fmt == "engine":
        check_device(device)
    opset = opset or (rec.opset if rec else 17)
    with tempfile.TemporaryDirectory(prefix="agegender-export-") as tmp:
        if checkpoint is not None:
            fp32 = out_path if fmt == "onnx" else out_path.with_name(out_path.name.split(".")[0] + ".onnx")
            if (fp32 == out_path and fmt != "onnx") or fmt == "triton":
                fp32 = Path(tmp) / f"{name or checkpoint.parent.name or 'model'}.onnx"
            _export_checkpoint(checkpoint, fp32, name, flip_tta, opset, parity_faces, tolerance, val_metrics,
                               age_estimate)
        else:
            fp32 = onnx_in
        if fmt == "onnx":
            return
        require_extra("onnx", "train", f"export --format {fmt}")
        meta = _meta_of(fp32)
        if name:  # --onnx conversions: the new file's name (a --checkpoint export already has it)
            meta = meta.replace(name=name)
        if fmt == "onnx-fp16":
            _to_fp16(fp32, out_path, meta, parity_faces)
        elif fmt == "triton":
            _to_triton(fp32, out_path, meta, rec, max_batch)
        elif fmt == "onnx-int8":
            faces = _calibration(calibration, meta, calibration_count)
            _to_int8(fp32, out_path, meta, faces, int8_target, int8_keep_first_conv, int8_calibration_method,
                     parity_faces)
        else:
            _to_engine(fp32, out_path, meta, rec, precision, min_batch, opt_batch, max_batch, workspace_mib,
                       timing_cache, dla_core, device, calibration, calibration_count)


def _to_triton(src: Path, repo: Path, meta, rec, max_batch) -> None:
    import onnx

    from ..engine.generate import fp32_layers_of
    from ..engine.recipes import load_recipe
    from ..engine.triton import DEFAULT_RECIPE, write_repository

    recipe = rec or load_recipe(DEFAULT_RECIPE)
    layers = tuple(fp32_layers_of(onnx.load(str(src)))) if recipe.precision_path == "builder-fp16" else ()
    files = write_repository(src, repo, meta, recipe, max_batch=max_batch, fp32_layers=layers)
    models = sorted({p.relative_to(repo).parts[0] for p in files})
    click.echo(f"wrote Triton model repository {repo}: {', '.join(models)} (version 1, dynamic batching up to "
               f"{max_batch or recipe.profile.max}); build the TensorRT plan on the serving GPU with "
               f"{repo / models[-1] / 'build_plan.sh'}")


def _meta_of(path: Path):
    import onnx

    from ..engine.onnx_meta import read_metadata
    from ..errors import ModelError
    try:
        return read_metadata(onnx.load(str(path)), str(path))
    except ModelError as exc:
        raise click.ClickException(str(exc))


def _calibration(source: Optional[Path], meta, count: int):
    if source is None:
        raise click.UsageError("INT8 needs --calibration (a packed .h5, whose train split is used, or a folder of faces)")
    from ..engine.calibration import load_calibration
    try:
        faces = load_calibration(source, meta, count)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc))
    click.echo(f"calibration: {len(faces)} faces from {source}")
    return faces


def _to_fp16(src: Path, dst: Path, meta, parity_faces: Path) -> None:
    from ..engine.fp16 import convert_file
    convert_file(src, dst, metadata=meta)
    click.echo(f"wrote {dst} ({dst.stat().st_size / 1e6:.1f} MB, mixed FP16: backbone FP16, I/O and post-processing FP32)")
    x = _nchw(load_parity_faces(parity_faces, meta), meta)
    diffs = compare_onnx(src, dst, x)
    bad = []
    for k, v in diffs.items():
        click.echo(f"  fp16 vs fp32 {k:16s} max |diff| = {v:.2e} (tolerance {FP16_TOLERANCE[k]:g})")
        if v > FP16_TOLERANCE[k]:
            bad.append(k)
    if bad:
        raise click.ClickException(f"FP16 model differs from FP32 beyond tolerance in {bad}")
    click.echo(f"fp16 check OK on {len(x)} real faces (ONNX Runtime CPU)")


def _to_int8(src: Path, dst: Path, meta, faces, target: str, keep_first_conv: bool, method: str,
             parity_faces: Path) -> None:
    from ..engine.int8 import Int8Options, quantize_file
    opts = Int8Options(target=target, keep_first_conv_fp32=keep_first_conv, calibrate_method=method)
    quantize_file(src, dst, faces, opts, metadata=meta)
    click.echo(f"wrote {dst} ({dst.stat().st_size / 1e6:.1f} MB, INT8 QDQ for {target}: {opts.describe()})")
    x = _nchw(load_parity_faces(parity_faces, meta), meta)
    a = agreement(src, dst, x)
    click.echo(f"  int8 vs fp32 on {len(x)} faces: gender agreement {a['gender_agreement']:.3f}, age-group agreement "
               f"{a['age_group_agreement']:.3f}, mean |age diff| {a['age_mean_abs_diff']:.2f} y "
               f"(accuracy on UTKFace val: benchmarks/int8_cpu.py)")


def _settings(rec, precision, min_batch, opt_batch, max_batch, workspace_mib, timing_cache, dla_core):
    from ..engine.builder import settings_from_recipe
    from ..engine.profile import BatchProfile
    from ..engine.sidecar import BuildSettings

    s = settings_from_recipe(rec) if rec else BuildSettings(precision="fp16")
    if precision and precision != s.precision:
        s.precision, s.precision_path = precision, ""
    try:
        prof = BatchProfile.from_values(min_batch, opt_batch, max_batch, BatchProfile(**s.profile))
    except ValueError as exc:
        raise click.UsageError(str(exc))
    s.profile = prof.as_dict()
    if workspace_mib:
        s.workspace_mib = workspace_mib
    if timing_cache:
        s.timing_cache = str(timing_cache)
    if dla_core is not None:
        s.dla_core = dla_core
    if s.dla_core is not None and prof.min != prof.max:
        raise click.UsageError(f"DLA needs a static batch: set --min-batch = --opt-batch = --max-batch (got {prof.as_dict()})")
    return s


def _print_trtexec(checkpoint, onnx_in, out_path, rec, precision, min_batch, opt_batch, max_batch,
                   workspace_mib, timing_cache, dla_core) -> None:
    import dataclasses

    from ..engine.profile import BatchProfile
    from ..engine.recipes import PRECISION_OF_PATH, Recipe
    from ..engine.trtexec import engine_filename, onnx_filename, trtexec_command

    s = _settings(rec, precision, min_batch, opt_batch, max_batch, workspace_mib, timing_cache, dla_core)
    path = s.precision_path or {"fp16": "builder-fp16", "fp32": "fp32", "int8": "int8-qdq"}[s.precision]
    if PRECISION_OF_PATH[path] != s.precision:
        path = {"fp16": "builder-fp16", "fp32": "fp32", "int8": "int8-qdq"}[s.precision]
    base = rec or Recipe(name="custom", description="from flags", target="server", tensorrt=">=8.5", compute_capability=(),
                         opset=17, precision_path=path, profile=BatchProfile(), workspace_mib=1024)
    r = dataclasses.replace(base, precision_path=path, profile=BatchProfile(**s.profile), workspace_mib=s.workspace_mib,
                            timing_cache=s.timing_cache or base.timing_cache, dla_core=s.dla_core)
    src = onnx_in or (checkpoint.with_suffix(".onnx") if checkpoint else Path("model.onnx"))
    stem = src.name.split(".")[0]
    layers = []
    meta = None
    if onnx_in is not None:
        require_extra("onnx", "train", "--print-trtexec")
        import onnx

        from ..engine.generate import fp32_layers_of
        model = onnx.load(str(onnx_in))
        from ..engine.onnx_meta import read_metadata
        meta = read_metadata(model, str(onnx_in))
        layers = fp32_layers_of(model) if path == "builder-fp16" else []
    if meta is None:
        from ..metadata import ModelMetadata
        meta = ModelMetadata(name=stem, architecture="edge_resnet")
    onnx_name = str(src.with_name(onnx_filename(stem, r)))
    engine = str(out_path) if out_path else str(src.with_name(engine_filename(stem, r)))
    click.echo(trtexec_command(r, meta, onnx_name, engine, layers, calibration_cache=f"{stem}.{r.name}.calib"))


def _to_engine(src: Path, dst: Path, meta, rec, precision, min_batch, opt_batch, max_batch, workspace_mib,
               timing_cache, dla_core, device, calibration, calibration_count) -> None:
    from ..backends.tensorrt import parse_device_index
    from ..engine.builder import build_engine_file
    from ..errors import AgeGenderError

    require_extra("tensorrt", "gpu", "export --format engine")
    s = _settings(rec, precision, min_batch, opt_batch, max_batch, workspace_mib, timing_cache, dla_core)
    faces = _calibration(calibration, meta, calibration_count) if s.precision == "int8" else None
    if rec:
        import tensorrt as trt
        if not rec.supports(trt.__version__):
            click.echo(f"warning: recipe {rec.name} is for TensorRT {rec.tensorrt}, this is {trt.__version__}", err=True)
    try:
        side = build_engine_file(src, dst, s, meta, parse_device_index(device), calibration=faces)
    except AgeGenderError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"wrote {dst} + {dst.name}.json: TensorRT {side.tensorrt_version}, {side.gpu_name} (cc "
               f"{side.compute_capability}), {side.build.precision_path}, batch {side.build.profile}")
