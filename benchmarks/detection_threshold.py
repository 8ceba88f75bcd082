"""The default detection-score threshold, chosen on data (issue 21).

One run of the whole pipeline (``Predictor(min_detection_score=FLOOR).predict``, default model,
backend and detector) records every detection score on three sets:

* 10 scikit-image photos without a person (chelsea, cat, coffee, rocket, coins, horse, clock,
  retina, hubble_deep_field, immunohistochemistry), as arrays and as files re-encoded (PNG, JPEG
  quality 95 / 90 / 75: a photo's score moves by a few hundredths with its encoding, hubble's
  best false face from 0.69 as an array to 0.74 as a JPEG): every face found there is false;
* the LFW dev set (../shared/data/lfw, 2,227 news photos): found = a face nearest the centre
  within a quarter of the image side (agegender_edge/subject.py, as benchmarks/lfw_eval.py);
* the UTKFace val chips (../shared/data/utkface, split=val of labels.csv, 2,371 chips, the way
  ``agegender-edge evaluate --detector auto`` runs them: decoded, passed as arrays): found as LFW.

A face survives threshold t when its score >= t, so one run at a low FLOOR gives the whole curve
for t >= FLOOR: false faces, LFW found and UTKFace val found per threshold. YuNet's rotation
search (an image without a face scoring >= 0.88 is also searched at 90 / 270 degrees) starts
from the same condition for every t <= 0.88, so the curve is exact up to 0.88. The chosen
default is the middle of the gap between the highest false-face score (any encoding) and the
lowest score of a subject the previous default (0.6) found (LFW and UTKFace), rounded to 0.01:
no false face, no subject lost, and a margin both ways for re-encoded photos. The script checks
it by running that threshold itself.

    python benchmarks/detection_threshold.py        # -> benchmarks/results/detection_threshold.json
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from agegender_edge import Predictor
from agegender_edge.imageio import DEFAULT_MAX_PIXELS, load_image
from agegender_edge.subject import subject_index

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "results" / "detection_threshold.json"
NO_PEOPLE = ("chelsea", "cat", "coffee", "rocket", "coins", "horse", "clock", "retina", "hubble_deep_field",
             "immunohistochemistry")
FLOOR = 0.3
PREVIOUS_DEFAULT = 0.6
GRID = [round(0.30 + 0.01 * i, 2) for i in range(66)]      # 0.30 .. 0.95


ENCODINGS = (("png", ".png", []), ("jpeg95", ".jpg", [95]), ("jpeg90", ".jpg", [90]), ("jpeg75", ".jpg", [75]))


def skimage_photos() -> list[tuple[str, np.ndarray]]:
    """(name, RGB / grey / bool array) of the 10 photos without a person."""
    import skimage.data
    return [(n, getattr(skimage.data, n)()) for n in NO_PEOPLE]


def reencoded(photos) -> list[tuple[str, np.ndarray]]:
    """Each photo written as PNG and JPEG (OpenCV) and read back as the CLI reads a file (BGR)."""
    import cv2
    out = []
    for name, img in photos:
        a = img.astype(np.uint8) * 255 if img.dtype == bool else img
        bgr = cv2.cvtColor(a, cv2.COLOR_RGB2BGR) if a.ndim == 3 else cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
        for tag, ext, quality in ENCODINGS:
            params = [cv2.IMWRITE_JPEG_QUALITY, quality[0]] if quality else []
            ok, buf = cv2.imencode(ext, bgr, params)
            out.append((f"{name} ({tag})", load_image(buf.tobytes(), None, DEFAULT_MAX_PIXELS).bgr))
    return out


def lfw_images(limit=None) -> list[tuple[str, np.ndarray]]:
    with open(DATA / "lfw" / "labels.csv", newline="") as fh:
        files = [row["file"] for row in csv.DictReader(fh)][:limit]
    return [(f, load_image(DATA / "lfw" / "images" / f, None, DEFAULT_MAX_PIXELS).bgr) for f in files]


def utkface_val(limit=None) -> list[tuple[str, np.ndarray]]:
    with open(DATA / "utkface" / "labels.csv", newline="") as fh:
        files = sorted(row["file"] for row in csv.DictReader(fh) if row["split"] == "val")[:limit]
    return [(f, load_image(DATA / "utkface" / "images" / f, None, DEFAULT_MAX_PIXELS).bgr) for f in files]


def scores(predictor: Predictor, items, colour_order: str) -> list[dict]:
    """Per image: every face score, and the best score among faces that could be the subject
    (centre within a quarter of the side: whichever of them survives t, the subject is found)."""
    out = []
    for s in range(0, len(items), 64):
        chunk = items[s:s + 64]
        for (name, _), r in zip(chunk, predictor.predict([a for _, a in chunk], colour_order=colour_order)):
            if not r.ok:
                raise RuntimeError(f"{name}: {r.error}")
            central = [f.detection_score for f in r.faces
                       if subject_index([(f.box.x, f.box.y, f.box.width, f.box.height)], r.width, r.height) == 0]
            out.append({"image": name, "scores": [round(f.detection_score, 4) for f in r.faces],
                        "subject_score": round(max(central), 4) if central else None})
    return out


def curve(no_people, encoded, lfw, utk) -> list[dict]:
    rows = []
    for t in GRID:
        false = [sum(sc >= t for sc in im["scores"]) for im in no_people]
        rows.append({"threshold": t, "false_faces": int(sum(false)), "photos_with_false_faces": int(sum(map(bool, false))),
                     "false_faces_reencoded": int(sum(sum(sc >= t for sc in im["scores"]) for im in encoded)),
                     "lfw_found": sum(1 for im in lfw if im["subject_score"] is not None and im["subject_score"] >= t),
                     "utkface_val_found": sum(1 for im in utk if im["subject_score"] is not None and im["subject_score"] >= t),
                     # every face on the LFW photos, subjects and people around them (no ground truth:
                     # what a higher threshold costs on smaller, blurred, turned faces)
                     "lfw_all_faces": int(sum(sum(sc >= t for sc in im["scores"]) for im in lfw))})
    return rows


def choose(no_people, encoded, lfw, utk) -> tuple[float, float, float]:
    """(chosen, highest false-face score, lowest score of a subject found at the previous default)."""
    false = max(sc for im in no_people + encoded for sc in im["scores"])
    subject = min(im["subject_score"] for im in lfw + utk
                  if im["subject_score"] is not None and im["subject_score"] >= PREVIOUS_DEFAULT)
    if false >= subject:
        raise SystemExit(f"false faces score up to {false}, subjects down to {subject}: no threshold separates them")
    return round((false + subject) / 2, 2), false, subject


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="Only the first N LFW / UTKFace images (smoke runs).")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    photos, lfw_in, utk_in = skimage_photos(), lfw_images(args.limit), utkface_val(args.limit)
    encoded_in = reencoded(photos)
    start = time.perf_counter()
    with Predictor(min_detection_score=FLOOR) as p:
        detector = p.detector.describe()
        no_people = scores(p, photos, "RGB")
        encoded = scores(p, encoded_in, "BGR")
        lfw = scores(p, lfw_in, "BGR")
        utk = scores(p, utk_in, "BGR")
    rows = curve(no_people, encoded, lfw, utk)
    chosen, highest_false, lowest_subject = choose(no_people, encoded, lfw, utk)
    # the chosen threshold run for real (the curve above is computed from the FLOOR run)
    with Predictor(min_detection_score=chosen) as p:
        check = {"threshold": chosen, "detector": p.detector.describe(),
                 "false_faces": sum(len(r.faces) for r in p.predict([a for _, a in photos], colour_order="RGB")),
                 "false_faces_reencoded": sum(len(r.faces) for r in p.predict([a for _, a in encoded_in],
                                                                              colour_order="BGR")),
                 "lfw_found": sum(1 for im in scores(p, lfw_in, "BGR") if im["subject_score"] is not None),
                 "utkface_val_found": sum(1 for im in scores(p, utk_in, "BGR") if im["subject_score"] is not None)}
    lfw_subj = sorted(im["subject_score"] for im in lfw if im["subject_score"] is not None)
    utk_subj = sorted(im["subject_score"] for im in utk if im["subject_score"] is not None)
    result = {
        "what": "detection score threshold vs false faces (10 scikit-image photos without people) and subjects "
                "found (LFW dev set, UTKFace val chips); default pipeline, one run at the floor threshold",
        "command": "python benchmarks/detection_threshold.py" + (f" --limit {args.limit}" if args.limit else ""),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "detector": detector, "floor": FLOOR, "previous_default": PREVIOUS_DEFAULT, "chosen_default": chosen,
        "rule": "middle of the gap between the highest false-face score (any encoding) and the lowest score of a "
                "subject the previous default found (LFW, UTKFace val), rounded to 0.01",
        "highest_false_face_score": highest_false, "lowest_subject_score": lowest_subject,
        "n": {"no_people": len(photos), "no_people_reencoded": len(encoded), "lfw": len(lfw), "utkface_val": len(utk)},
        "no_people_scores": {im["image"]: im["scores"] for im in no_people + encoded},
        "lowest_subject_scores": {"lfw": lfw_subj[:10], "utkface_val": utk_subj[:10]},
        "curve": rows, "check_at_chosen": check, "seconds": round(time.perf_counter() - start, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("n", "highest_false_face_score", "lowest_subject_score",
                                             "lowest_subject_scores", "chosen_default", "check_at_chosen",
                                             "seconds")}, indent=1))


if __name__ == "__main__":
    main()
