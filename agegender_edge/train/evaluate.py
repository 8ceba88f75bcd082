"""Evaluation: load labelled faces, run a model (our ONNX, a checkpoint, or the CC0 baseline),
compute metrics, write JSON, a confusion-matrix PNG and a per-group table."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..labels import AGE_GROUP_LABELS, age_to_group_nearest
from .metrics import EvalReport, Predictions, evaluate_predictions


@dataclass
class LabelledFaces:
    chips: list[np.ndarray]     # RGB uint8 chips (any square-ish size)
    gender: np.ndarray
    age_group: np.ndarray
    age: np.ndarray
    race: np.ndarray
    files: list[str]
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> file names

    def __len__(self) -> int:
        return len(self.chips)


def load_labelled(data: Path, split: Optional[str] = None, folds: Optional[set[int]] = None,
                  limit: Optional[int] = None, aaf_manifest: Optional[Path] = None) -> LabelledFaces:
    """An .h5 from 'prepare', a folder of UTKFace-named images, or (with ``aaf_manifest``) a
    folder of All-Age-Faces images read through its manifest (train/data/aaf.py: only listed
    files; ``split`` selects manifest rows). Unreadable files are skipped and listed by name."""
    data = Path(data)
    if aaf_manifest is not None:
        return _load_aaf(data, Path(aaf_manifest), split, limit)
    if data.is_file() and data.suffix in (".h5", ".hdf5"):
        from .data.h5pack import read_h5
        arr = read_h5(data, split=split, folds=folds, limit=limit)
        return LabelledFaces(list(arr.images), arr.gender, arr.age_group, arr.age, arr.race, arr.files)
    if not data.is_dir():
        raise FileNotFoundError(f"{data}: not an .h5 file or a folder of UTKFace-named images")
    from .data.utkface import IMAGE_SUFFIXES, parse_utkface_name

    chips, g, a, grp, race, files = [], [], [], [], [], []
    skipped: dict[str, list[str]] = {}
    for path in sorted(data.iterdir()):
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        parsed = parse_utkface_name(path.name)
        if parsed is None:
            skipped.setdefault("unparseable_name", []).append(path.name)
            continue
        rgb = _read_rgb(path, skipped)
        if rgb is None:
            continue
        chips.append(rgb)
        age, gender, r = parsed
        g.append(gender); a.append(float(age)); grp.append(age_to_group_nearest(age)); race.append(r)
        files.append(path.name)
        if limit and len(chips) >= limit:
            break
    if not chips:
        raise FileNotFoundError(f"{data}: no readable UTKFace-named images ({sum(map(len, skipped.values()))} skipped)")
    return LabelledFaces(chips, np.array(g), np.array(grp), np.array(a, dtype=np.float32), np.array(race), files, skipped)


def _read_rgb(path: Path, skipped: dict[str, list[str]]) -> Optional[np.ndarray]:
    """An evaluation image as RGB (EXIF-upright, as the runtime reads it), or None when it cannot
    be read (listed by name under ``skipped["unreadable_image"]``)."""
    from ..errors import InvalidImageError
    from ..imageio import DEFAULT_MAX_PIXELS, load_image

    try:
        return load_image(path, None, DEFAULT_MAX_PIXELS).bgr[:, :, ::-1]
    except InvalidImageError:
        skipped.setdefault("unreadable_image", []).append(Path(path).name)
        return None


def _load_aaf(folder: Path, manifest: Path, split: Optional[str], limit: Optional[int]) -> LabelledFaces:
    from .data.aaf import read_aaf
    from .data.records import DropCounter

    drops = DropCounter()
    chips, g, a, grp, files = [], [], [], [], []
    skipped: dict[str, list[str]] = {}
    for rec in read_aaf(folder, manifest, drops, {split} if split else None):
        rgb = _read_rgb(rec.path, skipped)
        if rgb is None:
            continue
        chips.append(rgb)
        g.append(rec.gender); a.append(rec.age); grp.append(rec.age_group); files.append(rec.source_name)
        if limit and len(chips) >= limit:
            break
    for reason, n in drops.counts.items():
        skipped[reason] = list(drops.examples.get(reason, [])) + [f"... {n} in all"]
    if not chips:
        raise FileNotFoundError(f"{folder}: none of the manifest's AAF images found")
    return LabelledFaces(chips, np.array(g), np.array(grp), np.array(a, dtype=np.float32),
                         np.full(len(g), -1), files, skipped)


def predictions_from_results(results, group_rule: str = "argmax") -> Predictions:
    """Runtime results -> Predictions. The runtime reports the most probable group ("argmax",
    decode.py), so that is the evaluated group; the report's extra carries the other rule's
    accuracy (the group of the reported age)."""
    g, p, m = [], [], []
    for r in results:
        if not r.ok or not r.faces:
            raise RuntimeError(f"{r.source}: {r.error}")
        f = r.faces[0]
        probs = list(f.age_group_probs.values())
        male = f.gender_probability if f.gender == "male" else 1 - f.gender_probability
        g.append([1 - male, male]); p.append(probs); m.append(f.age)
    return Predictions(np.array(g, dtype=np.float32), np.array(p, dtype=np.float32), np.array(m, dtype=np.float32),
                       group_rule)


def predict_onnx(model: Path, faces: LabelledFaces, batch_size: int = 64) -> Predictions:
    """Exactly the runtime path: Predictor.predict_faces on the chips."""
    from ..predictor import Predictor

    with Predictor(model=model, detector=None, batch_size=batch_size, backend="onnxruntime", device="cpu") as p:
        return predictions_from_results(p.predict_faces(faces.chips, colour_order="RGB"))


def predict_onnx_detected(model: Path, faces: LabelledFaces, detector: str, batch_size: int = 64
                          ) -> tuple[Predictions, list[str]]:
    """The whole runtime pipeline on each chip: ``Predictor.predict`` with ``detector`` (detection,
    landmark alignment or box rule, inference); the subject is the face nearest the chip centre
    (agegender_edge/subject.py's rule). Chips where the detector finds no subject are
    returned by name and predicted with ``predict_faces`` (the ready-chip path) so every face
    stays in the figures; the caller reports how many."""
    from ..predictor import Predictor
    from ..subject import subject_index

    picked, missed = [], []
    with Predictor(model=model, detector=detector, batch_size=batch_size, backend="onnxruntime", device="cpu") as p:
        results = p.predict(list(faces.chips), colour_order="RGB")
        miss_idx = []
        for i, r in enumerate(results):
            k = subject_index([(f.box.x, f.box.y, f.box.width, f.box.height) for f in r.faces],
                              r.width, r.height) if r.ok else None
            face = None if k is None else r.faces[k]
            if face is None:
                miss_idx.append(i)
                missed.append(faces.files[i])
            picked.append(face)
        if miss_idx:
            for i, r in zip(miss_idx, p.predict_faces([faces.chips[i] for i in miss_idx], colour_order="RGB")):
                picked[i] = r.faces[0]
    from ..results import ImageResult
    return predictions_from_results([ImageResult(source=f, faces=[face]) for f, face in zip(faces.files, picked)]), \
        missed


def predict_onnx_oversampled(model: Path, faces: LabelledFaces, batch_size: int = 64) -> Predictions:
    """Levi-Hassner over-sampling: 4 corner + centre crops of the resized chip, and their mirrors,
    probabilities averaged (10 network passes per face)."""
    import cv2

    from ..backends.onnxruntime import OnnxRuntimeRunner
    from ..decode import age_and_interval
    from ..metadata import OUTPUT_AGE_BINS, OUTPUT_AGE_GROUP, OUTPUT_GENDER

    with OnnxRuntimeRunner(model) as runner:
        meta = runner.metadata
        r, (h, w) = meta.crop.resize_to, meta.input.size
        bins = np.asarray(meta.age_bins, dtype=np.float32)
        offsets = [(0, 0), (0, r - w), (r - h, 0), (r - h, r - w), ((r - h) // 2, (r - w) // 2)]
        g_all, p_all, m_all = [], [], []
        for s in range(0, len(faces), batch_size):
            chips = [cv2.resize(c, (r, r), interpolation=cv2.INTER_AREA if c.shape[0] > r else cv2.INTER_LINEAR)
                     for c in faces.chips[s:s + batch_size]]
            if meta.input.colour_order == "BGR":
                chips = [c[:, :, ::-1] for c in chips]
            acc_g = acc_p = acc_b = 0
            for y, x in offsets:
                for flip in (False, True):
                    crops = np.stack([c[y:y + h, x:x + w] for c in chips])
                    if flip:
                        crops = crops[:, :, ::-1]
                    out = runner.infer(np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32))
                    acc_g = acc_g + out[OUTPUT_GENDER] / 10
                    acc_p = acc_p + out[OUTPUT_AGE_GROUP] / 10
                    acc_b = acc_b + out[OUTPUT_AGE_BINS] / 10
            g_all.append(acc_g); p_all.append(acc_p)
            m_all.append(age_and_interval(acc_b, bins, acc_b @ bins, meta.age_estimate)[0])
    return Predictions(np.concatenate(g_all), np.concatenate(p_all), np.concatenate(m_all), meta.age_group_rule)


def predict_checkpoint(checkpoint: Path, faces: LabelledFaces, batch_size: int = 64) -> Predictions:
    import torch

    from ..decode import age_and_interval
    from ..preprocess import chip_to_input
    from .export_onnx import build_metadata
    from .postprocess import DeployModel
    from .trainer import load_best

    net, cfg = load_best(checkpoint)
    meta = build_metadata(cfg.model, cfg.age_bins, "checkpoint", flip_tta=cfg.flip_tta_eval)
    deploy = DeployModel(net, cfg.age_bins, meta.input.mean, meta.input.std, flip_tta=cfg.flip_tta_eval).eval()
    g_all, p_all, m_all = [], [], []
    with torch.no_grad():
        for s in range(0, len(faces), batch_size):
            x = np.stack([chip_to_input(np.ascontiguousarray(c[:, :, ::-1]), meta) for c in faces.chips[s:s + batch_size]])
            g, p, m, _sd, b = deploy(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)))
            g_all.append(g.numpy()); p_all.append(p.numpy())
            m_all.append(age_and_interval(b.numpy(), np.asarray(meta.age_bins, dtype=np.float32), m.numpy(),
                                           meta.age_estimate)[0])
    return Predictions(np.concatenate(g_all), np.concatenate(p_all), np.concatenate(m_all), meta.age_group_rule)


def run_model(model: Path, faces: LabelledFaces, oversample: bool = False) -> Predictions:
    from .baselines.cydral import CydralBaseline, is_cydral_dir

    model = Path(model)
    if is_cydral_dir(model):
        return CydralBaseline(model).predict(faces.chips)
    if model.suffix == ".pt":
        return predict_checkpoint(model, faces)
    if oversample:
        return predict_onnx_oversampled(model, faces)
    return predict_onnx(model, faces)


def evaluate(model: Path, faces: LabelledFaces, oversample: bool = False, detector: Optional[str] = None
             ) -> EvalReport:
    """``detector``: run the whole pipeline (``Predictor.predict`` with that detector) on each
    chip instead of the ready-chip path; ONNX models only."""
    missed: Optional[list[str]] = None
    if detector is not None:
        if Path(model).suffix != ".onnx" or oversample:
            raise ValueError("--detector evaluates an .onnx model through the whole pipeline (no --oversample)")
        pred, missed = predict_onnx_detected(Path(model), faces, detector)
    else:
        pred = run_model(model, faces, oversample)
    report = evaluate_predictions(pred, faces.gender, faces.age_group, faces.age, faces.race)
    if missed is not None:
        report.extra.update({"detector": detector, "subject_missed": {"count": len(missed), "files": missed[:20],
                             "note": "predicted with predict_faces (ready-chip path) instead"}})
    report.extra.update({"model": str(model), "oversample": oversample,
                         "skipped": {k: {"count": len(v), "files": v[:20]} for k, v in faces.skipped.items()}})
    return report


def plot_confusion(report: EvalReport, path: Path, title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(report.confusion, dtype=np.float64)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(8), AGE_GROUP_LABELS, rotation=45)
    ax.set_yticks(range(8), AGE_GROUP_LABELS)
    ax.set_xlabel("predicted age group"); ax.set_ylabel("true age group")
    for i in range(8):
        for j in range(8):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title or f"{report.summary()}", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def per_group_table(report: EvalReport, cross: bool = False) -> str:
    def fmt(v, p=3):
        return "   -  " if v is None else f"{v:.{p}f}"
    lines = [f"{'age group':>9s} {'gender':>7s} {'race':>7s} {'n':>5s} {'gender':>7s} {'exact':>7s} {'1-off':>7s} {'MAE':>6s}"]
    for r in report.per_group:
        is_cross = r.age_group is not None and r.gender is not None
        if is_cross != cross:
            continue
        lines.append(f"{r.age_group or '*':>9s} {r.gender or '*':>7s} {r.race or '*':>7s} {r.n:5d} "
                     f"{fmt(r.gender_accuracy):>7s} {fmt(r.age_group_accuracy):>7s} {fmt(r.one_off_accuracy):>7s} "
                     f"{fmt(r.age_mae, 2):>6s}")
    return "\n".join(lines)


def write_json(report: EvalReport, path: Path) -> None:
    Path(path).write_text(json.dumps(report.to_dict(), indent=2))
