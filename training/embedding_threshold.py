"""Choose a model's appearance threshold (the video tracker's gate) on data, and record it.

The tracker (agegender_edge/video/tracker.py) refuses to continue a track with a face whose
descriptor is farther than ``embedding.match_threshold`` (cosine distance, 1 - a.b of the
L2-normalised ``embedding`` output) from the track's. This script measures, for ANY model with
the descriptor output, the distances of

* same-person pairs:
  - ``video_like``: a photo and the same photo changed as consecutive video frames change it
    (scale +-10 %, shift +-4 %, rotation +-6 deg, brightness/contrast, blur, JPEG 40-80; seeded),
    on UTKFace val chips and AAF val photos — what frame-to-frame association and a re-found face
    after an occlusion see;
  - ``lfw_identity``: two different LFW dev photos of one identity (all such pairs) — years and
    pose apart, a harder "same" than any video;
* different-person pairs: random pairs of different UTKFace val chips (byte-identical
  duplicates excluded), of different AAF val photos (one person per file id), and of LFW dev
  photos of different identities;

every face found by the runtime's own detector and alignment (``Predictor.predict``, the subject
rule of agegender_edge/subject.py), as the video pipeline cuts it. Reported: for thresholds
0..2 the share of same pairs kept (TAR) and of different pairs let through (FAR) per set, and the
chosen threshold: the largest distance at which at most ``--far`` (default 1 %) of the
different-person pairs of EVERY set fall below it (the smallest of the per-set quantiles: the
gate must hold for each population — AAF's mostly East-Asian faces lie closer together in some
descriptor spaces than UTKFace's or LFW's) (the gate must keep different people apart: a merge mixes two people's
demographics and undercounts), with the same-pair TARs at it.

    python training/embedding_threshold.py                                 # the default model's CPU file
    python training/embedding_threshold.py --model edge_resnet_aligned_flip --n 400
    python training/embedding_threshold.py --write agegender_edge/weights/edge_resnet_aligned*.onnx

``--write FILE...`` stores the threshold in those files' metadata (``embedding.match_threshold``,
``threshold_fitted_on``) without touching a weight (weights_sha256 still verifies); give the
variants of the measured model (FP32 / INT8 of one network). Results:
benchmarks/results/embedding_threshold_<model>.json (+ .md).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agegender_edge import Predictor  # noqa: E402
from agegender_edge.subject import subject_index  # noqa: E402

DATA = REPO.parent / "shared" / "data"
AAF_IMAGES = REPO / "data" / "aaf_original"
# finer near 0: face-recognition descriptors put different people only ~0.05 apart
THRESHOLDS = np.round(np.concatenate([np.arange(0.0, 0.1, 0.001), np.arange(0.1, 2.0001, 0.01)]), 3)
CHUNK = 64


def perturb(bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same photo as a later video frame might show it (no new pose)."""
    h, w = bgr.shape[:2]
    s = rng.uniform(0.9, 1.1)
    a = rng.uniform(-6, 6)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), a, s)
    m[:, 2] += rng.uniform(-0.04, 0.04, 2) * (w, h)
    out = cv2.warpAffine(bgr, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out = cv2.convertScaleAbs(out, alpha=rng.uniform(0.8, 1.2), beta=rng.uniform(-15, 15))
    sigma = rng.uniform(0, 1.2)
    if sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 81))])
    return cv2.imdecode(enc, cv2.IMREAD_COLOR)


def embed(p: Predictor, images: list[np.ndarray]) -> list:
    """The subject's descriptor per image (None: no subject found)."""
    out = []
    for i in range(0, len(images), CHUNK):
        for img, r in zip(images[i:i + CHUNK], p.predict(images[i:i + CHUNK], colour_order="BGR",
                                                         return_embeddings=True)):
            k = subject_index([(f.box.x, f.box.y, f.box.width, f.box.height) for f in r.faces],
                              img.shape[1], img.shape[0]) if r.ok else None
            out.append(None if k is None else np.asarray(r.faces[k].embedding, dtype=np.float32))
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - np.dot(a, b))


