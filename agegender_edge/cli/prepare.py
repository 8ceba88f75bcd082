"""``agegender-edge prepare``: Adience fold files, a UTKFace folder or All-Age-Faces -> one .h5 file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import click

from .main import require_extra


def _finish(summary, out: Path) -> None:
    click.echo(summary.to_text())
    click.echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB); records seen {summary.total} = "
               f"kept {summary.kept} + dropped {summary.total - summary.kept}")


@click.group()
def prepare() -> None:
    """Pack labelled faces into ONE .h5 file (uint8 RGB images + labels), streaming in chunks."""


@prepare.command()
@click.argument("fold_files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--images", "image_root", required=True, type=click.Path(path_type=Path),
              help="Image root holding aligned/{user}/landmark_aligned_face.* or faces/{user}/coarse_tilt_aligned_face.* "
                   "(or the {user} folders directly).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--size", default=256, show_default=True, type=click.IntRange(16, 1024),
              help="Stored square image size (256 for the Levi-Hassner 227 crops).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def adience(fold_files: tuple[Path, ...], image_root: Path, out: Path, size: int, workers: int) -> None:
    """Adience: FOLD_FILES are fold_{0..4}_data.txt files (or the folder holding them)."""
    require_extra("h5py", "train", "prepare")
    from ..train.data.adience import FoldFileError, read_adience
    from ..train.data.h5pack import pack_h5
    from ..train.data.records import DropCounter

    files: list[Path] = []
    for f in fold_files:
        files.extend(sorted(f.glob("fold_*_data.txt")) if f.is_dir() else [f])
    if not files:
        raise click.UsageError("no fold_N_data.txt files given")
    if not image_root.is_dir():
        raise click.ClickException(f"Adience image root {image_root} does not exist or is not a folder")
    drops = DropCounter()
    mapping = {"age": "8 published ranges -> their group; other ranges -> group nearest to the range midpoint; "
                      "single numbers -> exact age + nearest group; None dropped",
               "gender": "f -> female, m -> male; u/empty dropped"}
    try:
        summary = pack_h5(read_adience(files, image_root, drops), out, size, drops, "adience", mapping, workers)
    except (FoldFileError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc))
    _finish(summary, out)


@prepare.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--size", default=112, show_default=True, type=click.IntRange(16, 1024),
              help="Stored square image size (the model's crop.resize_to: 112 for edge_resnet).")
@click.option("--labels", "labels_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="labels.csv with file and split columns (default: FOLDER/labels.csv when present).")
@click.option("--splits", default=None, help="Comma-separated splits to keep (default: all).")
@click.option("--keep-label-conflicts", is_flag=True,
              help="Keep training rows flagged label_conflict in labels.csv (dropped by default).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--align", "align_model", default=None, metavar="ARCH",
              help="Re-cut every chip through the runtime's YuNet detector + landmark alignment for "
                   "architecture ARCH (e.g. edge_resnet): train as you serve. The alignment spec is "
                   "stored in the .h5 and travels into the exported model's metadata.")
@click.option("--yunet", default=None, type=click.Path(exists=True, dir_okay=False),
              help="YuNet ONNX for --align (default: the one shipped in the package).")
def utkface(folder: Path, out: Path, size: int, labels_csv: Optional[Path], splits: Optional[str],
            keep_label_conflicts: bool, workers: int, align_model: Optional[str], yunet: Optional[str]) -> None:
    """UTKFace: FOLDER holds {age}_{gender}_{race}_*.jpg.chip.jpg files (or an images/ subfolder)."""
    require_extra("h5py", "train", "prepare")
    from ..train.data.h5pack import pack_h5
    from ..train.data.records import DropCounter
    from ..train.data.utkface import read_utkface

    if not folder.is_dir():
        raise click.ClickException(f"UTKFace folder {folder} does not exist or is not a folder")
    drops = DropCounter()
    keep = set(splits.split(",")) if splits else None
    mapping = {"gender": "UTKFace 0=male,1=female -> female=0, male=1", "age_group": "nearest Adience group",
               "race": "0 white, 1 black, 2 asian, 3 indian, 4 other"}
    loader = extra = None
    if align_model:
        loader, extra = _aligned_loader(align_model, size, yunet)
    summary = pack_h5(read_utkface(folder, drops, labels_csv, keep, not keep_label_conflicts),
                      out, size, drops, "utkface", mapping, workers, loader=loader, extra_attrs=extra)
    _finish(summary, out)
    if loader is not None:
        click.echo(f"aligned through YuNet landmarks: {loader.aligned}; no subject found, box rule kept: "
                   f"{len(loader.fallback)}" + (f" (e.g. {', '.join(loader.fallback[:5])})" if loader.fallback else ""))


@prepare.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--manifest", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The AAF manifest (shared/data/aaf/labels.csv: file,age,gender,split). Only its files "
                   "are read; a folder holding other AAF images is refused (held-back test images).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--align", "align_model", required=True, metavar="ARCH",
              help="Cut every head crop through the runtime's YuNet detector + landmark alignment for "
                   "architecture ARCH (e.g. dlib_resnet). AAF images are head crops with background, "
                   "not chips: an image without a detected subject face is skipped and counted.")
@click.option("--size", default=None, type=click.IntRange(16, 1024),
              help="Stored square image size (default: the architecture's training crop size).")
@click.option("--splits", default=None, help="Comma-separated manifest splits to keep (default: all).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--yunet", default=None, type=click.Path(exists=True, dir_okay=False),
              help="YuNet ONNX (default: the one shipped in the package).")
def aaf(folder: Path, manifest: Path, out: Path, align_model: str, size: Optional[int], splits: Optional[str],
        workers: int, yunet: Optional[str]) -> None:
    """All-Age-Faces: FOLDER holds the manifest's files from the dataset's `original images/`."""
    require_extra("h5py", "train", "prepare")
    from ..train.data.aaf import AafManifestError, read_aaf
    from ..train.data.h5pack import pack_h5
    from ..train.data.records import DropCounter

    drops = DropCounter()
    keep = set(splits.split(",")) if splits else None
    mapping = {"gender": "manifest F -> female, M -> male (checked against the id: < 7381 female)",
               "age": "manifest age (checked against the name's A<age>)", "age_group": "nearest Adience group"}
    if size is None:
        size = _arch(align_model).train_size
    loader, extra = _aligned_loader(align_model, size, yunet, pad_fraction=0.0, box_rule_fallback=False)
    try:
        records = read_aaf(folder, manifest, drops, keep)
        summary = pack_h5(records, out, size, drops, "aaf", mapping, workers, loader=loader, extra_attrs=extra)
    except AafManifestError as exc:
        raise click.ClickException(str(exc))
    _finish(summary, out)
    click.echo(f"aligned through YuNet landmarks: {loader.aligned}; no subject face, skipped: {len(loader.fallback)}")


def _arch(arch_name: str):
    from ..train.models.registry import get_arch

    try:
        return get_arch(arch_name)
    except KeyError as exc:
        raise click.ClickException(str(exc))


def _aligned_loader(arch_name: str, size: int, yunet: Optional[str], pad_fraction: float = 0.25,
                    box_rule_fallback: bool = True):
    import dataclasses
    import json

    from ..train.data.aligned import AlignedChipLoader, alignment_spec

    arch = _arch(arch_name)
    if size != arch.train_size:
        raise click.ClickException(f"--align {arch_name}: --size must be the architecture's training crop size "
                                   f"{arch.train_size}, not {size}")
    spec = alignment_spec(arch.input, arch.crop, input_template=arch.align_template)
    loader = AlignedChipLoader(spec, arch.input.size, size, detector_path=yunet, pad_fraction=pad_fraction,
                               box_rule_fallback=box_rule_fallback)

    def attrs() -> dict:
        return {"align": json.dumps(dataclasses.asdict(spec)), "align_arch": arch_name,
                "aligned": loader.aligned, "align_fallback": len(loader.fallback),
                "align_fallback_files": json.dumps(sorted(loader.fallback))}
    return loader, attrs
