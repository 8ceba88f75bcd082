"""``agegender-edge predict``: files, folders and globs -> table / JSON / CSV (+ annotated images).

Exit codes: 0 when at least one image was processed (images with errors are reported on stderr
and in the output), 1 when no image could be processed, 2 for usage errors.
"""
from __future__ import annotations

import csv
import glob
import io
import json
import sys
from pathlib import Path
from typing import Optional

import click

from .options import (MIN_SCORE_HELP, detector_callback, device_callback, model_callback, output_dir_callback,
                      output_file_callback)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".jp2", ".pgm", ".ppm", ".pnm"}


def expand_inputs(inputs: tuple[str, ...], recursive: bool) -> tuple[list[str], list[str]]:
    """(files, problems). Files as given, folders expanded to their image files (sorted), globs
    expanded. A folder without image files and a pattern that matches nothing are the same kind
    of problem (an input that names no image) and are returned as messages; a plain path that
    does not exist is kept, so that it is reported as a per-file error like any unreadable file."""
    out: list[str] = []
    problems: list[str] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            pattern = "**/*" if recursive else "*"
            found = sorted(str(f) for f in p.glob(pattern) if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                problems.append(f"{item}: folder has no image files ({', '.join(sorted(IMAGE_SUFFIXES))})"
                                + ("" if recursive else "; --recursive searches its subfolders"))
            out.extend(found)
        elif any(ch in item for ch in "*?[") and not p.exists():
            matches = sorted(glob.glob(item, recursive=recursive))
            if not matches:
                problems.append(f"{item}: pattern matches no files")
            out.extend(matches)
        else:
            out.append(item)
    return out, problems


def _int(v: float) -> str:
    """A coordinate as a whole number; never "-0" (a box edge a hair left of the image is 0)."""
    return str(int(round(v)) + 0)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# JSON output: floats rounded to 6 significant digits (probabilities to ~1e-6 of their value, pixel
# coordinates to < 0.01 px, ages to < 0.001 years): the models' outputs carry no more than that,
# and 17-digit floats only make the output long. Documented in docs/ERRORS.md (output formats).
JSON_SIGNIFICANT_DIGITS = 6


def round_floats(obj, digits: int = JSON_SIGNIFICANT_DIGITS):
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}") + 0.0
    if isinstance(obj, dict):
        return {k: round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_floats(v, digits) for v in obj]
    return obj


def render_json(results) -> str:
    return json.dumps([round_floats(r.to_dict()) for r in results], indent=2)


def render_table(results) -> str:
    lines = [f"{'image':40s} {'face':>4s} {'box (x,y,w,h)':>22s} {'gender':>13s} {'age':>11s} {'group':>7s}"]
    for r in results:
        name = (r.source if len(r.source) <= 40 else "..." + r.source[-37:])
        if r.error:
            lines.append(f"{name:40s}    - ERROR {r.error_type}: {r.error}")
            continue
        if not r.faces:
            lines.append(f"{name:40s}    - no face found")
        for i, f in enumerate(r.faces, start=1):   # faces numbered from 1, as the C++ app does
            box = ",".join(_int(v) for v in (f.box.x, f.box.y, f.box.width, f.box.height))
            lines.append(f"{name:40s} {i:4d} {box:>22s} {f.gender:>6s} {f.gender_probability:5.2f} "
                         f"{f.age:5.1f}±{f.age_std:4.1f} {f.age_group:>7s}")
    return "\n".join(lines)


# One row per face (``face`` numbered from 1, as the table, JSON order and `label`'s face_index),
# or one row per image without a face (``num_faces`` 0, ``face`` and ``error`` empty: finding no
# face is a result, not an error) or that failed (``error`` set), as `label` writes its dataset.
CSV_FIELDS = ["image", "num_faces", "face", "x", "y", "width", "height", "detection_score", "gender", "gender_probability",
              "age", "age_std", "age_low_80", "age_high_80", "age_group", "age_group_probability", "error"]


def render_csv(results) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in results:
        if r.error or not r.faces:
            w.writerow({"image": r.source, "num_faces": 0, "error": r.error or ""})
        for i, f in enumerate(r.faces, start=1):
            w.writerow({"image": r.source, "num_faces": len(r.faces), "face": i,
                        "x": round(f.box.x, 1), "y": round(f.box.y, 1),
                        "width": round(f.box.width, 1), "height": round(f.box.height, 1),
                        "detection_score": round(f.detection_score, 4), "gender": f.gender,
                        "gender_probability": round(f.gender_probability, 4), "age": round(f.age, 2),
                        "age_std": round(f.age_std, 2), "age_low_80": round(f.age_interval_80[0], 1),
                        "age_high_80": round(f.age_interval_80[1], 1), "age_group": f.age_group,
                        "age_group_probability": round(f.age_group_probs[f.age_group], 4), "error": ""})
    return buf.getvalue()


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--model", type=click.Path(path_type=Path), default=None, callback=model_callback,
              help="ONNX or TensorRT engine file, or a shipped model's name (dlib_resnet_aligned [default; "
                   "its _int8 file on CPU], dlib_resnet_aligned_int8, the fast tier edge_resnet_aligned[_int8|_flip], "
                   "edge_resnet_utkface[_int8|_fast]).")
