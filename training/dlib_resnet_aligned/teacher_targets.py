"""Teacher targets for the fast tier: the fine-tuned dlib_resnet's probabilities on every training
face (UTKFace train + AAF train), for ``TrainConfig.teacher_targets`` (matched by file name, so
the student reads them on its own 112 px crops of the same photos).

The teacher's frozen trunk output for the centre crop of each face is already in the training
cache (train_cached.py, view 0), so only its fine-tuned upper stages and heads run here.

    python training/dlib_resnet_aligned/teacher_targets.py --checkpoint runs/dlib_resnet_aligned/best.pt \
        --utk data/utk_dlib.h5 --aaf data/aaf_dlib.h5 --cache data/dlib_cache --out data/teacher_dlib_resnet.npz
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from agegender_edge.train.data.h5pack import concat_faces, read_h5
from agegender_edge.train.postprocess import AgeGenderOutputs
from agegender_edge.train.trainer import load_best
from train_cached import upper_features


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", type=Path, required=True)
    ap.add_argument("--utk", type=Path, required=True)
    ap.add_argument("--aaf", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    net, _cfg = load_best(args.checkpoint)
    outputs = AgeGenderOutputs(101)
    train = concat_faces([read_h5(p, split="train") for p in (args.utk, args.aaf)])   # the cache's row order
    files, gender = train.files, train.gender
    feats = np.load(args.cache / "train.v0.level2.npy", mmap_mode="r")
    if len(feats) != len(files):
        raise SystemExit(f"cache has {len(feats)} rows, the data {len(files)}: rebuild the cache")
    pg, pa = [], []
    with torch.no_grad():
        for s in range(0, len(files), 512):
            x = torch.from_numpy(np.asarray(feats[s:s + 512], dtype=np.float32))
            g, _grp, _m, _sd, p = outputs(*net.heads(upper_features(net, x)))
            pg.append(g.numpy())
            pa.append(p.numpy())
    pg, pa = np.concatenate(pg), np.concatenate(pa)
    np.savez_compressed(args.out, files=np.array(files), gender=pg.astype(np.float32), age=pa.astype(np.float16))
    print(json.dumps({"faces": len(files), "teacher_train_gender_accuracy": round(float((pg.argmax(1) == gender).mean()), 4),
                      "out": str(args.out)}))


if __name__ == "__main__":
    main()
