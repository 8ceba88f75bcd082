#!/usr/bin/env python3
"""Parity of the C++ runtime (agegender-edge-cpp, OpenCV DNN backend) with the Python SDK
(Predictor on ONNX Runtime CPU), run by CTest (cpp/tests/CMakeLists.txt).

faces:    the 48 fixture chips through predict_faces() in both; age-group and gender probabilities
          must agree within --prob-tol, age / std within --age-tol years, crop boxes exactly.
canvases: the two multi-face canvases through predict() with Haar and with YuNet; both runtimes
          must find the same faces (same count, each C++ box matched to a Python box with IoU
          >= --iou-min), and predictions on matched faces agree within --canvas-prob-tol.
aligned:  for a model with ``align`` (and ``calibration``) metadata: the SAME detections (Python
          YuNet boxes + landmarks on the 48 chips and both canvases, plus derived cases: 3x
          upscaled chips (antialias reduction), a chip rotated 90 degrees, a face cut by the
          image border, degenerate landmarks -> box rule) go through Python's face_input /
          predict_detected and C++'s face_input + decoder (the align_parity tool, --align-tool);
          network inputs must agree byte for byte (at most --crop-max-diff grey levels where
          OpenCV versions round differently) and outputs within --prob-tol / --age-tol. For the
          box-rule fallbacks the same rule must be chosen (identical crop boxes); their pixels
          are the `faces` / `canvases` checks' business (reported here, not judged).

rotated:  LFW photos turned by 90 degrees each way (no confident upright face, so YuNet's
          rotation search runs in both runtimes): every photo gives the same faces in both (count,
          IoU >= --iou-min) and predictions within --canvas-prob-tol.

exif:     LFW photos stored as JPEGs in each of the 8 EXIF orientations (pixels transformed with
          Pillow so that the tag makes them upright, as tests/hardening/test_imageio_exif.py):
          C++ and Python give the same faces and predictions for every file, and each
          orientation's C++ subject box (upright coordinates) matches the upright file's
          (IoU >= --iou-min; JPEG re-encoding of the turned pixels moves it slightly).

embeddings: the face descriptor output (issue 22): the 48 fixture chips through predict_faces(...,
          return_embeddings=True) in Python and the C++ app with --embeddings (which cuts the
          descriptor branch off for OpenCV 4.6 and adds/normalises the pooled features itself):
          same width, unit norm, every value within --embedding-tol, cosine >= 0.99999.

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
        # issue 21: both runtimes report the most probable group, whatever the model's age rule
        for runtime, face in (("python", py), ("c++", cc)):
            probs = face["age_group_probs"]
            if probs[face["age_group"]] < max(probs.values()):
                sys.exit(f"FAIL: {runtime} age_group {face['age_group']} ({probs[face['age_group']]:.4f}) is not the "
                         f"most probable group ({max(probs, key=probs.get)}: {max(probs.values()):.4f})")

    def __str__(self) -> str:
        return (f"max|diff| age_group_probs {self.prob:.2e}, gender prob {self.gender:.2e}, age {self.age:.2e} y, "
                f"age_std {self.std:.2e} y, interval80 {self.interval:.2e} y, label flips {self.labels_differ}")


def predict_both(args, predictor_cls, files: list[str], spec: str) -> tuple[list[dict], list[dict]]:
    """The same files through Python's Predictor and the C++ app with detector ``spec``."""
    with predictor_cls(model=args.model, detector=spec, backend="onnxruntime", device="cpu") as p:
        py = [r.to_dict() for r in p.predict(files)]
    return py, run_app(args.app, ["--model", args.model, "--detector", spec, *files])


def pair_in_x_order(a: dict, b: dict, d: "Diffs", labels) -> float:
    """One image's faces from both runtimes (same count), paired left to right: adds their
    differences to ``d`` and returns the smallest box IoU of the pairs."""
    min_iou = 1.0
    for fa, fb in zip(sorted(a["faces"], key=lambda f: f["box"]["x"]), sorted(b["faces"], key=lambda f: f["box"]["x"])):
        min_iou = min(min_iou, iou(fa["box"], fb["box"]))
        d.add(fa, fb, labels)
    return min_iou


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


