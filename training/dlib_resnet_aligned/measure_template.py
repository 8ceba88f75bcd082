"""Measure the YuNet landmark template of dlib's 150 px face chip (the dlib_resnet alignment).

dlib's face-recognition ResNet was trained on chips cut by ``get_face_chip(img, shape5, 150,
padding=0.25)`` from its own 5-point predictor. The runtime has YuNet's five points instead, so
we measure where YuNet puts them on dlib's chips: dlib HOG + 5-point predictor cut the chip from
the image, YuNet runs on that chip (zero-padded so it sees the whole face), and the subject's
landmarks in units of the chip side are collected. The template is the median over faces,
mirror-symmetrised (so a mirrored aligned face is aligned: flip augmentation and TTA).

It then checks the template on other faces: the dlib descriptor of the chip cut by YuNet + this
template vs the descriptor of dlib's own chip (cosine), the figure that says the backbone sees
what it was trained on.

    python training/dlib_resnet_aligned/measure_template.py --n 1500 --check 300 \
        --aaf-images data/aaf_original --out training/dlib_resnet_aligned/template.json
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import cv2
import numpy as np

from agegender_edge.align import align_landmarks
from agegender_edge.detection.yunet import YuNetDetector
from agegender_edge.metadata import AlignSpec
from agegender_edge.subject import subject_index

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CHIP = 150
PADDING = 0.25


def rows(n: int, split: str, aaf_images: Path | None) -> list[Path]:
    utk = [DATA / "utkface/images" / r["file"] for r in csv.DictReader(open(DATA / "utkface/labels.csv"))
           if r["split"] == split]
    out = utk[: n // 2] if aaf_images else utk[:n]
    if aaf_images:
        aaf = [aaf_images / r["file"] for r in csv.DictReader(open(DATA / "aaf/labels.csv")) if r["split"] == split]
        out += aaf[: n - len(out)]
    return out


class Cutter:
    def __init__(self) -> None:
        import dlib
        import face_recognition_models as frm
        self.dlib = dlib
        self.hog = dlib.get_frontal_face_detector()
        self.sp = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.rec = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        self.yunet = YuNetDetector(max_side=0, max_faces=16)

    def dlib_chip(self, rgb: np.ndarray):
        dets = self.hog(rgb, 1)
        if not dets:
            return None
        h, w = rgb.shape[:2]
        i = subject_index([(d.left(), d.top(), d.width(), d.height()) for d in dets], w, h)
        if i is None:
            return None
        return self.dlib.get_face_chip(rgb, self.sp(rgb, dets[i]), size=CHIP, padding=PADDING)

    def yunet_points(self, bgr: np.ndarray, pad_fraction: float):
        h, w = bgr.shape[:2]
        p = int(round(pad_fraction * max(h, w)))
        padded = cv2.copyMakeBorder(bgr, p, p, p, p, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        dets = self.yunet.detect(padded)
        i = subject_index([(d.x, d.y, d.width, d.height) for d in dets], w + 2 * p, h + 2 * p)
        if i is None or not dets[i].landmarks:
            return None
        return np.array(dets[i].landmarks, dtype=np.float64) - p

    def descriptor(self, rgb_chip: np.ndarray) -> np.ndarray:
        return np.asarray(self.rec.compute_face_descriptor(np.ascontiguousarray(rgb_chip)))


def symmetrise(m: np.ndarray) -> list[list[float]]:
    eye_x = (m[0, 0] + 1 - m[1, 0]) / 2
    eye_y = (m[0, 1] + m[1, 1]) / 2
    mouth_x = (m[3, 0] + 1 - m[4, 0]) / 2
    mouth_y = (m[3, 1] + m[4, 1]) / 2
    t = [(eye_x, eye_y), (1 - eye_x, eye_y), (0.5, m[2, 1]), (mouth_x, mouth_y), (1 - mouth_x, mouth_y)]
    return [[round(float(x), 6), round(float(y), 6)] for x, y in t]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--check", type=int, default=300)
    ap.add_argument("--aaf-images", type=Path, default=None)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    cut = Cutter()
    pts, missed = [], 0
    for path in rows(args.n, "train", args.aaf_images):
        bgr = cv2.imread(str(path))
        chip = cut.dlib_chip(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        got = None if chip is None else cut.yunet_points(cv2.cvtColor(chip, cv2.COLOR_RGB2BGR), 0.5)
        if got is None:
            missed += 1
            continue
        pts.append(got / CHIP)
    median = np.median(np.array(pts), axis=0)
    template = symmetrise(median)
    spec = AlignSpec(template=tuple(map(tuple, template)))

    # check on val faces: runtime cut (YuNet on the image, this template) vs dlib's own chip
    cos = []
    for path in rows(args.check, "val", args.aaf_images):
        bgr = cv2.imread(str(path))
        chip = cut.dlib_chip(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        is_chip = "utkface" in str(path)   # UTKFace chips are padded as the training re-cut does
        lm = cut.yunet_points(bgr, 0.25 if is_chip else 0.0)
        if chip is None or lm is None:
            continue
        ours = align_landmarks(bgr, lm, spec, (CHIP, CHIP))
        if ours is None:
            continue
        a = cut.descriptor(chip)
        b = cut.descriptor(cv2.cvtColor(ours[0], cv2.COLOR_BGR2RGB))
        cos.append(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    cos = np.array(cos)
    report = {"faces": len(pts), "missed": missed, "median_chip_units": median.round(6).tolist(),
              "template": template, "chip": CHIP, "padding": PADDING,
              "check": {"faces": int(len(cos)), "cosine_median": round(float(np.median(cos)), 4),
                        "cosine_p05": round(float(np.percentile(cos, 5)), 4),
                        "cosine_min": round(float(cos.min()), 4)}}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
