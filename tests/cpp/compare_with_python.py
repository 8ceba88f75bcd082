#!/usr/bin/env python3
"""Parity of the C++ runtime (agegender-edge-cpp, OpenCV DNN backend) with the Python SDK
(Predictor on ONNX Runtime CPU), run by CTest (cpp/tests/CMakeLists.txt).

faces:    the 48 fixture chips through predict_faces() in both; age-group and gender probabilities
          must agree within --prob-tol, age / std within --age-tol years, crop boxes exactly.
canvases: the two multi-face canvases through predict() with Haar and with YuNet; both runtimes
          must find the same faces (same count, each C++ box matched to a Python box with IoU
          >= --iou-min), and predictions on matched faces agree within --canvas-prob-tol.

Prints one summary line per check and exits non-zero on any mismatch.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
from pathlib import Path


def run_app(app: str, args: list[str]) -> list[dict]:
    proc = subprocess.run([app, "--json", *args], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        sys.exit(f"FAIL: {app} exited {proc.returncode}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def gender_p(face: dict, labels: list[str]) -> float:
    """Probability of the first gender label, from (gender, gender_probability)."""
    p = face["gender_probability"]
    return p if face["gender"] == labels[0] else 1.0 - p


def iou(a: dict, b: dict) -> float:
    ax1, ay1 = a["x"] + a["width"], a["y"] + a["height"]
    bx1, by1 = b["x"] + b["width"], b["y"] + b["height"]
    iw = max(0.0, min(ax1, bx1) - max(a["x"], b["x"]))
    ih = max(0.0, min(ay1, by1) - max(a["y"], b["y"]))
    inter = iw * ih
    union = a["width"] * a["height"] + b["width"] * b["height"] - inter
    return inter / union if union > 0 else 0.0


class Diffs:
    def __init__(self) -> None:
        self.prob = self.gender = self.age = self.std = self.interval = 0.0
        self.labels_differ = 0

    def add(self, py: dict, cc: dict, labels: list[str]) -> None:
        groups = py["age_group_probs"].keys()
        self.prob = max(self.prob, max(abs(py["age_group_probs"][g] - cc["age_group_probs"][g]) for g in groups))
        self.gender = max(self.gender, abs(gender_p(py, labels) - gender_p(cc, labels)))
        self.age = max(self.age, abs(py["age"] - cc["age"]))
        self.std = max(self.std, abs(py["age_std"] - cc["age_std"]))
        self.interval = max(self.interval, *(abs(a - b) for a, b in zip(py["age_interval_80"], cc["age_interval_80"])))
        self.labels_differ += (py["age_group"] != cc["age_group"]) + (py["gender"] != cc["gender"])

    def __str__(self) -> str:
        return (f"max|diff| age_group_probs {self.prob:.2e}, gender prob {self.gender:.2e}, age {self.age:.2e} y, "
                f"age_std {self.std:.2e} y, interval80 {self.interval:.2e} y, label flips {self.labels_differ}")


def check_faces(args, predictor_cls, labels) -> bool:
    files = sorted(glob.glob(os.path.join(args.data, "fixtures", "utkface_48", "*.jpg")))
    if len(files) != 48:
        sys.exit(f"FAIL: expected 48 fixture faces, found {len(files)}")
    with predictor_cls(model=args.model, detector=None, backend="onnxruntime", device="cpu") as p:
        py = [r.to_dict() for r in p.predict_faces(files)]
    cc = run_app(args.app, ["--model", args.model, "--faces", *files])
    d = Diffs()
    ok = True
    for a, b in zip(py, cc):
        if a["source"] != b["source"] or len(a["faces"]) != 1 or len(b["faces"]) != 1 or b["error"]:
            print(f"FAIL faces: {a['source']}: results differ in shape: {b.get('error')}")
            ok = False
            continue
        if a["faces"][0]["crop_box"] != b["faces"][0]["crop_box"] or a["faces"][0]["box"] != b["faces"][0]["box"]:
            print(f"FAIL faces: {a['source']}: boxes differ")
            ok = False
        d.add(a["faces"][0], b["faces"][0], labels)
    ok &= d.prob <= args.prob_tol and d.gender <= args.prob_tol and d.age <= args.age_tol and d.std <= args.age_tol
    ok &= d.interval <= args.interval_tol
    print(f"{'ok' if ok else 'FAIL'} faces: 48 fixture chips, C++ OpenCV DNN vs Python ONNX Runtime: {d}"
          f" (tolerances: probs {args.prob_tol:g}, age {args.age_tol:g} y, interval {args.interval_tol:g} y)")
    return ok


def check_canvases(args, predictor_cls, labels) -> bool:
    canvases = sorted(glob.glob(os.path.join(args.data, "fixtures", "multi_face_canvas_*.jpg")))
    truth = json.loads(Path(args.data, "fixtures", "multi_face_canvases.json").read_text())
    if len(canvases) != 2:
        sys.exit(f"FAIL: expected 2 canvases, found {len(canvases)}")
    ok = True
    for det, path in (("haar", args.haar), ("yunet", args.yunet)):
        spec = f"{det}:{path}"
        with predictor_cls(model=args.model, detector=spec, backend="onnxruntime", device="cpu") as p:
            py = [r.to_dict() for r in p.predict(canvases)]
        cc = run_app(args.app, ["--model", args.model, "--detector", spec, *canvases])
        d = Diffs()
        min_iou, max_box, n_py, n_cc = 1.0, 0.0, 0, 0
        for a, b, canvas in zip(py, cc, canvases):
            n_py += len(a["faces"])
            n_cc += len(b["faces"])
            if len(a["faces"]) != len(b["faces"]):
                print(f"FAIL {det}: {canvas}: Python found {len(a['faces'])} faces, C++ {len(b['faces'])}")
                ok = False
                continue
            unused = list(range(len(a["faces"])))
            for fb in b["faces"]:
                best = max(unused, key=lambda k: iou(a["faces"][k]["box"], fb["box"]), default=None)
                if best is None:
                    break
                fa = a["faces"][best]
                unused.remove(best)
                min_iou = min(min_iou, iou(fa["box"], fb["box"]))
                if fa["box"] == fb["box"] and fa["crop_box"] != fb["crop_box"]:
                    print(f"FAIL {det}: same box, different crop box {fa['crop_box']} vs {fb['crop_box']}: the chip "
                          f"calibration in cpp/include/agegender_edge/detection.hpp differs from detection/{det}.py")
                    ok = False
                max_box = max(max_box, *(abs(fa["box"][k] - fb["box"][k]) for k in ("x", "y", "width", "height")))
                d.add(fa, fb, labels)
            # the same ground-truth faces are found (a GT face counts as found at IoU >= 0.3)
            name = Path(canvas).name
            gt = next((c for c in truth if c["image"] == name), None)
            if gt is None:
                print(f"FAIL {det}: {name} has no ground truth in multi_face_canvases.json")
                ok = False
            else:
                boxes = [{"x": f["x"], "y": f["y"], "width": f["w"], "height": f["h"]} for f in gt["faces"]]
                found_py = sum(any(iou(g, f["box"]) >= 0.3 for f in a["faces"]) for g in boxes)
                found_cc = sum(any(iou(g, f["box"]) >= 0.3 for f in b["faces"]) for g in boxes)
                if found_py != found_cc:
                    print(f"FAIL {det}: {name}: ground-truth faces found: Python {found_py}, C++ {found_cc} of {len(boxes)}")
                    ok = False
                print(f"   {det} {name}: ground-truth faces found: Python {found_py}/{len(boxes)}, C++ {found_cc}/{len(boxes)}")
        good = (n_py == n_cc and min_iou >= args.iou_min and d.prob <= args.canvas_prob_tol
                and d.gender <= args.canvas_prob_tol)
        ok &= good
        print(f"{'ok' if good else 'FAIL'} canvases/{det}: faces Python {n_py}, C++ {n_cc}; min IoU {min_iou:.4f}, "
              f"max box diff {max_box:.3g} px; {d} (tolerances: IoU >= {args.iou_min}, probs {args.canvas_prob_tol:g})")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="shared/data folder")
    ap.add_argument("--haar", required=True)
    ap.add_argument("--yunet", required=True)
    ap.add_argument("--check", choices=("faces", "canvases", "all"), default="all")
    ap.add_argument("--prob-tol", type=float, default=1e-4)
    ap.add_argument("--age-tol", type=float, default=1e-3)
    ap.add_argument("--interval-tol", type=float, default=1e-2)
    ap.add_argument("--iou-min", type=float, default=0.9)
    ap.add_argument("--canvas-prob-tol", type=float, default=1e-4)
    args = ap.parse_args()
    if not Path(args.model).is_file():
        sys.exit(f"FAIL: model {args.model} not found")
    from agegender_edge import Predictor  # the Python reference

    from agegender_edge.backends.onnxruntime import OnnxRuntimeRunner
    with OnnxRuntimeRunner(args.model) as r:
        labels = list(r.metadata.gender_labels)
    ok = True
    if args.check in ("faces", "all"):
        ok &= check_faces(args, Predictor, labels)
    if args.check in ("canvases", "all"):
        ok &= check_canvases(args, Predictor, labels)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