def check_embeddings(args, predictor_cls, labels) -> bool:
    import numpy as np
    files = sorted(glob.glob(os.path.join(args.data, "fixtures", "utkface_48", "*.jpg")))
    with predictor_cls(model=args.model, detector=None, backend="onnxruntime", device="cpu") as p:
        dim = p.metadata.embedding_dim
        if not dim:
            sys.exit(f"FAIL: {args.model} has no embedding output")
        py = [r.faces[0].embedding for r in p.predict_faces(files, return_embeddings=True)]
    cc = [r["faces"][0].get("embedding") for r in run_app(args.app, ["--model", args.model, "--faces", "--embeddings",
                                                                      *files])]
    plain = run_app(args.app, ["--model", args.model, "--faces", files[0]])
    ok = "embedding" not in plain[0]["faces"][0]                # off unless asked, as in Python
    if any(c is None or len(c) != dim for c in cc):
        print(f"FAIL embeddings: C++ gave no {dim}-value descriptor for some faces")
        return False
    a, b = np.asarray(py, dtype=np.float64), np.asarray(cc, dtype=np.float64)
    diff = float(np.max(np.abs(a - b)))
    cos = float(np.min(np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))))
    norm = float(np.max(np.abs(np.linalg.norm(b, axis=1) - 1.0)))
    ok &= diff <= args.embedding_tol and cos >= 0.99999 and norm <= 1e-5
    print(f"{'ok' if ok else 'FAIL'} embeddings: 48 fixture chips, {dim}-D descriptor, C++ OpenCV DNN vs Python "
          f"ONNX Runtime: max|diff| {diff:.2e}, min cosine {cos:.7f}, max |norm - 1| {norm:.1e} "
          f"(tolerance {args.embedding_tol:g})")
    return ok


def check_canvases(args, predictor_cls, labels) -> bool:
    canvases = sorted(glob.glob(os.path.join(args.data, "fixtures", "multi_face_canvas_*.jpg")))
    truth = json.loads(Path(args.data, "fixtures", "multi_face_canvases.json").read_text())
    if len(canvases) != 2:
        sys.exit(f"FAIL: expected 2 canvases, found {len(canvases)}")
    ok = True
    for det, path in (("haar", args.haar), ("yunet", args.yunet)):
        if det not in args.canvas_detectors.split(","):
            continue
        py, cc = predict_both(args, predictor_cls, canvases, f"{det}:{path}")
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
                # box rule (integer chips): the same box must give the same chip; aligned crops
                # follow the landmarks, which are compared through the outputs instead
                integer_chip = all(float(v).is_integer() for v in fa["crop_box"].values())
                if integer_chip and fa["box"] == fb["box"] and fa["crop_box"] != fb["crop_box"]:
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


