"""Post-hoc calibration of an exported model: fit, measure, store in the metadata.

What is fitted (metadata.CalibrationSpec; applied by every runtime's decoder, decode.py and
cpp/src/decode.cpp):
* gender temperature T: p' = sigmoid(logit(p) / T), T minimising the negative log-likelihood of
  the true gender on the fitting faces (a bounded 1-D search over log T);
* the age-interval quantile pair (lo, hi) = (0.5 - w, 0.5 + w): symmetric around the median in
  CDF terms, with w the 80th percentile of |F_i(true age_i) - 0.5|, so that on the fitting faces
  80% of true ages fall inside [Q_i(lo), Q_i(hi)] (F_i / Q_i: face i's age CDF / quantile, with
  the runtime's own interpolation, decode.age_quantiles).

Fit on data the model was NOT selected on: ``split_by_hash`` puts each face in the fitting or the
reporting part by a fixed hash of its file name (stable across runs and machines); figures are
reported before/after on both parts, and the held-out (reporting) part is the one to quote.

Faces go through the runtime's own preprocessing (preprocess.face_input: the same crop /
alignment rule ``Predictor`` uses, on the same detector output) and its ONNX Runtime runner; only
the decode step is done here, from the raw network outputs, so the fit sees uncalibrated
probabilities even when the model already carries a calibration.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..decode import age_quantiles, calibrate_gender
from ..metadata import FORMAT_VERSION, CalibrationSpec, ModelMetadata
from ..subject import subject_index

ECE_BINS = 10                 # equal-width confidence bins over [0, 1]
NOMINAL_COVERAGE = 0.8        # the "80%" of age_interval_80
TEMPERATURE_RANGE = (0.05, 20.0)
HASH_SALT = "agegender-edge/calibration/v1"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


# -- data --------------------------------------------------------------------------------------
@dataclass
class LabelledImages:
    """Image files with gender (index into the model's gender_labels) and age (NaN: unknown)."""

    paths: list[Path]
    gender: np.ndarray            # int, index into ``gender_labels``
    age: np.ndarray               # float32, NaN where the data set has no age
    gender_labels: tuple[str, ...] = ("female", "male")

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, mask: np.ndarray) -> "LabelledImages":
        idx = np.flatnonzero(mask)
        return LabelledImages([self.paths[i] for i in idx], self.gender[idx], self.age[idx], self.gender_labels)

    def gender_as(self, labels: Sequence[str]) -> np.ndarray:
        """The genders as indices into another label order (a model's metadata.gender_labels)."""
        missing = set(self.gender_labels) - set(labels)
        if missing:
            raise ValueError(f"the model's gender labels {tuple(labels)} lack {sorted(missing)}")
        remap = np.array([list(labels).index(g) for g in self.gender_labels])
        return remap[self.gender]


def _gender_name(row: dict) -> Optional[str]:
    name = (row.get("gender_name") or "").strip().lower()
    if name in ("male", "female"):
        return name
    raw = (row.get("gender") or "").strip().upper()
    return {"M": "male", "F": "female"}.get(raw)


