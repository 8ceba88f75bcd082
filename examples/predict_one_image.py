"""Predict age and gender for the faces in one photo and save an annotated copy.

    python examples/predict_one_image.py [IMAGE] [--out annotated.jpg]

Without IMAGE it uses scikit-image's public-domain ``astronaut`` photo (Eileen Collins), which
ships inside the scikit-image package: no download.
"""
from __future__ import annotations

import argparse

import cv2

from agegender_edge import Predictor
from agegender_edge.annotate import draw_faces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", nargs="?", help="photo to analyse (default: skimage's astronaut)")
    ap.add_argument("--out", default="annotated.jpg", help="annotated copy to write")
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
    for i, face in enumerate(result.faces):
        lo, hi = face.age_interval_80
        print(f"face {i}: {face.gender} (p={face.gender_probability:.2f}), age {face.age:.1f} "
              f"(80% interval {lo:.0f}-{hi:.0f}), age group {face.age_group} "
              f"(p={face.age_group_probs[face.age_group]:.2f}), box {face.box}")
    if not result.faces:
        print("no face found")
    cv2.imwrite(args.out, draw_faces(bgr, result))
    print(f"annotated image: {args.out}")


if __name__ == "__main__":
    main()