def aligned_cases(args, work: Path) -> list[dict]:
    """(image path, box, landmarks or None) cases from Python's YuNet, plus derived images."""
    import cv2
    import numpy as np

    from agegender_edge.detection import create_detector

    yunet = create_detector(f"yunet:{args.yunet}")
    cases = []
    faces = sorted(glob.glob(os.path.join(args.data, "fixtures", "utkface_48", "*.jpg")))
    canvases = sorted(glob.glob(os.path.join(args.data, "fixtures", "multi_face_canvas_*.jpg")))

    def add(path, det, landmarks="from_det"):
        lm = det.landmarks if landmarks == "from_det" else landmarks
        cases.append({"image": str(path), "box": [det.x, det.y, det.width, det.height],
                      "landmarks": None if lm is None else [list(map(float, p)) for p in lm]})

    for path in faces + canvases:
        for det in yunet.detect(cv2.imread(path)):
            add(path, det)
    chip_dets = [(path, d) for path in faces[:8] for d in yunet.detect(cv2.imread(path))[:1]]
    for k, (path, det) in enumerate(chip_dets):
        bgr = cv2.imread(path)
        lm = np.asarray(det.landmarks, dtype=np.float64)
        # 3x upscale (a large face: the warp shrinks ~5x -> the INTER_AREA footprint reduction);
        # pixel centres map as x' = 3x + 1
        big = work / f"up3_{k}.png"
        cv2.imwrite(str(big), cv2.resize(bgr, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC))
        cases.append({"image": str(big), "box": [3 * det.x + 1, 3 * det.y + 1, 3 * det.width, 3 * det.height],
                      "landmarks": (lm * 3 + 1).tolist()})
        # rotated 90 degrees clockwise: (x, y) -> (h - 1 - y, x)
        h = bgr.shape[0]
        rot = work / f"rot90_{k}.png"
        cv2.imwrite(str(rot), cv2.rotate(bgr, cv2.ROTATE_90_CLOCKWISE))
        cases.append({"image": str(rot), "box": [h - det.y - det.height, det.x, det.height, det.width],
                      "landmarks": np.stack([h - 1 - lm[:, 1], lm[:, 0]], axis=1).tolist()})
        # the face cut by the left image border (landmarks outside the image): replicated border
        cut = work / f"border_{k}.png"
        cv2.imwrite(str(cut), bgr[:, 90:])
        cases.append({"image": str(cut), "box": [det.x - 90, det.y, det.width, det.height],
                      "landmarks": (lm - [90, 0]).tolist()})
        # degenerate landmarks (all on one spot): both runtimes fall back to the box rule
        cases.append({"image": path, "box": [det.x, det.y, det.width, det.height],
                      "landmarks": [[det.x, det.y]] * 5})
        # no landmarks at all (a Haar-like detection): the box rule
        cases.append({"image": path, "box": [det.x, det.y, det.width, det.height], "landmarks": None})
    yunet.close()
    return cases


def check_rotated(args, predictor_cls, labels) -> bool:
    import tempfile

    import cv2
    import numpy as np

    photos = sorted(glob.glob(os.path.join(args.data, "lfw", "images", "*.jpg")))[:6]
    if len(photos) < 6:
        sys.exit(f"FAIL: expected LFW photos under {args.data}/lfw/images")
    with tempfile.TemporaryDirectory() as tmp:
        turned = []
        for i, path in enumerate(photos):
            for k in (1, 3):
                out = os.path.join(tmp, f"turned_{i}_{k}.png")      # lossless: the same pixels for both
                cv2.imwrite(out, np.ascontiguousarray(np.rot90(cv2.imread(path), k)))
                turned.append(out)
        py, cc = predict_both(args, predictor_cls, turned, f"yunet:{args.yunet}")
    d, ok, min_iou, n = Diffs(), True, 1.0, 0
    for a, b, path in zip(py, cc, turned):
        if not a["faces"] or len(a["faces"]) != len(b["faces"]):
            print(f"FAIL rotated: {Path(path).name}: Python found {len(a['faces'])} faces, C++ {len(b['faces'])}")
            ok = False
            continue
        min_iou = min(min_iou, pair_in_x_order(a, b, d, labels))
        n += len(a["faces"])
    good = ok and min_iou >= args.iou_min and d.prob <= args.canvas_prob_tol and d.gender <= args.canvas_prob_tol
    print(f"{'ok' if good else 'FAIL'} rotated: {len(turned)} photos turned 90 degrees, {n} faces in both; "
          f"min IoU {min_iou:.4f}; {d} (tolerances: IoU >= {args.iou_min}, probs {args.canvas_prob_tol:g})")
    return good


