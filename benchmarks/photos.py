"""640x480 benchmark photos with one face each, generated at run time (never committed).

Each photo: a real photograph as background (one of the 19 Adience sample photos, cropped,
resized to 640x480 and blurred so its own face cannot be detected) with one real UTKFace val
chip pasted at a random place and size (110-230 px, soft-edged), saved as JPEG quality 90 --
a phone-style photo with one face. Data terms: UTKFace / Adience, research use only.

    python benchmarks/photos.py OUT_DIR [--count 64]
"""
from __future__ import annotations

import argparse
import glob
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
ADIENCE = SHARED / "adience" / "sample_faces"
UTK = SHARED / "utkface"


def val_chips(limit: int = 256) -> list[Path]:
    """UTKFace val chips (no duplicates, no label conflicts), in file-name order."""
    import csv
    rows = [r for r in csv.DictReader(open(UTK / "labels.csv", encoding="utf-8"))
            if r["split"] == "val" and r["label_conflict"] == "0" and r["dup_count"] == "1"]
    return [UTK / "images" / r["file"] for r in rows[:limit]]


def backgrounds() -> list[np.ndarray]:
    files = sorted(glob.glob(str(ADIENCE / "**" / "*.jpg"), recursive=True))
    out = []
    for f in files:
        img = cv2.imread(f)
        if img is None:
            continue
        h, w = img.shape[:2]
        # 4:3 crop, 640x480, heavy blur: photographic colour and texture, no detectable face
        ch = min(h, int(w * 3 / 4))
        cw = int(ch * 4 / 3)
        img = img[(h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw]
        img = cv2.resize(img, (640, 480), interpolation=cv2.INTER_AREA)
        out.append(cv2.GaussianBlur(img, (0, 0), 41))
    if not out:
        raise FileNotFoundError(f"no background photos under {ADIENCE}")
    return out


def make_photos(out_dir: Path, count: int = 64, seed: int = 0, chips: Sequence[Path] = ()) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    bgs = backgrounds()
    chips = list(chips) or val_chips()
    paths = []
    for i in range(count):
        bg = bgs[i % len(bgs)].copy()
        if rng.random() < 0.5:
            bg = bg[:, ::-1].copy()
        chip = cv2.imread(str(chips[(i * 7) % len(chips)]))
        s = int(rng.integers(110, 231))
        chip = cv2.resize(chip, (s, s), interpolation=cv2.INTER_AREA)
        x0 = int(rng.integers(10, 640 - s - 10))
        y0 = int(rng.integers(10, 480 - s - 10))
        # soft edge: alpha ramps over the outer 12% of the chip
        ramp = np.minimum(np.arange(s), np.arange(s)[::-1]) / max(1.0, 0.12 * s)
        alpha = np.clip(np.minimum.outer(ramp, ramp), 0, 1)[..., None].astype(np.float32)
        roi = bg[y0:y0 + s, x0:x0 + s].astype(np.float32)
        bg[y0:y0 + s, x0:x0 + s] = (alpha * chip + (1 - alpha) * roi).astype(np.uint8)
        p = out_dir / f"photo_{i:03d}.jpg"
        cv2.imwrite(str(p), bg, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(p)
    return paths


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--count", type=int, default=64)
    a = ap.parse_args()
    print(f"wrote {len(make_photos(a.out_dir, a.count))} photos to {a.out_dir}")