def load_labelled_images(images: Path, labels: Optional[Path] = None, split: Optional[str] = None,
                         gender_labels: Sequence[str] = ("female", "male"), limit: Optional[int] = None
                         ) -> LabelledImages:
    """A folder of images with labels from ``labels`` (CSV with ``file`` and ``gender_name``
    (UTKFace labels.csv) or ``gender`` M/F (LFW), optional ``age`` and ``split``), or, without a
    CSV, from UTKFace file names ({age}_{gender}_...)."""
    images = Path(images)
    if not images.is_dir():
        raise FileNotFoundError(f"{images}: not a folder of images")
    index = {g: i for i, g in enumerate(gender_labels)}
    paths, gender, age = [], [], []
    if labels is not None:
        with open(labels, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows or "file" not in rows[0]:
            raise ValueError(f"{labels}: needs a header with a 'file' column")
        if split is not None and "split" not in rows[0]:
            raise ValueError(f"{labels}: --split {split} given but the CSV has no 'split' column")
        for row in rows:
            if split is not None and row["split"] != split:
                continue
            g = _gender_name(row)
            path = images / row["file"]
            if g is None or g not in index or not path.is_file():
                continue
            paths.append(path); gender.append(index[g])
            a = (row.get("age") or "").strip()
            age.append(float(a) if a else math.nan)
    else:
        from .data.utkface import GENDER_LABELS, parse_utkface_name
        for path in sorted(images.iterdir()):
            parsed = parse_utkface_name(path.name) if path.suffix.lower() in IMAGE_SUFFIXES else None
            if parsed is None:
                continue
            a, g, _race = parsed
            paths.append(path); gender.append(index[GENDER_LABELS[g]]); age.append(float(a))
    if limit:
        paths, gender, age = paths[:limit], gender[:limit], age[:limit]
    if not paths:
        raise FileNotFoundError(f"{images}: no labelled images found"
                                + (f" (labels {labels}, split {split})" if labels else ""))
    return LabelledImages(paths, np.asarray(gender, dtype=np.int64), np.asarray(age, dtype=np.float32),
                          tuple(gender_labels))


def split_by_hash(names: Sequence[str], fit_fraction: float, salt: str = HASH_SALT) -> np.ndarray:
    """Boolean mask, True = fitting part: sha256(salt + file name) mapped to [0, 1) < fit_fraction.
    Depends only on the name, so a face keeps its part whatever else is in the set."""
    if not 0.0 < fit_fraction < 1.0:
        raise ValueError(f"fit_fraction must be in (0, 1), not {fit_fraction}")
    def u(name: str) -> float:
        return int.from_bytes(hashlib.sha256((salt + Path(name).name).encode()).digest()[:8], "big") / 2.0 ** 64
    return np.array([u(n) < fit_fraction for n in names], dtype=bool)


# -- running the model through the runtime's preprocessing -------------------------------------
@dataclass
class RawOutputs:
    """Uncalibrated network outputs for the faces that were found (``found`` indexes the input)."""

    gender_probs: np.ndarray      # [N, 2]
    age_bin_probs: np.ndarray     # [N, K]
    found: np.ndarray             # [N] indices into the LabelledImages
    missed: list[str] = field(default_factory=list)    # file names without a (subject) face
    errors: dict[str, str] = field(default_factory=dict)
    metadata: Optional[ModelMetadata] = None


def collect_outputs(model: Path, data: LabelledImages, detector="none", batch_size: int = 64) -> RawOutputs:
    """Raw outputs per image: ``detector="none"`` treats each image as a face chip (as
    ``Predictor.predict_faces``); a detector spec ("auto", "haar", "yunet[:PATH]") runs it as
    ``Predictor.predict`` does and keeps the subject (``subject_index``)."""
    from ..backends.onnxruntime import OnnxRuntimeRunner
    from ..detection import create_detector
    from ..detection.whole_image import WholeImage
    from ..errors import AgeGenderError
    from ..imageio import DEFAULT_MAX_PIXELS, load_image
    from ..metadata import OUTPUT_AGE_BINS, OUTPUT_GENDER
    from ..preprocess import face_input

    det = WholeImage() if detector in (None, "none") else create_detector(detector)
    g_all, b_all, found, missed, errors = [], [], [], [], {}
    try:
        with OnnxRuntimeRunner(model, providers=["CPUExecutionProvider"]) as runner:
            meta = runner.metadata
            pending: list[np.ndarray] = []
            pending_idx: list[int] = []

            def flush() -> None:
                if not pending:
                    return
                x = np.ascontiguousarray(np.stack(pending).transpose(0, 3, 1, 2), dtype=np.float32)
                out = runner.infer(x)
                g_all.append(out[OUTPUT_GENDER]); b_all.append(out[OUTPUT_AGE_BINS]); found.extend(pending_idx)
                pending.clear(); pending_idx.clear()

            for i, path in enumerate(data.paths):
                try:
                    bgr = load_image(path, None, DEFAULT_MAX_PIXELS).bgr
                except AgeGenderError as exc:
                    errors[path.name] = str(exc)
                    continue
                dets = det.detect(bgr)
                h, w = bgr.shape[:2]
                k = subject_index([(d.x, d.y, d.width, d.height) for d in dets], w, h)
                if k is None:
                    missed.append(path.name)
                    continue
                face, _crop, _aligned = face_input(bgr, dets[k], det.calibration, meta)
                pending.append(face); pending_idx.append(i)
                if len(pending) >= batch_size:
                    flush()
            flush()
            k = len(meta.age_bins)
    finally:
        det.close()
    return RawOutputs(np.concatenate(g_all) if g_all else np.zeros((0, 2), np.float32),
                      np.concatenate(b_all) if b_all else np.zeros((0, k), np.float32),
                      np.asarray(found, dtype=np.int64), missed, errors, meta)


# -- measures ------------------------------------------------------------------------------------
def reliability_bins(confidence: np.ndarray, correct: np.ndarray, n_bins: int = ECE_BINS) -> list[dict]:
    """Per equal-width confidence bin over [0, 1]: count, mean confidence, accuracy."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        m = which == b
        out.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "count": int(m.sum()),
                    "confidence": float(confidence[m].mean()) if m.any() else None,
                    "accuracy": float(correct[m].mean()) if m.any() else None})
    return out


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """ECE: sum over equal-width confidence bins of (bin share) x |accuracy - mean confidence|."""
    n = len(confidence)
    if n == 0:
        return math.nan
    return float(sum(b["count"] / n * abs(b["accuracy"] - b["confidence"])
                     for b in reliability_bins(confidence, correct, n_bins) if b["count"]))


def gender_stats(probs: np.ndarray, truth: np.ndarray) -> dict:
    """Accuracy, mean confidence, ECE, NLL and reliability bins of two-class probabilities."""
    probs = np.asarray(probs, dtype=np.float64)
    pred = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    correct = pred == truth
    p_true = np.clip(probs[np.arange(len(truth)), truth], 1e-12, 1.0)
    return {"n": int(len(truth)), "accuracy": float(correct.mean()), "mean_confidence": float(conf.mean()),
            "ece": expected_calibration_error(conf, correct), "nll": float(-np.log(p_true).mean()),
            "bins": reliability_bins(conf, correct)}


def _nll(p1: np.ndarray, y: np.ndarray, temperature: float) -> float:
    p = calibrate_gender(np.stack([1 - p1, p1], axis=1), temperature).astype(np.float64)
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0)).mean())


def fit_temperature(probs: np.ndarray, truth: np.ndarray) -> float:
    """T minimising the NLL of ``truth`` under sigmoid(logit(p1) / T) (bounded search on log T)."""
    from scipy.optimize import minimize_scalar

    p1 = np.asarray(probs, dtype=np.float64)[:, 1]
    truth = np.asarray(truth, dtype=np.int64)
    lo, hi = (math.log(t) for t in TEMPERATURE_RANGE)
    res = minimize_scalar(lambda lt: _nll(p1, truth, math.exp(lt)), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-6})
    return float(math.exp(res.x))


def cdf_at(bin_probs: np.ndarray, bins: np.ndarray, ages: np.ndarray) -> np.ndarray:
    """F_i(age_i): each face's age CDF at its true age, the inverse of decode.age_quantiles
    (linear within the bin CDF; ages outside the bins clip to 0 / 1)."""
    cdf = np.cumsum(np.asarray(bin_probs, dtype=np.float32), axis=1)
    cdf /= cdf[:, -1:]
    return np.array([np.interp(a, bins, c) for a, c in zip(ages, cdf)], dtype=np.float64)


def fit_interval_quantiles(bin_probs: np.ndarray, bins: np.ndarray, ages: np.ndarray,
                           coverage: float = NOMINAL_COVERAGE) -> tuple[float, float]:
    """(0.5 - w, 0.5 + w) with w the ``coverage`` quantile of |F_i(age_i) - 0.5|."""
    u = cdf_at(bin_probs, bins, ages)
    w = float(np.quantile(np.abs(u - 0.5), coverage))
    w = min(max(w, 1e-3), 0.5 - 1e-4)
    return (round(0.5 - w, 6), round(0.5 + w, 6))


def interval_stats(bin_probs: np.ndarray, bins: np.ndarray, ages: np.ndarray,
                   quantiles: tuple[float, float]) -> dict:
    """Coverage of true ages and mean width of the runtime's interval for a quantile pair."""
    q = age_quantiles(np.asarray(bin_probs, dtype=np.float32), bins, quantiles).astype(np.float64)
    inside = (ages >= q[:, 0]) & (ages <= q[:, 1])
    return {"n": int(len(ages)), "quantiles": list(quantiles), "coverage": float(inside.mean()),
            "mean_width": float((q[:, 1] - q[:, 0]).mean())}


# -- the whole job -------------------------------------------------------------------------------
@dataclass
class CalibrationReport:
    calibration: CalibrationSpec
    model: str
    data: dict
    parts: dict                   # "fit" / "held_out" -> {"gender": {before, after}, "age_interval": {...}}

    def to_dict(self) -> dict:
        return {"calibration": asdict(self.calibration), "model": self.model, "data": self.data, "parts": self.parts}

    def summary(self) -> str:
        lines = [f"calibration: gender_temperature {self.calibration.gender_temperature:.4f}, "
                 f"age_interval_quantiles {tuple(self.calibration.age_interval_quantiles)}"]
        for part, figs in self.parts.items():
            g = figs.get("gender")
            if g:
                lines.append(f"  {part:9s} gender (n={g['before']['n']}): ECE {g['before']['ece']:.4f} -> "
                             f"{g['after']['ece']:.4f}, mean confidence {g['before']['mean_confidence']:.4f} -> "
                             f"{g['after']['mean_confidence']:.4f}, accuracy {g['after']['accuracy']:.4f}")
            a = figs.get("age_interval")
            if a:
                lines.append(f"  {part:9s} age interval (n={a['before']['n']}): coverage {a['before']['coverage']:.4f} -> "
                             f"{a['after']['coverage']:.4f}, mean width {a['before']['mean_width']:.2f} -> "
                             f"{a['after']['mean_width']:.2f} y")
        return "\n".join(lines)


def _part_figures(raw: RawOutputs, rows: np.ndarray, data: LabelledImages, bins: np.ndarray,
                  calib: CalibrationSpec) -> dict:
    g_true = data.gender_as(raw.metadata.gender_labels)[raw.found[rows]]
    probs = raw.gender_probs[rows]
    figs = {"gender": {"before": gender_stats(probs, g_true),
                       "after": gender_stats(calibrate_gender(probs, calib.gender_temperature), g_true)}}
    ages = data.age[raw.found[rows]].astype(np.float64)
    has_age = np.isfinite(ages)
    if has_age.any():
        b = raw.age_bin_probs[rows][has_age]
        figs["age_interval"] = {"before": interval_stats(b, bins, ages[has_age], CalibrationSpec().age_interval_quantiles),
                                "after": interval_stats(b, bins, ages[has_age], calib.age_interval_quantiles)}
    return figs


def calibrate(model: Path, data: LabelledImages, fit_fraction: float = 0.5, detector="none",
              fitted_on: str = "") -> tuple[CalibrationReport, RawOutputs]:
    """Fit on the hash-selected ``fit_fraction`` of ``data``; report on both parts."""
    raw = collect_outputs(model, data, detector)
    bins = np.asarray(raw.metadata.age_bins, dtype=np.float32)
    if len(raw.found) == 0:
        raise ValueError(f"no faces found in {len(data)} images (detector {detector})")
    fit_mask = split_by_hash([data.paths[i].name for i in raw.found], fit_fraction)
    fit_rows, held_rows = np.flatnonzero(fit_mask), np.flatnonzero(~fit_mask)
    if len(fit_rows) < 20 or len(held_rows) < 20:
        raise ValueError(f"too few faces to fit and report ({len(fit_rows)} fitting, {len(held_rows)} held out); "
                         f"use more data or another --fit-fraction")
    g_true = data.gender_as(raw.metadata.gender_labels)[raw.found[fit_rows]]
    temperature = fit_temperature(raw.gender_probs[fit_rows], g_true)
    ages = data.age[raw.found[fit_rows]].astype(np.float64)
    has_age = np.isfinite(ages)
    quantiles = (fit_interval_quantiles(raw.age_bin_probs[fit_rows][has_age], bins, ages[has_age])
                 if has_age.sum() >= 20 else CalibrationSpec().age_interval_quantiles)
    calib = CalibrationSpec(gender_temperature=round(temperature, 6), age_interval_quantiles=quantiles,
                            fitted_on=fitted_on)
    parts = {"fit": _part_figures(raw, fit_rows, data, bins, calib),
             "held_out": _part_figures(raw, held_rows, data, bins, calib)}
    info = {"images": len(data), "faces": int(len(raw.found)), "missed": len(raw.missed),
            "missed_files": raw.missed[:50], "errors": raw.errors, "detector": str(detector),
            "fit_fraction": fit_fraction, "hash_salt": HASH_SALT, "fit_faces": int(len(fit_rows)),
            "held_out_faces": int(len(held_rows)), "ece_bins": ECE_BINS,
            "age_interval_fitted": bool(has_age.sum() >= 20)}
    return CalibrationReport(calib, str(model), info, parts), raw


def write_calibrated_model(src: Path, dst: Path, calibration: CalibrationSpec) -> ModelMetadata:
    """A copy of ``src`` whose metadata carries ``calibration`` (format_version 2: a runtime that
    predates calibration refuses the file instead of silently ignoring it). The weights are
    unchanged and their checksum is rewritten by onnx_meta.write_metadata."""
    import onnx

    from ..engine.onnx_meta import read_metadata, write_metadata

    model = onnx.load(str(src))
    meta = read_metadata(model, str(src))
    meta = write_metadata(model, meta.replace(calibration=calibration, format_version=FORMAT_VERSION))
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return meta


def plot_reliability(report: CalibrationReport, path: Path, part: str = "held_out", title: str = "") -> None:
    """Reliability diagram (accuracy vs confidence per bin, before / after) of one part, with the
    age-interval coverage before / after beside it when the data has ages."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = report.parts[part]
    has_age = "age_interval" in figs
    fig, axes = plt.subplots(1, 2 if has_age else 1, figsize=(9.6 if has_age else 5.2, 4.6), squeeze=False)
    reliability_axes(axes[0, 0], {"uncalibrated": figs["gender"]["before"], "calibrated": figs["gender"]["after"]})
    axes[0, 0].set_title(f"gender, {part} (n={figs['gender']['before']['n']})", fontsize=9)
    if has_age:
        ax = axes[0, 1]
        a = figs["age_interval"]
        labels = [f"q {a['before']['quantiles'][0]:.3f}-{a['before']['quantiles'][1]:.3f}",
                  f"q {a['after']['quantiles'][0]:.3f}-{a['after']['quantiles'][1]:.3f}"]
        ax.bar(labels, [a["before"]["coverage"], a["after"]["coverage"]], color=["#bbbbbb", "#3070b0"])
        ax.axhline(NOMINAL_COVERAGE, color="k", ls="--", lw=1, label="nominal 0.80")
        for i, k in enumerate(("before", "after")):
            ax.text(i, a[k]["coverage"] + 0.01, f"{a[k]['coverage']:.3f}\nwidth {a[k]['mean_width']:.1f} y",
                    ha="center", fontsize=8)
        ax.set_ylim(0, 1.05); ax.set_ylabel("coverage of true ages"); ax.legend(fontsize=8, loc="lower right")
        ax.set_title(f"age_interval_80, {part} (n={a['before']['n']})", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def reliability_axes(ax, curves: dict) -> None:
    """Draw reliability curves (name -> gender_stats dict) on one matplotlib axis."""
    ax.plot([0, 1], [0, 1], color="k", ls="--", lw=1)
    for (name, stats), colour in zip(curves.items(), ("#999999", "#3070b0", "#c04040", "#40a040")):
        pts = [(b["confidence"], b["accuracy"], b["count"]) for b in stats["bins"] if b["count"]]
        if pts:
            c, acc, n = zip(*pts)
            ax.plot(c, acc, "o-", color=colour, label=f"{name}: ECE {stats['ece']:.4f}")
            for x, y, k in zip(c, acc, n):
                ax.annotate(str(k), (x, y), fontsize=6, textcoords="offset points", xytext=(2, -8), color=colour)
    ax.set_xlim(0.45, 1.0); ax.set_ylim(0.3, 1.02)
    ax.set_xlabel("confidence (10 equal-width bins)"); ax.set_ylabel("accuracy")
    ax.legend(fontsize=8, loc="upper left")


def save_report(report: CalibrationReport, out_dir: Path, stem: str = "calibration") -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{stem}.json"}
    paths["json"].write_text(json.dumps(report.to_dict(), indent=1) + "\n")
    for part in report.parts:
        paths[part] = out_dir / f"{stem}_{part}.png"
        plot_reliability(report, paths[part], part, title=f"{Path(report.model).name}: calibration ({part})")
    return paths
