"""In-the-wild acceptance (issue 11): the whole pipeline with the defaults on the LFW dev set.

Every photo of ../shared/data/lfw goes through ``Predictor().predict`` (default model, backend and
detector unless --model / --detector say otherwise). The subject is the detected face nearest
the image centre whose centre lies within a quarter of the image side of it (the data set's
README rule); a photo without such a face is a miss and counts as wrong. Reported: found rate,
balanced gender accuracy (mean of male and female recall, misses wrong), both recalls, gender
ECE (10 equal-width confidence bins, over the found subjects) with a reliability diagram, and
photos/s of the whole predict call (decode + detect + crop + inference).

    python benchmarks/lfw_eval.py                       # defaults -> benchmarks/results/lfw_<model>.json/.md
    python benchmarks/lfw_eval.py --detector haar --out /tmp/lfw_haar
    python benchmarks/lfw_eval.py --faces-npz /tmp/lfw_faces.npz   # per-photo gender probabilities
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np

from agegender_edge import Predictor
from agegender_edge.subject import subject_index
from agegender_edge.train.calibrate import ECE_BINS, gender_stats, reliability_axes
from agegender_edge.train.intervals import balanced_accuracy_interval, mean_interval

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lfw"
CHUNK = 64        # photos per predict() call: all their faces share the inference batches


def load_labels(data: Path) -> list[tuple[str, str]]:
    """(file, "male" | "female") per photo of labels.csv (file,identity,gender M/F)."""
    with open(data / "labels.csv", newline="") as fh:
        return [(row["file"], {"M": "male", "F": "female"}[row["gender"].strip().upper()]) for row in csv.DictReader(fh)]


def run(data: Path, model, detector, limit=None) -> dict:
    rows = load_labels(data)[:limit]
    kwargs = {} if detector is None else {"detector": detector}
    with Predictor(model, **kwargs) as predictor:
        labels = predictor.metadata.gender_labels
        p_male = np.full(len(rows), np.nan)
        n_faces = np.zeros(len(rows), dtype=np.int64)
        errors = {}
        predictor.predict([str(data / "images" / rows[0][0])])    # warm-up (session, detector)
        load_start = os.getloadavg()[0]
        start = time.perf_counter()
        for s in range(0, len(rows), CHUNK):
            chunk = rows[s:s + CHUNK]
            results = predictor.predict([str(data / "images" / f) for f, _ in chunk])
            for j, r in enumerate(results):
                i = s + j
                if not r.ok:
                    errors[chunk[j][0]] = r.error
                    continue
                n_faces[i] = len(r.faces)
                k = subject_index([(f.box.x, f.box.y, f.box.width, f.box.height) for f in r.faces], r.width, r.height)
                if k is not None:
                    f = r.faces[k]
                    p_male[i] = f.gender_probability if f.gender == "male" else 1.0 - f.gender_probability
        seconds = time.perf_counter() - start
        described = {"model": predictor.model_path.name, "model_name": predictor.metadata.name,
                     "precision": predictor.metadata.precision, "backend": predictor.runner.describe(),
                     "detector": predictor.detector.describe(),
                     "calibration": {"gender_temperature": predictor.metadata.calibration.gender_temperature,
                                     "fitted_on": predictor.metadata.calibration.fitted_on}}
    truth_male = np.array([g == "male" for _, g in rows])
    found = np.isfinite(p_male)
    pred_male = np.where(found, p_male > 0.5, False)
    correct = found & (pred_male == truth_male)
    male_recall = float(correct[truth_male].mean())
    female_recall = float(correct[~truth_male].mean())
    mi, fi = labels.index("male"), labels.index("female")     # probability columns follow gender_labels
    probs = np.zeros((int(found.sum()), 2))
    probs[:, mi], probs[:, fi] = p_male[found], 1.0 - p_male[found]
    stats = gender_stats(probs, np.where(truth_male[found], mi, fi))
    # 95% bootstrap intervals (photos resampled): a difference smaller than these is noise
    ci = {"balanced_accuracy": balanced_accuracy_interval(correct, truth_male),
          "male_recall": mean_interval(correct[truth_male]), "female_recall": mean_interval(correct[~truth_male])}
    return {
        **described,
        "data": str(data), "photos": len(rows), "male": int(truth_male.sum()), "female": int((~truth_male).sum()),
        "found_rate": float(found.mean()), "misses": [rows[i][0] for i in np.flatnonzero(~found)],
        "errors": errors,
        "balanced_accuracy": (male_recall + female_recall) / 2, "male_recall": male_recall,
        "female_recall": female_recall, "accuracy_misses_wrong": float(correct.mean()),
        "ci95": {k: [round(v, 4) for v in lohi] for k, lohi in ci.items()},
        "gender_ece": stats["ece"], "gender_mean_confidence": stats["mean_confidence"],
        "gender_accuracy_found": stats["accuracy"], "ece_bins": ECE_BINS, "reliability": stats["bins"],
        "faces_per_photo_mean": float(n_faces.mean()),
        "seconds": seconds, "photos_per_s": len(rows) / seconds,
        # photos/s depends on what else runs: the load average says how busy the machine was
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_1min_start": load_start, "load_average_1min_end": os.getloadavg()[0]},
        "_arrays": {"files": np.array([f for f, _ in rows]), "p_male": p_male, "truth_male": truth_male,
                    "faces": n_faces},
    }


def write_markdown(r: dict, path: Path, command: str) -> None:
    lines = [f"# LFW dev set, whole pipeline: {r['model']}", "",
             f"`{command}`", "",
             f"{r['photos']} photos ({r['male']} M / {r['female']} F); subject = the detected face nearest the "
             f"centre (within a quarter of the side); misses count as wrong.", "",
             "| model | detector | found | balanced acc | male recall | female recall | gender ECE | photos/s |",
             "|---|---|---|---|---|---|---|---|",
             f"| {r['model']} ({r['precision']}) | {r['detector']} | {r['found_rate']:.4f} | "
             f"{r['balanced_accuracy']:.4f} | {r['male_recall']:.4f} | {r['female_recall']:.4f} | "
             f"{r['gender_ece']:.4f} | {r['photos_per_s']:.1f} |", "",
             "95% bootstrap intervals (photos resampled): "
             + ", ".join(f"{k.replace('_', ' ')} [{lo:.4f}, {hi:.4f}]" for k, (lo, hi) in r["ci95"].items()) + ".", "",
             f"Backend: {r['backend']}. Gender calibration: T = {r['calibration']['gender_temperature']}"
             f"{' (' + r['calibration']['fitted_on'] + ')' if r['calibration']['fitted_on'] else ' (none)'}. "
             f"ECE over the {int(round(r['found_rate'] * r['photos']))} found subjects, {r['ece_bins']} equal-width "
             f"confidence bins; mean confidence {r['gender_mean_confidence']:.4f}, accuracy "
             f"{r['gender_accuracy_found']:.4f}. Machine: {r['machine']['cpus']} CPUs, {r['machine']['platform']}, "
             f"1-min load average {r['machine']['load_average_1min_start']:.1f} at the start (photos/s depends "
             f"on it).", "",
             f"Misses ({len(r['misses'])}): {', '.join(r['misses'][:20])}{' ...' if len(r['misses']) > 20 else ''}", ""]
    path.write_text("\n".join(lines))


def plot(r: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    reliability_axes(ax, {"gender": {"bins": r["reliability"], "ece": r["gender_ece"]}})
    detector = r["detector"].split(" ")[0]      # "yunet (file.onnx)" -> "yunet"
    ax.set_title(f"LFW dev, {Path(r['model']).stem} + {detector}: balanced {r['balanced_accuracy']:.3f}, "
                 f"found {r['found_rate']:.3f}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="LFW dev folder (labels.csv + images/)")
    ap.add_argument("--model", default=None, help="model path or shipped name (default: the SDK's default)")
    ap.add_argument("--detector", default=None, help="detector spec (default: the SDK's default)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="output folder")
    ap.add_argument("--faces-npz", type=Path, default=None,
                    help="also write per-photo file, p_male (NaN = miss), truth_male, faces found")
    ap.add_argument("--limit", type=int, default=None, help="first N photos only (smoke runs)")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    r = run(a.data, a.model, a.detector, a.limit)
    arrays = r.pop("_arrays")
    a.out.mkdir(parents=True, exist_ok=True)
    stem = f"lfw_{Path(r['model']).stem}" + (f"_{a.detector.split(':')[0]}" if a.detector else "")
    command = "python benchmarks/lfw_eval.py" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in (("model", a.model), ("detector", a.detector), ("limit", a.limit)) if v)
    r["command"] = command
    (a.out / f"{stem}.json").write_text(json.dumps(r, indent=1) + "\n")
    write_markdown(r, a.out / f"{stem}.md", command)
    plot(r, a.out / f"{stem}_reliability.png")
    if a.faces_npz:
        a.faces_npz.parent.mkdir(parents=True, exist_ok=True)
        np.savez(a.faces_npz, **arrays)
    lo, hi = r["ci95"]["balanced_accuracy"]
    print(f"{r['model']} + {r['detector']}: found {r['found_rate']:.4f}, balanced {r['balanced_accuracy']:.4f} "
          f"[95% {lo:.4f}, {hi:.4f}] "
          f"(male {r['male_recall']:.4f}, female {r['female_recall']:.4f}), ECE {r['gender_ece']:.4f}, "
          f"{r['photos_per_s']:.1f} photos/s -> {a.out / stem}.json/.md")


if __name__ == "__main__":
    main()
