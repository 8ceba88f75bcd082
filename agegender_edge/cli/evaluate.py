"""``agegender-edge evaluate``: metrics of a model on labelled faces, or Adience 5-fold CV."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import click

from .main import model_argument, require_extra
from .options import check_output_dir, check_output_file, detector_callback


@click.command()
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="Our .onnx or a shipped model name (default: dlib_resnet_aligned), a training checkpoint .pt, or the CC0 baseline "
                   "folder (../shared/data/models/cydral_dlib_age_gender).")
@click.option("--split", default=None, help="For .h5 data or --aaf-manifest: the split to evaluate (e.g. val).")
@click.option("--aaf-manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="DATA is a folder of All-Age-Faces images: read only the files this manifest lists "
                   "(shared/data/aaf/labels.csv); use with --detector auto (they are head crops, not chips).")
@click.option("--fold", "folds", multiple=True, type=click.IntRange(0, 4), help="For Adience .h5: fold(s) to evaluate.")
@click.option("--oversample", is_flag=True, help="Levi-Hassner 10-crop over-sampling (4 corners + centre, and mirrors).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=lambda c, p, v: check_output_file(v, "--json"),
              help="Write the full report (n, gender_accuracy, age_group_accuracy, one_off_accuracy, age_mae, per_group, ...).")
@click.option("--confusion", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=lambda c, p, v: check_output_file(v, "--confusion"), help="Confusion matrix PNG.")
@click.option("--limit", default=None, type=click.IntRange(1), help="Evaluate only the first N faces.")
@click.option("--detector", default=None, callback=detector_callback,
              help="Run the whole pipeline on each image (Predictor.predict with this detector, e.g. auto, "
                   "yunet, haar; the subject = the face nearest the centre) instead of the ready-chip path.")
@click.option("--cross-table/--no-cross-table", default=False, help="Also print the age x gender x race table.")
@click.option("--cv", "cv_arch", default=None,
              help="Adience 5-fold mode: train this architecture on 4 folds and test on the 5th, for each fold "
                   "(DATA must be an Adience .h5). Reports mean ± std.")
@click.option("--cv-epochs", default=30, show_default=True, type=click.IntRange(1))
@click.option("--cv-out", default=Path("runs/adience_cv"), show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the fold runs (with --cv; created, but its parent must exist).")
@click.option("--cv-max-train", default=None, type=click.IntRange(1), help="Smoke runs: faces per training fold.")
def evaluate(data: Path, model: Optional[Path], split: Optional[str], aaf_manifest: Optional[Path], folds: tuple[int, ...], oversample: bool,
             json_path: Optional[Path], confusion: Optional[Path], limit: Optional[int], detector: Optional[str],
             cross_table: bool, cv_arch: Optional[str], cv_epochs: int, cv_out: Path, cv_max_train: Optional[int]) -> None:
    """Evaluate on DATA: an .h5 from 'prepare' or a folder of UTKFace-named images
    ({age}_{gender}_{race}_*.jpg). Exact 8-group, 1-off and gender accuracy, age MAE (when exact
    ages exist), confusion matrix and per-group figures."""
    if cv_arch:
        check_output_dir(cv_out, "--cv-out")
        return _cross_validate(data, cv_arch, cv_epochs, cv_out, cv_max_train, json_path)
    from ..train.evaluate import evaluate as run_eval, load_labelled, per_group_table, plot_confusion, write_json

    if data.suffix in (".h5", ".hdf5"):
        require_extra("h5py", "train", "evaluating an .h5")
    model = model_argument(model)  # a directory is fine here: the CC0 baseline folder
    if model.suffix == ".pt":
        require_extra("torch", "train", "evaluating a checkpoint")
    try:
        faces = load_labelled(data, split=split, folds=set(folds) if folds else None, limit=limit,
                              aaf_manifest=aaf_manifest)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc))
    for reason, names in faces.skipped.items():
        click.echo(f"skipped {len(names)} file(s), {reason}: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}", err=True)
    if len(faces) == 0:
        raise click.ClickException(f"{data}: no faces selected")
    try:
        report = run_eval(model, faces, oversample, detector=detector)
    except ValueError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"{model.name}: {report.summary()}")
    click.echo(report.intervals())
    rule = report.extra.get("age_group_rule")
    other = {"argmax": "expected_age", "expected_age": "argmax"}.get(rule)
    if other and report.extra.get(f"age_group_accuracy_{other}") is not None:
        names = {"argmax": "the most probable group", "expected_age": "the group of the reported age"}
        click.echo(f"8-group accuracy: {report.age_group_accuracy:.4f} ({names[rule]}), "
                   f"{report.extra[f'age_group_accuracy_{other}']:.4f} ({names[other]})")
    if "subject_missed" in report.extra:
        missed = report.extra["subject_missed"]
        click.echo(f"detector {detector}: no subject found on {missed['count']} of {len(faces)} images "
                   f"(predicted as ready chips instead)")
    click.echo(per_group_table(report))
    if cross_table:
        click.echo(per_group_table(report, cross=True))
    if json_path:
        write_json(report, json_path)
        click.echo(f"wrote {json_path}")
    if confusion:
        require_extra("matplotlib", "train", "--confusion")
        plot_confusion(report, confusion, f"{model.name} on {data.name}: {report.summary()}")
        click.echo(f"wrote {confusion}")


def _cross_validate(data: Path, arch: str, epochs: int, out: Path, max_train: Optional[int], json_path: Optional[Path]) -> None:
    require_extra("torch", "train", "--cv")
    import numpy as np

    from ..train.evaluate import load_labelled, predict_checkpoint
    from ..train.metrics import evaluate_predictions
    from ..train.trainer import Trainer, TrainConfig

    rows = []
    for k in range(5):
        cfg = TrainConfig(model=arch, data=str(data), out_dir=str(out / f"fold_{k}"), val_fold=k, age_bins=8,
                          epochs=epochs, max_train=max_train)
        trainer = Trainer(cfg)
        trainer.resume()
        trainer.fit(progress=False, log=click.echo)
        faces = load_labelled(data, folds={k})
        # fixed-epoch protocol (as Levi & Hassner): the LAST weights are tested, no selection on the test fold
        r = evaluate_predictions(predict_checkpoint(Path(cfg.out_dir) / "last.pt", faces),
                                 faces.gender, faces.age_group, faces.age)
        click.echo(f"fold {k}: {r.summary()}")
        rows.append(r)
    summary = {}
    for key in ("gender_accuracy", "age_group_accuracy", "one_off_accuracy"):
        vals = np.array([getattr(r, key) for r in rows])
        summary[key] = {"mean": float(vals.mean()), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                        "folds": vals.tolist()}
        click.echo(f"{key}: {vals.mean():.4f} ± {summary[key]['std']:.4f}")
    if json_path:
        json_path.write_text(json.dumps({"n": int(sum(r.n for r in rows)), "arch": arch, "epochs": epochs,
                                         **{k: v["mean"] for k, v in summary.items()}, "folds": summary,
                                         "age_mae": None, "per_group": []}, indent=2))