def random_pairs(n_items: int, n_pairs: int, rng: np.random.Generator, same=None) -> list[tuple[int, int]]:
    pairs = set()
    while len(pairs) < min(n_pairs, n_items * (n_items - 1) // 2):
        i, j = (int(v) for v in rng.choice(n_items, 2, replace=False))
        if same is not None and same(i, j):
            continue
        pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


def photo_set(name: str, p: Predictor, files: list[Path], keys: list[str], n_diff: int, seed: int) -> dict:
    """video_like same pairs and different pairs (``keys`` equal = same photo content) of one set."""
    rng = np.random.default_rng(seed)
    imgs = [cv2.imread(str(f)) for f in files]
    base = embed(p, imgs)
    moved = embed(p, [perturb(im, np.random.default_rng([seed, k])) for k, im in enumerate(imgs)])
    same = [cosine(a, b) for a, b in zip(base, moved) if a is not None and b is not None]
    found = [k for k, e in enumerate(base) if e is not None]
    diff = [cosine(base[found[i]], base[found[j]]) for i, j in
            random_pairs(len(found), n_diff, rng, lambda i, j: keys[found[i]] == keys[found[j]])]
    print(f"{name}: {len(files)} photos, subject found in {len(found)}; {len(same)} video-like pairs, "
          f"{len(diff)} different-person pairs", flush=True)
    return {"photos": len(files), "found": len(found), "video_like": same, "different": diff}


def utkface(n: int, seed: int) -> tuple[list[Path], list[str]]:
    with open(DATA / "utkface" / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "val"]
    rows = [rows[i] for i in sorted(np.random.default_rng(seed).choice(len(rows), min(n, len(rows)), replace=False))]
    return [DATA / "utkface" / "images" / r["file"] for r in rows], [r["md5"] for r in rows]


def aaf(n: int, seed: int) -> tuple[list[Path], list[str]]:
    with open(DATA / "aaf" / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "val"]    # val only: the manifest's rule
    rows = [rows[i] for i in sorted(np.random.default_rng(seed).choice(len(rows), min(n, len(rows)), replace=False))]
    files = [AAF_IMAGES / r["file"] for r in rows]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"{missing[0]}: AAF val images are not extracted there (see ../shared/data/aaf/README.md)")
    return files, [r["file"].split("A")[0] for r in rows]


