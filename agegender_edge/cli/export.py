"""``agegender-edge export``: checkpoint -> ONNX (metadata, checker, parity on real faces)."""
from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Optional

import click

from .main import require_extra


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


@click.command()
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="best.pt / last.pt written by 'agegender-edge train'.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="ONNX file to write.")
@click.option("--name", default=None, help="Model name stored in the metadata (default: the file stem).")
@click.option("--flip-tta/--no-flip-tta", default=False, show_default=True,
              help="Put flip averaging inside the graph (2x compute, every runtime gets it).")
@click.option("--opset", default=17, show_default=True, type=click.IntRange(17, 21))
@click.option("--parity-faces", type=click.Path(file_okay=False, path_type=Path),
              default=Path("../shared/data/fixtures/utkface_48"), show_default=True,
              help="Folder of real face chips for the ONNX Runtime vs PyTorch parity check.")
@click.option("--tolerance", default=1e-4, show_default=True, help="Max abs difference allowed in any output.")
@click.option("--val-metrics", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="JSON written by 'agegender-edge evaluate' to record in the metadata.")
def export(checkpoint: Path, out_path: Path, name: Optional[str], flip_tta: bool, opset: int,
           parity_faces: Path, tolerance: float, val_metrics: Optional[Path]) -> None:
    """Export a trained checkpoint to ONNX with dynamic batch and metadata, then check that ONNX
    Runtime reproduces PyTorch on real faces (fails above --tolerance)."""
    require_extra("torch", "train", "export")
    require_extra("onnx", "train", "export")
    import torch

    from ..train.export_onnx import build_metadata, checkpoint_training_info, export_onnx, parity_check
    from ..train.trainer import load_best

    net, cfg = load_best(checkpoint)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    training = checkpoint_training_info(state["config"], state.get("val"), int(state.get("epoch", 0)))
    if val_metrics:
        report = json.loads(val_metrics.read_text())
        training["val_metrics_runtime"] = {k: report.get(k) for k in
                                           ("n", "gender_accuracy", "age_group_accuracy", "one_off_accuracy", "age_mae")}
    meta = build_metadata(cfg.model, cfg.age_bins, name or out_path.stem, flip_tta, training)
    export_onnx(net, meta, out_path, opset=opset)
    click.echo(f"wrote {out_path} ({out_path.stat().st_size / 1e6:.1f} MB, opset {opset}, flip_tta={flip_tta})")
    faces = load_parity_faces(parity_faces, meta)
    result = parity_check(net, meta, out_path, faces, tolerance)
    for k, v in result.max_abs_diff.items():
        click.echo(f"  parity {k:16s} max |onnxruntime - torch| = {v:.2e}")
    if not result.ok:
        raise click.ClickException(f"parity check FAILED on {result.n} faces: difference above {tolerance}")
    click.echo(f"parity OK on {result.n} real faces (tolerance {tolerance})")
