"""Predict every image in a folder and write one CSV row per face.

    python examples/predict_folder_to_csv.py FOLDER out.csv [--detector none|haar|yunet:PATH]

Images stream through the predictor in chunks (decode/detect of the next chunk overlaps with
inference of the current one); an unreadable file becomes a row with its error, not a crash.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

from agegender_edge import Predictor

SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("out_csv", type=Path)
    ap.add_argument("--detector", default="auto", help="auto, haar, yunet:PATH, or none for face crops")
    args = ap.parse_args()

    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in SUFFIXES)
    detector = None if args.detector == "none" else args.detector
    rows = 0
    with Predictor(detector=detector) as predictor, open(args.out_csv, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "face", "x", "y", "width", "height", "gender", "p_gender", "age", "age_group", "error"])
        for result in predictor.predict_iter(files):
            name = Path(result.source).name
            if not result.ok or not result.faces:
                writer.writerow([name, "", "", "", "", "", "", "", "", "", result.error or "no face found"])
            for i, f in enumerate(result.faces):
                writer.writerow([name, i, round(f.box.x), round(f.box.y), round(f.box.width), round(f.box.height),
                                 f.gender, round(f.gender_probability, 4), round(f.age, 1), f.age_group, ""])
                rows += 1
    print(f"{len(files)} images, {rows} faces -> {args.out_csv}")


if __name__ == "__main__":
    main()
