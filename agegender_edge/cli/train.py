"""``agegender-edge train``: train from a prepared .h5 (checkpoints, resume, log, curve PNG)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from .main import require_extra


@click.command()
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=".h5 written by 'agegender-edge prepare'.")
@click.option("--model", default="edge_resnet", show_default=True, help="Architecture from the registry.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
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
@click.option("--max-train", default=None, type=click.IntRange(1), help="Use only the first N training faces (smoke runs).")
@click.option("--max-val", default=None, type=click.IntRange(1))
@click.option("--resume/--no-resume", default=True, show_default=True, help="Continue from OUT/last.pt if present.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def train(data: Path, model: str, out_dir: Path, epochs: int, batch_size: int, lr: float, weight_decay: float,
          age_bins: str, val_split: str, val_fold: Optional[int], seed: int, threads: int, bf16: bool,
          max_train: Optional[int], max_val: Optional[int], resume: bool, progress: bool) -> None:
    """Train MODEL on DATA; selects the best epoch on the validation split (never on test data)."""
    require_extra("torch", "train", "train")
    h5py = require_extra("h5py", "train", "train")
    from ..train.trainer import Trainer, TrainConfig

    if age_bins == "auto":
        with h5py.File(data, "r") as f:
            bins = 8 if f.attrs.get("source") == "adience" else 101
    elif age_bins in ("8", "101"):
        bins = int(age_bins)
    else:
        raise click.BadParameter("use 8, 101 or auto", param_hint="--age-bins")
    cfg = TrainConfig(model=model, data=str(data), out_dir=str(out_dir), epochs=epochs, batch_size=batch_size,
                      lr=lr, weight_decay=weight_decay, age_bins=bins, val_split=val_split, val_fold=val_fold,
                      seed=seed, threads=threads, bf16=bf16, max_train=max_train, max_val=max_val)
    try:
        trainer = Trainer(cfg)
    except (KeyError, ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc))
    if resume and trainer.resume():
        click.echo(f"resumed from {out_dir / 'last.pt'} at epoch {trainer.epoch}")
    last = trainer.fit(progress=progress, log=click.echo)
    click.echo(f"done: best checkpoint {out_dir / 'best.pt'} (selected on {val_split if val_fold is None else f'fold {val_fold}'}); "
               f"last epoch {last.get('epoch')}")
