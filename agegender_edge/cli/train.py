"""``agegender-edge train``: train from a prepared .h5 (checkpoints, resume, log, curve PNG)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from .main import require_extra


@click.command()
@click.option("--config", "config_file", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A run's config.json (e.g. training/edge_resnet_utkface/config.json) to reproduce it; "
                   "options given on the command line override its values.")
@click.option("--data", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=".h5 written by 'agegender-edge prepare'.")
@click.option("--model", default="edge_resnet", show_default=True, help="Architecture from the registry.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: config.json, log.jsonl, last.pt, best.pt, curve.png.")
@click.option("--epochs", default=40, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(1))
@click.option("--lr", default=2e-3, show_default=True)
@click.option("--weight-decay", default=0.05, show_default=True)
@click.option("--age-bins", default="auto", show_default=True,
              help="101 (one-year bins, needs exact ages), 8 (group bins), or auto (8 for Adience data).")
@click.option("--val-split", default="val", show_default=True, help="Split used for model selection.")
@click.option("--val-fold", default=None, type=click.IntRange(0, 4), help="Adience: validate on this fold, train on the rest.")
@click.option("--seed", default=0, show_default=True)
@click.option("--threads", default=2, show_default=True)
@click.option("--bf16/--fp32", default=True, show_default=True, help="bf16 autocast on CPU (about 2x faster with AVX512-BF16).")
@click.option("--teacher", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Distil from this checkpoint (best.pt): its flip-averaged probabilities on the training faces "
                   "are mixed into the targets.")
@click.option("--distill-weight", default=0.5, show_default=True, type=click.FloatRange(0, 1))
@click.option("--max-train", default=None, type=click.IntRange(1), help="Use only the first N training faces (smoke runs).")
@click.option("--max-val", default=None, type=click.IntRange(1))
@click.option("--resume/--no-resume", default=True, show_default=True, help="Continue from OUT/last.pt if present.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.pass_context
def train(ctx: click.Context, config_file: Optional[Path], data: Optional[Path], model: str, out_dir: Optional[Path],
          epochs: int, batch_size: int, lr: float, weight_decay: float, age_bins: str, val_split: str,
          val_fold: Optional[int], seed: int, threads: int, bf16: bool, teacher: Optional[str], distill_weight: float,
          max_train: Optional[int], max_val: Optional[int], resume: bool, progress: bool) -> None:
    """Train MODEL on DATA; selects the best epoch on the validation split (never on test data)."""
    require_extra("torch", "train", "train")
    require_extra("h5py", "train", "train")
    from ..train.trainer import Trainer, TrainConfig

    if config_file is not None:
        cfg = _config_with_overrides(ctx, config_file, TrainConfig)
    else:
        if data is None or out_dir is None:
            raise click.UsageError("--data and --out are required (or give --config)")
        cfg = TrainConfig(model=model, data=str(data), out_dir=str(out_dir), epochs=epochs, batch_size=batch_size,
                          lr=lr, weight_decay=weight_decay, age_bins=_age_bins(age_bins, data),
                          val_split=val_split, val_fold=val_fold, seed=seed, threads=threads, bf16=bf16,
                          teacher=teacher, distill_weight=distill_weight, max_train=max_train, max_val=max_val)
    if not Path(cfg.data).is_file():
        raise click.ClickException(f"training data not found: {cfg.data}")
    out_dir = Path(cfg.out_dir)
    try:
        trainer = Trainer(cfg)
    except (KeyError, ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc))
    if resume and trainer.resume():
        click.echo(f"resumed from {out_dir / 'last.pt'} at epoch {trainer.epoch}")
    last = trainer.fit(progress=progress, log=click.echo)
    click.echo(f"done: best checkpoint {out_dir / 'best.pt'} (selected on "
               f"{cfg.val_split if cfg.val_fold is None else f'fold {cfg.val_fold}'}); last epoch {last.get('epoch')}")


def _config_with_overrides(ctx: click.Context, config_file: Path, config_cls):
    import dataclasses
    import json

    try:
        values = json.loads(config_file.read_text())
    except ValueError as exc:
        raise click.ClickException(f"{config_file}: not valid JSON ({exc})")
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise click.ClickException(f"{config_file}: unknown training settings {unknown}")
    for name, value in ctx.params.items():
        if name in fields and ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            values[name] = str(value) if isinstance(value, Path) else value
    if ctx.get_parameter_source("age_bins") == click.core.ParameterSource.COMMANDLINE:
        values["age_bins"] = _age_bins(ctx.params["age_bins"], Path(values.get("data", "")))
    return config_cls(**values)


def _age_bins(age_bins: str, data: Path) -> int:
    if age_bins == "auto":
        import h5py  # the [train] extra, checked by the command

        with h5py.File(data, "r") as f:
            return 8 if f.attrs.get("source") == "adience" else 101
    if age_bins in ("8", "101"):
        return int(age_bins)
    raise click.BadParameter("use 8, 101 or auto", param_hint="--age-bins")