@click.option("--backend", type=click.Choice(["auto", "onnxruntime", "tensorrt"]), default="auto", show_default=True)
@click.option("--device", default=None, callback=device_callback,
              help="cpu, cuda or cuda:N (default: best available, logged).")
@click.option("--detector", default="auto", show_default=True, callback=detector_callback,
              help="auto (YuNet: the file shipped in the package, or $AGEGENDER_EDGE_YUNET), yunet[:ONNX], "
                   "haar[:XML], or none (each image is already a face crop).")
@click.option("--min-score", default=None, type=click.FloatRange(0.0, 1.0), help=MIN_SCORE_HELP)
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 1024),
              help="Faces per inference call.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=output_file_callback,
              help="Write the results to this file instead of stdout (its folder must exist).")
@click.option("--annotate", type=click.Path(file_okay=False, path_type=Path), default=None,
              callback=output_dir_callback,
              help="Folder to write copies of the images with boxes and labels (created; its parent must exist).")
@click.option("--recursive", is_flag=True, help="Search folders recursively.")
@click.option("--max-pixels", default=None, type=click.IntRange(1), help="Refuse larger images (default 50 MP).")
@click.option("--max-faces", default=64, show_default=True, type=click.IntRange(1), help="Faces kept per image.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: for > 1 file on a terminal).")
def predict(inputs, model, backend, device, detector, min_score, batch_size, fmt, output, annotate, recursive,
            max_pixels, max_faces, progress) -> None:
    """Predict age group, age and gender for every face in INPUTS (files, folders or globs)."""
    from ..errors import AgeGenderError
    from ..imageio import DEFAULT_MAX_PIXELS
    from ..predictor import Predictor

    files, problems = expand_inputs(inputs, recursive)
    if not files:
        raise click.UsageError("no input images found: " + "; ".join(problems or ["no inputs"]))
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    from .video import video_hint
    hints = [h for h in map(video_hint, files) if h]
    if hints and len(hints) == len(files):
        raise click.UsageError("; ".join(hints))
    for h in hints:
        click.echo(f"note: {h}", err=True)
    det = None if detector.lower() == "none" else detector
    try:
        predictor = Predictor(model=model, backend=backend, device=device, detector=det, batch_size=batch_size,
                              max_pixels=max_pixels or DEFAULT_MAX_PIXELS, max_faces=max_faces,
                              min_detection_score=min_score)
    except AgeGenderError as exc:
        raise click.ClickException(str(exc))
    show = progress if progress is not None else (len(files) > 1 and sys.stderr.isatty())
    # per-file errors are in the output (table row, JSON / CSV entry); on stderr too only when
    # that output is not on the terminal already (redirected, or -o FILE), so they never show twice
    report_errors = output is not None or not stdout_is_terminal()
    results = []
    from tqdm import tqdm
    with predictor, tqdm(total=len(files), unit="img", disable=not show, file=sys.stderr) as bar:
        for r in predictor.predict_iter(files):
            results.append(r)
            bar.update(1)
            if r.error and report_errors:
                click.echo(f"error: {r.error}", err=True)
    if annotate is not None:
        write_annotations(results, annotate)
    text = {"table": render_table, "csv": render_csv}.get(fmt)
    body = text(results) if text else render_json(results)
    if output:
        output.write_text(body + ("" if body.endswith("\n") else "\n"))
    else:
        click.echo(body, nl=not body.endswith("\n"))   # CSV ends with its own newline: no blank line
    ok = sum(1 for r in results if r.ok)
    n_faces = sum(len(r.faces) for r in results)
    click.echo(f"{ok}/{len(results)} images processed, {plural(n_faces, 'face')}", err=True)
    if ok == 0:
        sys.exit(1)


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):   # closed or replaced stdout
        return False


def write_annotations(results, out_dir: Path) -> None:
    """One annotated copy per processed image, inside ``out_dir`` only; an image that cannot be
    annotated (changed since, or its name refused) is reported on stderr, the others go on."""
    from ..annotate import write_annotated
    from ..errors import AgeGenderError
    from ..imageio import load_image

    from .options import make_output_dir

    make_output_dir(out_dir)   # checked before any work: only this last level is created
    taken: set[str] = set()
    for r in results:
        if not r.ok:
            continue
        try:
            img = load_image(r.source, None, max(r.width * r.height, 1)).bgr
            write_annotated(out_dir, r.source, img, r, taken)
        except AgeGenderError as exc:
            click.echo(f"error: annotate: {exc}", err=True)