def check_exif(args, predictor_cls, labels) -> bool:
    import tempfile

    from PIL import Image

    t = Image.Transpose
    stored = {2: t.FLIP_LEFT_RIGHT, 3: t.ROTATE_180, 4: t.FLIP_TOP_BOTTOM, 5: t.TRANSPOSE, 6: t.ROTATE_90,
              7: t.TRANSVERSE, 8: t.ROTATE_270}   # upright -> stored pixels for each tag value
    photos = sorted(glob.glob(os.path.join(args.data, "lfw", "images", "*.jpg")))[:4]
    if len(photos) < 4:
        sys.exit(f"FAIL: expected LFW photos under {args.data}/lfw/images")
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, path in enumerate(photos):
            upright = Image.open(path).convert("RGB").crop((0, 0, 250, 220))   # not square: swaps show
            for o in range(1, 9):
                exif = Image.Exif()
                exif[0x0112] = o
                out = os.path.join(tmp, f"photo_{i}_orientation_{o}.jpg")
                (upright if o == 1 else upright.transpose(stored[o])).save(out, quality=95, exif=exif.tobytes())
                files.append(out)
        py, cc = predict_both(args, predictor_cls, files, f"yunet:{args.yunet}")
    d, ok, min_iou, min_iou_upright, n = Diffs(), True, 1.0, 1.0, 0
    for k, (a, b, path) in enumerate(zip(py, cc, files)):
        if not a["faces"] or len(a["faces"]) != len(b["faces"]) or (a["width"], a["height"]) != (b["width"], b["height"]):
            print(f"FAIL exif: {Path(path).name}: Python {len(a['faces'])} faces in {a['width']}x{a['height']}, "
                  f"C++ {len(b['faces'])} in {b['width']}x{b['height']}")
            ok = False
            continue
        min_iou = min(min_iou, pair_in_x_order(a, b, d, labels))
        n += len(a["faces"])
        ref = cc[k - k % 8]                                   # the same photo, orientation 1
        subject = max(b["faces"], key=lambda f: f["detection_score"])
        ref_subject = max(ref["faces"], key=lambda f: f["detection_score"]) if ref["faces"] else None
        if ref_subject is None or subject["gender"] != ref_subject["gender"]:
            print(f"FAIL exif: {Path(path).name}: C++ subject differs from the upright file's")
            ok = False
        else:
            min_iou_upright = min(min_iou_upright, iou(subject["box"], ref_subject["box"]))
    good = (ok and min_iou >= args.iou_min and min_iou_upright >= args.iou_min and d.prob <= args.canvas_prob_tol
            and d.gender <= args.canvas_prob_tol)
    print(f"{'ok' if good else 'FAIL'} exif: {len(files)} JPEGs (4 photos x 8 EXIF orientations), {n} faces in both; "
          f"min IoU C++ vs Python {min_iou:.4f}, C++ subject vs its upright file {min_iou_upright:.4f}; {d} "
          f"(tolerances: IoU >= {args.iou_min}, probs {args.canvas_prob_tol:g})")
    return good


