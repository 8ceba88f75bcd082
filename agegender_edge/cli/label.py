"""``agegender-edge label``: folders, globs or manifests -> a resumable Parquet dataset of faces.

Exit codes (as for ``predict``): 0 when the images were labelled (per-image errors are rows of the
dataset, counted in the summary) or were all done already, 1 when no image of this run could be
processed or labelling failed, 2 for usage errors (a bad SOURCE, an unusable --out folder).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import (MIN_SCORE_HELP, check_output_dir, check_output_file, detector_callback, device_callback,
                      model_callback)


@click.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              callback=lambda c, p, v: check_output_dir(v, "--out"),
              help="Output folder: a Parquet dataset (created, in an existing folder; an existing one is resumed).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this process; ray: Ray Data actors (needs the [distributed] extra).")
@click.option("--address", default=None,
              help="Ray cluster to join (e.g. ray://head:10001, 'auto'); default: $RAY_ADDRESS, else a new "
                   "local cluster.")
@click.option("--actors", default=None, type=click.IntRange(1),
              help="Ray actors, one Predictor each (default: one per GPU share, else one per 2 CPUs).")
@click.option("--gpus-per-actor", default=0.0, show_default=True, type=click.FloatRange(0),
              help="GPUs reserved by each Ray actor (fractions share a GPU).")
@click.option("--cpus-per-actor", default=None, type=click.FloatRange(0, min_open=True),
              help="CPUs reserved by each Ray actor (default: cluster CPUs / (actors + 1)).")
@click.option("--num-cpus", default=None, type=click.IntRange(1),
              help="CPUs of a local Ray cluster started here (default: all).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 1024),
              help="Faces per inference call.")
@click.option("--model", default=None, callback=model_callback,
              help="ONNX or TensorRT engine file, or a shipped model's name (default: dlib_resnet_aligned).")
@click.option("--backend", type=click.Choice(["auto", "onnxruntime", "tensorrt"]), default="auto", show_default=True)
@click.option("--device", default=None, callback=device_callback,
              help="cpu, cuda or cuda:N (Ray GPU actors: cuda, the default there).")
@click.option("--detector", default="auto", show_default=True, callback=detector_callback,
              help="auto, haar[:XML], yunet[:ONNX], or none (each image is already a face crop).")
@click.option("--min-score", default=None, type=click.FloatRange(0.0, 1.0), help=MIN_SCORE_HELP)
@click.option("--max-faces", default=64, show_default=True, type=click.IntRange(1), help="Faces kept per image.")
@click.option("--recursive", is_flag=True, help="Search folders (and ** globs) recursively.")
@click.option("--path-column", default="path", show_default=True, help="Image path column of CSV / Parquet manifests.")
@click.option("--shard-size", default=2000, show_default=True, type=click.IntRange(1),
              help="Images per output shard (a shard is also written every 60 s).")
@click.option("--summary-json", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=lambda c, p, v: check_output_file(v, "--summary-json"),
              help="Also write the final summary as JSON to this file.")
@click.option("--progress/--no-progress", default=None, help="Progress on stderr (default: on a terminal).")
def label(sources, out_dir, engine, address, actors, gpus_per_actor, cpus_per_actor, num_cpus, batch_size, model,
          backend, device, detector, min_score, max_faces, recursive, path_column, shard_size, summary_json,
          progress) -> None:
    """Label every face in SOURCES (folders, globs, image files, CSV / Parquet files with a path
    column, or s3:// gs:// file:// ... URIs) into a Parquet dataset in --out: one row per face,
    one per image without a face or with an error. Rerun the same command to resume. Schema and
    cluster set-up: docs/SCALE.md."""
    from ..errors import AgeGenderError, MissingDependencyError
    from ..label import LabelInputError
    from ..label import label as run_label

    if engine == "local" and (address or actors or gpus_per_actor or cpus_per_actor or num_cpus):
        raise click.UsageError("--address/--actors/--gpus-per-actor/--cpus-per-actor/--num-cpus need --engine ray")
    try:
        summary = run_label(list(sources), out_dir, engine=engine, model=model, backend=backend, device=device,
                            detector=detector, min_detection_score=min_score, batch_size=batch_size, max_faces=max_faces, recursive=recursive,
                            path_column=path_column, address=address, actors=actors, gpus_per_actor=gpus_per_actor,
                            cpus_per_actor=cpus_per_actor, num_cpus=num_cpus, shard_images=shard_size,
                            progress=progress)
    except LabelInputError as exc:
        raise click.UsageError(str(exc))
    except (MissingDependencyError, AgeGenderError) as exc:
        raise click.ClickException(str(exc))
    for message in summary.failed:        # each failed image with its one-line reason (capped)
        click.echo(f"error: {message}", err=True)
    if summary.errors > len(summary.failed):
        click.echo(f"error: ... {summary.errors - len(summary.failed)} more: the `error` column of {out_dir} "
                   f"lists every one", err=True)
    click.echo(summary.describe(), err=True)
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    if summary.images and summary.errors == summary.images:
        sys.exit(1)
