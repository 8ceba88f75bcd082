"""Measure each detector's box -> face-chip mapping on UTKFace val chips.

UTKFace "aligned & cropped" chips are what the model was trained on. Running a detector on the
chips themselves shows where its box sits inside a training chip: chip side / sqrt(box w * h)
and the chip centre's offset from the box centre (in box widths / heights). The medians are the
``ChipCalibration`` constants in agegender_edge/detection/{haar,yunet}.py.

    python benchmarks/calibrate_detectors.py [--n 300] [--yunet PATH]
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import cv2
import numpy as np

from agegender_edge.detection.haar import HaarDetector
from agegender_edge.detection.yunet import YuNetDetector

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--yunet", default=str(DATA / "models/yunet/face_detection_yunet_2026may.onnx"))
    args = ap.parse_args()
    rows = [r for r in csv.DictReader(open(DATA / "utkface/labels.csv")) if r["split"] == "val"][: args.n]
    detectors = {"haar": HaarDetector(min_size=24), "yunet": YuNetDetector(args.yunet)}
    report = {}
    for name, det in detectors.items():
        det.max_side = 0  # the chips are small: detect at full resolution
        scale, dx, dy = [], [], []
        for r in rows:
            img = cv2.imread(str(DATA / "utkface/images" / r["file"]))
            found = det.detect(img)
            if not found:
                continue
            d = found[0]
            side = img.shape[0]
            scale.append(side / np.sqrt(d.width * d.height))
            dx.append((side / 2 - (d.x + d.width / 2)) / d.width)
            dy.append((side / 2 - (d.y + d.height / 2)) / d.height)
        report[name] = {"chips": len(rows), "detected": len(scale), "scale": float(np.median(scale)),
                        "dx": float(np.median(dx)), "dy": float(np.median(dy))}
        print(name, json.dumps(report[name]))


if __name__ == "__main__":
    main()
