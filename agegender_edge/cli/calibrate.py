"""``agegender-edge calibrate``: fit gender temperature and the age-interval quantiles of a model
on labelled faces, report them on a held-out part, and write a calibrated copy of the model."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from .main import model_argument, require_extra
from .options import check_output_dir, check_output_file, detector_callback


@click.command()
@click.argument("images", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="The .onnx to calibrate or a shipped model name (default: the default model's FP32 file).")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CSV with 'file' and 'gender_name' (UTKFace labels.csv) or 'gender' M/F (LFW), optional 'age' "
                   "and 'split'. Default: labels from UTKFace file names.")
@click.option("--split", default=None, help="Only rows of this split (e.g. val: data the model was not trained on).")
@click.option("--fit-fraction", default=0.5, show_default=True, type=click.FloatRange(0.05, 0.95),
              help="Share of faces (by a fixed hash of the file name) used for fitting; the rest is held out "
                   "and reported.")
@click.option("--detector", default="none", show_default=True, callback=detector_callback,
              help="'none': each image is a face chip (as predict_faces); 'auto' / 'haar' / 'yunet[:PATH]': detect "
                   "as predict does and keep the face nearest the centre.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("calibration"),
              show_default=True, callback=lambda c, p, v: check_output_dir(v, "--out"),
              help="Folder for calibration.json and the reliability diagrams (PNG; created, its parent must exist).")
@click.option("--write-model", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=lambda c, p, v: check_output_file(v, "--write-model"),
              help="Write a copy of the model with the fitted calibration in its metadata.")
@click.option("--fitted-on", default=None, help="Description stored in the metadata (default: from the options).")
@click.option("--limit", default=None, type=click.IntRange(1), help="Only the first N images (smoke runs).")
def calibrate(images: Path, model: Optional[Path], labels: Optional[Path], split: Optional[str], fit_fraction: float,
              detector: str, out_dir: Path, write_model: Optional[Path], fitted_on: Optional[str],
              limit: Optional[int]) -> None:
    """Calibrate a model on the labelled faces in IMAGES (fit on a hash-selected part, report
    ECE, coverage and interval width before / after on both parts)."""
    require_extra("matplotlib", "train", "calibration reliability diagrams")
    if write_model is not None:
        require_extra("onnx", "train", "writing a calibrated model")
    from ..train.calibrate import calibrate as fit, load_labelled_images, save_report, write_calibrated_model

    model = model_argument(model, file_only=True)
    try:
        data = load_labelled_images(images, labels, split, limit=limit)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc))
    what = fitted_on or (f"{labels.name if labels else images.name}"
                         f"{f' split {split}' if split else ''}, {fit_fraction:.0%} by file-name hash, "
                         f"detector {detector}")
    try:
        report, _raw = fit(model, data, fit_fraction=fit_fraction, detector=detector, fitted_on=what)
    except ValueError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"{model.name}: {len(data)} images, {report.data['faces']} faces "
               f"({report.data['missed']} without a subject face), {report.data['fit_faces']} fitting / "
               f"{report.data['held_out_faces']} held out")
    click.echo(report.summary())
    for kind, path in save_report(report, out_dir).items():
        click.echo(f"wrote {kind}: {path}")
    if write_model is not None:
        write_calibrated_model(model, write_model, report.calibration)
        click.echo(f"wrote calibrated model: {write_model}")
