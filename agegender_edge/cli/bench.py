"""``agegender-edge bench``: latency and throughput of models and of the whole pipeline.

Never imports torch unless --torch-checkpoint is given, nor tensorrt unless a TensorRT target is
asked for or found usable.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click

from .main import model_argument
from .options import check_distinct_outputs, check_output_file, detector_callback, device_callback

DEFAULT_FACES = Path("../shared/data/fixtures/utkface_48")


def _batch_sizes(ctx, param, value: str) -> list[int]:
    try:
        sizes = [int(v) for v in str(value).replace(" ", "").split(",") if v]
    except ValueError:
        raise click.BadParameter(f"{value!r}: give batch sizes as integers separated by commas, e.g. 1,8,32")
    if not sizes or any(s < 1 for s in sizes):
        raise click.BadParameter("batch sizes must be integers >= 1")
    return sorted(dict.fromkeys(sizes))


def _budget(spec: str, what: str, min_count: int = 1):
    from ..bench.timing import Budget
    try:
        return Budget.parse(spec, min_count=min_count)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=what)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Progress:
    """One tqdm bar per run on stderr; each timed configuration updates it."""

    def __init__(self, total: int, quiet: bool):
        self.bar = None
        # a bar only on a terminal: redirected to a log, tqdm's carriage-return frames are just noise
        if not quiet and _stderr_is_terminal():
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="cfg", file=sys.stderr, leave=False, dynamic_ncols=True)
        self.current = None

    def config(self, label: str, bs, done: int, elapsed: float) -> None:
        if self.bar is None:
            return
        key = (label, bs)
        if key != self.current:
            if self.current is not None:
                self.bar.update(1)
            self.current = key
            self.bar.set_description(f"{label} b{bs}")
        if done % 20 == 0:
            self.bar.set_postfix_str(f"{done} calls {elapsed:.1f}s", refresh=True)

    def note(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@click.command(context_settings={"max_content_width": 110})
@click.option("--model", "models", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Model to time (.onnx, a shipped model name; .engine/.plan for TensorRT), or 'all': every model "
                   "shipped in the package (default first). Repeat to compare models side by side, e.g. an FP32 "
                   "and an INT8 export. Default: the file the default model runs from on this device (its INT8 "
                   "file on CPU; ~10 s), or $AGEGENDER_EDGE_MODEL when set.")
@click.option("--backend", "backends", multiple=True, type=click.Choice(["auto", "onnxruntime", "tensorrt"]),
              default=("auto",), show_default=True,
              help="Backends for each model. auto = ONNX Runtime, plus TensorRT when it and a GPU are "
                   "present. Repeat to list several; unavailable ones are reported as skipped.")
@click.option("--device", default="cpu", show_default=True, callback=device_callback,
              help="ONNX Runtime device: cpu, cuda or cuda:N.")
@click.option("--torch-checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Also time this training checkpoint in PyTorch eager mode (reference; needs the [train] extra).")
@click.option("--batch-sizes", default="1,8,32", show_default=True, callback=_batch_sizes,
              help="Comma-separated batch sizes for the model-only timing.")
@click.option("--faces", type=click.Path(exists=True, path_type=Path), default=None,
              help=f"Real face chips for model-only timing: a folder of face images or a prepared .h5 (val "
                   f"split). Default: {DEFAULT_FACES} if present (run from the checkout), else random pixels, "
                   f"said on stderr and in the report; the end-to-end table needs a folder of faces.")
@click.option("--face-limit", default=256, show_default=True, type=click.IntRange(1),
              help="At most this many faces are loaded (they are cycled to fill batches).")
@click.option("--warmup", default="0.5s", show_default=True,
              help="Warm-up before each configuration: a count of calls (20) or a time (0.5s, 500ms).")
@click.option("--iterations", type=click.IntRange(1), default=None,
              help="Timed calls per configuration (overrides --duration).")
@click.option("--duration", default="2s", show_default=True,
              help="Timed duration per configuration when --iterations is not given (e.g. 2s).")
@click.option("--repeats", default=1, show_default=True, type=click.IntRange(1),
              help="Measure every configuration this many times (interleaved) and report the median of each "
                   "figure; use 3+ on shared machines.")
@click.option("--threads", default=0, show_default=True, type=click.IntRange(0),
              help="ONNX Runtime intra-op threads (0 = one per core) and PyTorch threads.")
@click.option("--inter-op-threads", default=1, show_default=True, type=click.IntRange(0),
              help="ONNX Runtime inter-op threads.")
@click.option("--spinning/--no-spinning", default=None,
              help="ONNX Runtime intra-op thread spin-wait (default: the runtime's OrtOptions default).")
@click.option("--graph-opt", type=click.Choice(["disable", "basic", "extended", "all"]), default="all",
              show_default=True, help="ONNX Runtime graph optimisation level.")
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of photos: also time the whole pipeline (decode, detect, crop, inference, "
                   "postprocess) with a per-stage split and the streamed images/s.")
@click.option("--detector", default="auto", show_default=True, callback=detector_callback,
              help="Pipeline face detector: auto, haar, haar:PATH, yunet:PATH (see Predictor).")
@click.option("--detect-max-side", default=None, type=click.IntRange(0),
              help="Pipeline: detect on a copy downscaled to this longer side (default: the Predictor's).")
@click.option("--pipeline-batch", default=32, show_default=True, type=click.IntRange(1),
              help="Pipeline batch size (faces per inference call).")
@click.option("--workers", default=None, type=click.IntRange(1),
              help="Pipeline threads for decode / detect / crop (default: the Predictor's split of the cores).")
@click.option("--end-to-end/--no-end-to-end", "end_to_end", default=True, show_default=True,
              help="Also time each ONNX Runtime model end to end on the --faces files (read, decode, crop, "
                   "infer: Predictor.predict_faces), next to its model-only faces/s, with the share of the wall "
                   "time the network was busy.")
@click.option("--pipeline-only", is_flag=True, help="With --images / --video: skip the model-only timing.")
@click.option("--video", "videos", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Video file: time predict_video end to end (frames/s, per-frame latency p50/p90/p99, inference "
                   "batch sizes). Repeat for several files.")
@click.option("--video-every", default="1", show_default=True, callback=_batch_sizes,
              help="With --video: detector on every K-th frame; comma-separated values are each timed (e.g. 1,3).")
@click.option("--json", "json_out", default=None, callback=lambda c, p, v: check_output_file(v, "--json"),
              help="Write the full report as JSON to this file ('-' = stdout, the table then goes to stderr).")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=lambda c, p, v: check_output_file(v, "--plot"),
              help="Write a PNG plot: latency and faces/s vs batch size per target (needs matplotlib).")
@click.option("--table", "table_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=lambda c, p, v: check_output_file(v, "--table"),
              help="Also write the text table to this file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def bench(models, backends, device, torch_checkpoint, batch_sizes, faces, face_limit, warmup, iterations, duration,
          repeats, threads, inter_op_threads, spinning, graph_opt, images, detector, detect_max_side, pipeline_batch, workers,
          pipeline_only, end_to_end, videos, video_every, json_out, plot_out, table_out, quiet) -> None:
    """Time models (and optionally the whole pipeline) on real images.

    For every model x backend x batch size: a warm-up (count or time), then --iterations calls or
    --duration; reports min, mean, median, p90, p95, p99 latency per batch and faces/s. The
    environment (CPU, cores, threads, library versions, GPU, machine load) is in every report.
    No timing is ever asserted: this measures, it does not judge.

    \b
    Examples:
      agegender-edge bench
      agegender-edge bench --model all
      agegender-edge bench --model fp32.onnx --model int8.onnx --batch-sizes 1,8,32,64 --json r.json --plot r.png
      agegender-edge bench --images photos/ --detector yunet:face_detection_yunet.onnx --pipeline-only
    """
    from ..backends.onnxruntime import OrtOptions
    from ..bench.env import capture_environment, finish_environment
    from ..bench.model import bench_target, merge_repeats
    from ..bench.report import BenchReport, write_plot
    from ..bench.targets import OrtTarget, TensorRTTarget, TorchTarget
    from ..bench.timing import Budget
    from ..errors import AgeGenderError
    from ..shipped import default_model_path

    warm = _budget(warmup, "--warmup")
    measure = Budget(count=iterations) if iterations else _budget(duration, "--duration", min_count=3)
    check_distinct_outputs(**{"--json": None if json_out is None else Path(json_out), "--plot": plot_out,
                              "--table": table_out})
    if pipeline_only and images is None and not videos:
        raise click.BadParameter("--pipeline-only needs --images or --video", param_hint="--pipeline-only")
    if any(str(m) == "all" for m in models):
        models = tuple(m for m in models if str(m) != "all") + _default_models(every=True)
    models = tuple(dict.fromkeys(model_argument(m, file_only=True) for m in models))
    if not models:
        models = _default_models(every=False, device=device)
    if faces is None and DEFAULT_FACES.is_dir():
        faces = DEFAULT_FACES
    if faces is None and not pipeline_only:
        click.echo(f"note: no face chips given and {DEFAULT_FACES} is not here (run from the checkout, or pass "
                   f"--faces DIR): the model-only table times random pixels (synthetic input), and the end-to-end "
                   f"table (read, decode, crop, infer) is skipped: it needs --faces DIR with real face images",
                   err=True)
    elif end_to_end and faces is not None and not Path(faces).is_dir() and not pipeline_only:
        click.echo(f"note: --faces {faces} is not a folder: the end-to-end table is skipped (it reads image files)",
                   err=True)
    defaults = OrtOptions()
    ort_opts = OrtOptions(intra_op_threads=threads, inter_op_threads=inter_op_threads,
                          allow_spinning=defaults.allow_spinning if spinning is None else spinning,
                          graph_optimization=graph_opt, sequential=defaults.sequential)

    targets = []
    want = set(backends)
    for m in models:
        is_engine = m.suffix.lower() in (".engine", ".plan", ".trt")
        if is_engine:
            targets.append(TensorRTTarget(m, max_batch_size=max(batch_sizes)))
            continue
        if want & {"auto", "onnxruntime"}:
            targets.append(OrtTarget(m, ort_opts, device=device))
        if "tensorrt" in want or ("auto" in want and _tensorrt_present()):
            targets.append(TensorRTTarget(m, max_batch_size=max(batch_sizes)))
    if torch_checkpoint is not None:
        targets.append(TorchTarget(torch_checkpoint, threads=threads))

    env = capture_environment(threads=threads or None)
    config = {"models": [str(m) for m in models], "backends": list(backends), "device": device,
              "batch_sizes": batch_sizes, "warmup": warm.to_dict(), "measure": measure.to_dict(),
              "faces": str(faces) if faces else None, "repeats": repeats, "ort_options": ort_opts.__dict__.copy()}
    report = BenchReport(environment=env, config=config)
    n_cfg = 0 if pipeline_only else len(targets) * len(batch_sizes) * repeats
    progress = _Progress(n_cfg + (2 if images else 0), quiet)
    try:
        if not pipeline_only:
            runs, skipped_by = [], {}
            for _ in range(repeats):
                rows = []
                for t in targets:
                    got, skipped = bench_target(t, faces, batch_sizes, warm, measure, progress.config,
                                                face_limit=face_limit)
                    rows.extend(got)
                    if skipped:
                        skipped_by[skipped["target"]] = skipped
                runs.append(rows)
            report.model.extend(merge_repeats(runs) if repeats > 1 else runs[0])
            report.skipped.extend(skipped_by.values())
            if end_to_end and faces is not None and Path(faces).is_dir():
                progress.note("end to end")
                report.extra["end_to_end"] = _end_to_end(targets, faces, face_limit, batch_sizes, ort_opts, device,
                                                         measure, repeats, report.model)
        if images is not None:
            progress.note("pipeline")
            report.pipeline = _pipeline(models[0], images, detector, detect_max_side, pipeline_batch, workers,
                                        ort_opts, device, measure, progress)
        if videos:
            from ..bench.video import run_videos
            progress.note("video")
            # no --model: the default as Predictor() runs it (its INT8 file on CPU), what users get
            video_model = None if models[0] == default_model_path() else models[0]
            report.extra["video"] = run_videos(video_model, videos, video_every, detector, detect_max_side,
                                               pipeline_batch, ort_opts, device)
    except AgeGenderError as exc:
        raise click.ClickException(str(exc))
    finally:
        progress.close()
    finish_environment(env)
    if not report.model and not report.pipeline and not report.extra.get("video"):
        raise click.ClickException("nothing could be timed: " + "; ".join(s["reason"] for s in report.skipped))

    table = report.table()
    if report.extra.get("video"):
        from ..bench.video import video_table
        table += "\n\n" + video_table(report.extra["video"])
    if json_out == "-":
        click.echo(report.to_json())
        click.echo(table, err=True)
    else:
        click.echo(table)
        if json_out:   # folders checked before any work (cli/options.py)
            Path(json_out).write_text(report.to_json() + "\n")
            click.echo(f"wrote {json_out}", err=True)
    if table_out:
        table_out.write_text(table + "\n")
    if plot_out:
        if not report.model:
            click.echo("no model rows: plot skipped", err=True)
        else:
            try:
                write_plot(report, plot_out)
                click.echo(f"wrote {plot_out}", err=True)
            except ImportError as exc:
                raise click.ClickException(str(exc))


def _end_to_end(targets, faces: Path, face_limit: int, batch_sizes, ort_opts, device: str, measure, repeats: int,
                model_rows: list) -> list[dict]:
    """Each ONNX Runtime model through Predictor.predict_faces on the face files (what a user
    gets), at the batch size nearest 32, beside its model-only row at that batch size."""
    from ..bench.inputs import list_images
    from ..bench.pipeline import end_to_end
    from ..bench.stats import median
    from ..predictor import Predictor

    files = list_images(faces, face_limit)
    batch = 32 if 32 in batch_sizes else max(batch_sizes)
    seconds = measure.seconds if measure.seconds is not None else 2.0
    rows = []
    for t in targets:
        if t.backend != "onnxruntime":
            continue
        runs = []
        for _ in range(repeats):
            with Predictor(t.model, backend="onnxruntime", device=device, detector=None, batch_size=batch,
                           ort_options=ort_opts) as p:
                runs.append(end_to_end(p, files, "faces", seconds))
        row = dict(runs[0])
        for k in ("items_per_s", "faces_per_s", "network_busy"):
            row[k] = median([r[k] for r in runs])
        alone = next((r for r in model_rows if r["label"] == t.label and r["batch_size"] == batch), None)
        row.update(label=t.label, model=str(t.model), faces_source=f"{len(files)} files from {faces}",
                   model_only_faces_per_s=alone["items_per_s"] if alone else None)
        rows.append(row)
    return rows


def _default_models(every: bool, device: str = "cpu") -> tuple[Path, ...]:
    """No --model: the file the default Predictor runs on ``device`` (the default model's INT8
    file on CPU, its FP32 file on a GPU), a ~10 s run; ``every`` (--model all): the shipped
    models side by side, default first. Only $AGEGENDER_EDGE_MODEL when it is set (it names the
    one model this installation uses)."""
    import os

    from ..shipped import MODEL_ENV, default_for_backend, default_model_path, resolve_model, shipped_models

    if os.environ.get(MODEL_ENV):
        found = [default_model_path()]
    elif every:
        found = [resolve_model(n) for n in shipped_models()]
    else:
        found = [default_for_backend(default_model_path(), on_gpu=not str(device).lower().startswith("cpu"))]
    found = [m for m in found if m.is_file()]
    if not found:
        raise click.ClickException(f"no --model given and no shipped model found ({default_model_path()})")
    return tuple(found)


def _tensorrt_present() -> bool:
    import importlib.util
    import shutil
    return importlib.util.find_spec("tensorrt") is not None and shutil.which("nvidia-smi") is not None


def _pipeline(model: Path, images: Path, detector: str, detect_max_side: Optional[int], batch: int, workers: int,
              ort_opts, device: str, measure, progress) -> dict:
    from ..bench.inputs import list_images
    from ..bench.pipeline import stage_split, streamed
    from ..predictor import Predictor

    files = list_images(images)
    if not files:
        raise click.ClickException(f"{images}: no photos (jpg/png/bmp/webp) in this folder")
    kwargs = {} if detect_max_side is None else {"detect_max_side": detect_max_side}
    seconds = measure.seconds if measure.seconds is not None else 2.0
    with Predictor(model, backend="onnxruntime", device=device, detector=detector, batch_size=batch,
                   workers=workers, ort_options=ort_opts, **kwargs) as p:
        # warm-up: one pass (sessions, detector nets, page cache)
        list(p.predict_iter(files[: min(len(files), batch)]))
        split = stage_split(p, files)
        progress.config("pipeline", "split", 1, 0.0)
        s = streamed(p, files, min_seconds=seconds, expected_rate=1.5 * split["sequential_images_per_s"],
                     progress=lambda d, e: progress.config("pipeline", "streamed", d, e))
        return {"images_desc": f"{len(files)} photos from {images}", "detector": p.detector.describe(),
                "detect_max_side": p.detector.max_side, "batch_size": batch, "workers": p.workers,
                "threads": p.threads.describe(),
                "model": str(model), "split": split, "streamed": s}
