"""Measure the landmark template of train/data/aligned.py (UTKFACE_YUNET_TEMPLATE_CHIP).

YuNet (the shipped file) on UTKFace train chips zero-padded by 50 px; the subject is the face
nearest the centre; landmarks in units of the chip side; the median over chips, then
mirror-symmetrised (right/left eye and mouth-corner pairs averaged about x = 0.5, nose x = 0.5)
so that a mirrored aligned face is again aligned (flip augmentation and flip averaging).

    python training/measure_template.py [--n 1500]
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import cv2
import numpy as np

from agegender_edge.detection.yunet import SHIPPED_YUNET

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--pad", type=int, default=50)
    args = ap.parse_args()
    rows = [r for r in csv.DictReader(open(DATA / "utkface/labels.csv")) if r["split"] == "train"][: args.n]
    net = cv2.FaceDetectorYN.create(str(SHIPPED_YUNET), "", (300, 300), 0.6, 0.3, 5000)
    pts, miss = [], 0
    for r in rows:
        im = cv2.imread(str(DATA / "utkface/images" / r["file"]))
        h, w = im.shape[:2]
        p = args.pad
        padded = cv2.copyMakeBorder(im, p, p, p, p, cv2.BORDER_CONSTANT, value=0)
        net.setInputSize((w + 2 * p, h + 2 * p))
        _, faces = net.detect(padded)
        if faces is None:
            miss += 1
            continue
        c = np.array([(w + 2 * p) / 2, (h + 2 * p) / 2])
        f = min(faces, key=lambda f: np.hypot(*(f[:2] + f[2:4] / 2 - c)))
        pts.append((f[4:14].reshape(5, 2) - p) / np.array([w, h]))
    m = np.median(np.array(pts), axis=0)
    eye_x = (m[0, 0] + 1 - m[1, 0]) / 2
    eye_y = (m[0, 1] + m[1, 1]) / 2
    mouth_x = (m[3, 0] + 1 - m[4, 0]) / 2
    mouth_y = (m[3, 1] + m[4, 1]) / 2
    template = [(eye_x, eye_y), (1 - eye_x, eye_y), (0.5, m[2, 1]), (mouth_x, mouth_y), (1 - mouth_x, mouth_y)]
    print(json.dumps({"chips": len(rows), "missed": miss, "median": m.round(6).tolist(),
                      "template_chip": [[round(float(x), 6), round(float(y), 6)] for x, y in template]}))


if __name__ == "__main__":
    main()
