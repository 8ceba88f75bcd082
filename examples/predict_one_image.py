"""Predict age and gender for the faces in one photo and save an annotated copy.

    python examples/predict_one_image.py [IMAGE] [--out annotated.jpg]

Without IMAGE it uses scikit-image's public-domain ``astronaut`` photo (Eileen Collins), which
ships inside the scikit-image package: no download. Without --out the annotated copy goes to the
system's temporary folder (never into the folder you run it from, e.g. the repository).
"""
from __future__ import annotations

import argparse
import os
import tempfile

import cv2

from agegender_edge import Predictor
from agegender_edge.annotate import draw_faces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", nargs="?", help="photo to analyse (default: skimage's astronaut)")
    ap.add_argument("--out", default=None,
                    help="annotated copy to write (default: <temp folder>/<image name>_annotated.jpg)")
    args = ap.parse_args()

    with Predictor() as predictor:                      # the shipped model, ONNX Runtime, Haar/YuNet
        if args.image:
            result = predictor.predict(args.image)
            bgr = cv2.imread(args.image)
        else:
            from skimage import data
            rgb = data.astronaut()                       # numpy RGB array
            result = predictor.predict(rgb, colour_order="RGB")
            bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if not result.ok:
        raise SystemExit(f"error: {result.error}")
    for i, face in enumerate(result.faces, start=1):     # numbered from 1, as the CLI and the C++ app
        lo, hi = face.age_interval_80
        print(f"face {i}: {face.gender} (p={face.gender_probability:.2f}), age {face.age:.1f} "
              f"(80% interval {lo:.0f}-{hi:.0f}), age group {face.age_group} "
              f"(p={face.age_group_probs[face.age_group]:.2f}), box {face.box}")
    if not result.faces:
        print("no face found")
    stem = os.path.splitext(os.path.basename(args.image))[0] if args.image else "astronaut"
    out = args.out or os.path.join(tempfile.gettempdir(), f"{stem}_annotated.jpg")
    if not cv2.imwrite(out, draw_faces(bgr, result)):
        raise SystemExit(f"error: could not write {out}")
    print(f"annotated image: {out}")


if __name__ == "__main__":
    main()