def check_aligned(args, predictor_cls, labels) -> bool:
    import tempfile

    import numpy as np

    from agegender_edge.detection.base import Detection
    from agegender_edge.detection.yunet import YuNetDetector
    from agegender_edge.imageio import DEFAULT_MAX_PIXELS, load_image
    from agegender_edge.preprocess import face_input

    if not args.align_tool:
        sys.exit("FAIL: --check aligned needs --align-tool (the align_parity executable)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = aligned_cases(args, work)
        (work / "cases.json").write_text(json.dumps(cases))
        proc = subprocess.run([args.align_tool, args.model, str(work / "cases.json"), str(work)],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            sys.exit(f"FAIL: {args.align_tool} exited {proc.returncode}: {proc.stderr.strip()}")
        cc = json.loads(proc.stdout)
        dets = [Detection(*c["box"], 1.0, None if c["landmarks"] is None else tuple(map(tuple, c["landmarks"])))
                for c in cases]
        with predictor_cls(model=args.model, detector=f"yunet:{args.yunet}", backend="onnxruntime", device="cpu") as p:
            if p.metadata.align is None:
                sys.exit(f"FAIL: {args.model} has no align metadata (make one with tests/cpp/make_aligned_model.py)")
            py = [r.to_dict() for r in p.predict_detected([c["image"] for c in cases], [[d] for d in dets])]
            meta = p.metadata
        h, w = meta.input.size
        d, d_box = Diffs(), Diffs()
        ok, crop_max, crop_bytes, box_max, n_aligned, box_rule_max = True, 0, 0, 0.0, 0, 0
        for i, (case, det, a, b) in enumerate(zip(cases, dets, py, cc)):
            bgr = load_image(case["image"], None, DEFAULT_MAX_PIXELS).bgr
            face, crop, aligned = face_input(bgr, det, YuNetDetector.calibration, meta)
            n_aligned += aligned
            c_face = np.fromfile(work / f"crop_{i}.bin", dtype=np.uint8)
            if c_face.size != h * w * 3:
                print(f"FAIL aligned: case {i} ({case['image']}): C++ input has {c_face.size} bytes")
                ok = False
                continue
            diff = np.abs(np.ascontiguousarray(face).astype(np.int16) - c_face.reshape(h, w, 3).astype(np.int16))
            if a["error"] or b["error"] or len(a["faces"]) != 1 or len(b["faces"]) != 1:
                print(f"FAIL aligned: case {i}: errors Python {a['error']!r}, C++ {b['error']!r}")
                ok = False
                continue
            fa, fb = a["faces"][0], b["faces"][0]
            # the same rule in both: identical crop boxes (aligned: float similarity footprint;
            # box rule: the integer chip), and predict_detected uses face_input's crop
            box_max = max(box_max, *(abs(fa["crop_box"][k] - fb["crop_box"][k]) for k in ("x", "y", "width", "height")),
                          *(abs(fa["crop_box"][k] - v) for k, v in zip(("x", "y", "width", "height"), crop)))
            if aligned:
                crop_max = max(crop_max, int(diff.max()))
                crop_bytes += int((diff > 0).sum())
                d.add(fa, fb, labels)
            else:
                box_rule_max = max(box_rule_max, int(diff.max()))
                d_box.add(fa, fb, labels)
    good = (ok and crop_max <= args.crop_max_diff and box_max <= 1e-6 and d.prob <= args.prob_tol
            and d.gender <= args.prob_tol and d.age <= args.age_tol and d.std <= args.age_tol
            and d.interval <= args.interval_tol and n_aligned >= len(cases) // 2)
    print(f"{'ok' if good else 'FAIL'} aligned: {len(cases)} detections ({n_aligned} aligned, {len(cases) - n_aligned} "
          f"box rule), model calibration T={meta.calibration.gender_temperature} q={meta.calibration.age_interval_quantiles}: "
          f"network inputs max|diff| {crop_max} grey levels ({crop_bytes} of {len(cases) * h * w * 3} bytes differ), "
          f"crop boxes max|diff| {box_max:.2e} px; {d} (tolerances: inputs {args.crop_max_diff}, probs {args.prob_tol:g}, "
          f"age {args.age_tol:g} y)")
    print(f"   box-rule fallbacks (same rule chosen: crop boxes above; pixels judged by --check faces/canvases): "
          f"inputs max|diff| {box_rule_max}, {d_box}")
    return good


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="shared/data folder")
    ap.add_argument("--haar", required=True)
    ap.add_argument("--yunet", required=True)
    ap.add_argument("--check", choices=("faces", "canvases", "aligned", "rotated", "exif", "embeddings", "all"),
                    default="all")
    ap.add_argument("--embedding-tol", type=float, default=1e-4)
    ap.add_argument("--align-tool", default=None, help="the align_parity executable (--check aligned)")
    ap.add_argument("--crop-max-diff", type=int, default=1,
                    help="largest per-byte difference of aligned network inputs (OpenCV 4.6 vs pip OpenCV rounding)")
    ap.add_argument("--prob-tol", type=float, default=1e-4)
    ap.add_argument("--age-tol", type=float, default=1e-3)
    ap.add_argument("--interval-tol", type=float, default=1e-2)
    ap.add_argument("--iou-min", type=float, default=0.9)
    ap.add_argument("--canvas-prob-tol", type=float, default=1e-4)
    ap.add_argument("--canvas-detectors", default="haar,yunet", help="comma list of detectors for --check canvases")
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
    if args.check in ("rotated", "all"):
        ok &= check_rotated(args, Predictor, labels)
    if args.check in ("exif", "all"):
        ok &= check_exif(args, Predictor, labels)
    if args.check == "embeddings":
        ok &= check_embeddings(args, Predictor, labels)
    if args.check == "aligned" or (args.check == "all" and args.align_tool):
        ok &= check_aligned(args, Predictor, labels)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