def lfw(p: Predictor, n_diff: int, seed: int) -> dict:
    with open(DATA / "lfw" / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = [r["identity"] for r in rows]
    emb = embed(p, [cv2.imread(str(DATA / "lfw" / "images" / r["file"])) for r in rows])
    by_id = defaultdict(list)
    for k, e in enumerate(emb):
        if e is not None:
            by_id[ids[k]].append(k)
    same = [cosine(emb[a], emb[b]) for ks in by_id.values() for x, a in enumerate(ks) for b in ks[x + 1:]]
    found = [k for k, e in enumerate(emb) if e is not None]
    rng = np.random.default_rng(seed)
    diff = [cosine(emb[found[i]], emb[found[j]]) for i, j in
            random_pairs(len(found), n_diff, rng, lambda i, j: ids[found[i]] == ids[found[j]])]
    print(f"lfw_dev: {len(rows)} photos, subject found in {len(found)}; {len(same)} same-identity pairs, "
          f"{len(diff)} different-identity pairs", flush=True)
    return {"photos": len(rows), "found": len(found), "identity": same, "different": diff}


def rate_below(d: list[float]) -> list[float]:
    a = np.sort(np.asarray(d))
    return [round(float(np.searchsorted(a, t, side="right")) / max(1, len(a)), 5) for t in THRESHOLDS]


def summary(d: list[float]) -> dict:
    a = np.asarray(d)
    return {"n": int(len(a)), **{f"p{q}": round(float(np.percentile(a, q)), 4) for q in (1, 5, 50, 95, 99)}}


def write_threshold(files: list[Path], threshold: float, fitted_on: str) -> None:
    import onnx

    from agegender_edge.engine.onnx_meta import read_metadata, write_metadata
    for f in files:
        model = onnx.load(str(f))
        meta = read_metadata(model, str(f))
        if meta.embedding is None:
            raise SystemExit(f"{f}: no embedding output (training/add_embedding_output.py adds it)")
        emb = meta.embedding.__class__(**{**meta.embedding.__dict__, "match_threshold": threshold,
                                          "threshold_fitted_on": fitted_on})
        before = meta.weights_sha256
        new = write_metadata(model, meta.replace(embedding=emb))
        if before and new.weights_sha256 != before:
            raise SystemExit(f"{f}: weights checksum would change: not written")
        tmp = f.with_name(f.name + ".tmp")
        tmp.write_bytes(model.SerializeToString())
        os.replace(tmp, f)                 # atomic: a reader never sees half a file
        print(f"{f.name}: embedding.match_threshold = {threshold}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="a shipped name or a path (default: what Predictor() runs on CPU)")
    ap.add_argument("--n", type=int, default=600, help="UTKFace val chips and AAF val photos used (each)")
    ap.add_argument("--pairs", type=int, default=20000, help="different-person pairs per set")
    ap.add_argument("--far", type=float, default=0.01, help="share of different-person pairs the gate may let through")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--write", type=Path, nargs="*", default=[], help="ONNX files to store the threshold in")
    args = ap.parse_args()

    with Predictor(model=args.model, backend="onnxruntime", device="cpu") as p:
        name = p.model_path.stem
        sets = {"utkface_val": photo_set("utkface_val", p, *utkface(args.n, args.seed), args.pairs, args.seed),
                "aaf_val": photo_set("aaf_val", p, *aaf(args.n, args.seed), args.pairs, args.seed + 1),
                "lfw_dev": lfw(p, args.pairs, args.seed + 2)}
        detector = p.detector.describe()
    different = [d for s in sets.values() for d in s["different"]]
    threshold = round(min(float(np.quantile(np.asarray(s["different"]), args.far)) for s in sets.values()), 4)
    same_sets = {"video_like_utkface": sets["utkface_val"]["video_like"], "video_like_aaf": sets["aaf_val"]["video_like"],
                 "lfw_identity": sets["lfw_dev"]["identity"]}
    diff_sets = {f"different_{k}": s["different"] for k, s in sets.items()}
    at = {k: round(float(np.mean(np.asarray(v) <= threshold)), 4) for k, v in {**same_sets, **diff_sets}.items()}
    result = {
        "model": name, "detector": detector, "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "rule": f"threshold = the smallest per-set {args.far:.0%} quantile of the different-person distances",
        "match_threshold": threshold,
        "at_threshold": {"share_at_or_below": at},
        "distances": {k: summary(v) for k, v in {**same_sets, **diff_sets}.items()},
        "curve": {"thresholds": THRESHOLDS.tolist(),
                  **{f"tar_{k}": rate_below(v) for k, v in same_sets.items()},
                  **{f"far_{k}": rate_below(v) for k, v in diff_sets.items()},
                  "far_all_different": rate_below(different)},
        "sets": {k: {"photos": s["photos"], "found": s["found"]} for k, s in sets.items()},
    }
    out = args.out or REPO / "benchmarks" / "results" / f"embedding_threshold_{name}"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    lines = [f"# Appearance threshold of `{name}` (training/embedding_threshold.py)", "",
             f"{result['when']}, {result['machine']}; `{result['command']}`", "",
             f"Chosen: **{threshold}** (cosine distance; {result['rule']}).", "",
             "| pairs | n | p1 | p5 | median | p95 | p99 | share <= threshold |", "|---|---|---|---|---|---|---|---|"]
    for k, s in result["distances"].items():
        lines.append(f"| {k} | {s['n']} | {s['p1']} | {s['p5']} | {s['p50']} | {s['p95']} | {s['p99']} | {at[k]} |")
    lines += ["", "Same-person rows: the share kept by the gate (TAR); different-person rows: the share let "
              "through (FAR). The full curves (thresholds 0..0.1 by 0.001, then to 2 by 0.01) are in the .json."]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.write:
        write_threshold(args.write, threshold, f"{name}: {result['rule']} (UTKFace val, AAF val, LFW dev; "
                                               f"benchmarks/results/{out.name}.json)")


if __name__ == "__main__":
    main()
