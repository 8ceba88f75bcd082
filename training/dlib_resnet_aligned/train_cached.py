"""Fine-tune dlib's CC0 face-recognition ResNet for age and gender on a 2-core CPU.

The lower trunk (stem, level4, level3, level2: 88% of the 0.25 GMAC) stays frozen. It runs once
per augmented view of every training face and its output (128 x 8 x 8, fp16) is cached on disk, so
an epoch only runs the trainable upper stages (level1, level0: 256 channels, where a face-recognition
network turns generic face features into identity) and the heads. On 2 AVX2 cores the whole
network trains at ~30 faces/s, the upper stages at ~80.
Each epoch draws one of the cached views per face (crop / scale / rotation / mirror jitter,
real-photo degradation, greyscale; train/augment.py).

"Learning without forgetting": the frozen original network's 128-D descriptor of every view is
cached too, and a cosine loss keeps the fine-tuned descriptor near it (``--keep-weight``), so the
representation learnt from millions of in-the-wild faces is adapted, not overwritten, by ~29k
portraits. The descriptor is also the model's ``embedding`` output (video re-identification).

Selection: UTKFace val and AAF val together (gender, age MAE with the median estimate, as the
runtime reports); the LFW dev set is measured on exported candidates (benchmarks/lfw_eval.py).
Writes best.pt / last.pt in the trainer's checkpoint format, so ``agegender-edge export
--checkpoint best.pt`` exports it (alignment and training info included). Resumable: rerun the
same command (the caches and last.pt are reused).

    python training/dlib_resnet_aligned/train_cached.py --utk data/utk_dlib.h5 --aaf data/aaf_dlib.h5 \
        --backbone data/dlib_backbone.pt --out runs/dlib_resnet_aligned --cache data/dlib_cache
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from agegender_edge.train.augment import center_crop, degrade, photometric, random_affine_crop
from agegender_edge.train.data.h5pack import concat_faces, read_h5
from agegender_edge.train.metrics import Predictions, evaluate_predictions
from agegender_edge.train.models.dlib_resnet import fold_affine
from agegender_edge.train.models.registry import create_model, get_arch
from agegender_edge.train.postprocess import AgeGenderOutputs, Normalize
from agegender_edge.train.trainer import EMA, TrainConfig, loss_fn

ARCH = "dlib_resnet"
FROZEN = ("stem", "level4", "level3", "level2")


def frozen_trunk(net: nn.Module) -> nn.Module:
    return nn.Sequential(*(getattr(net, n) for n in FROZEN))


def upper_features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Pooled features from the cached level2 output (the tail of ``net.features``)."""
    return net.level0(net.level1(x)).mean(dim=(2, 3))


def view_images(images: np.ndarray, view: int, size: tuple[int, int], seed: int) -> torch.Tensor:
    """View 0: the evaluation centre crop (mirrored for odd rows); views >= 1: random affine crop,
    degradation and photometric jitter with greyscale (LFW-like photos are grey)."""
    if view == 0:
        x = center_crop(images, size).copy()
        x[1::2] = x[1::2, :, ::-1]
        return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float()
    rng = np.random.default_rng(seed)
    x = random_affine_crop(images, size, rng, scale=(0.9, 1.1), max_rotate=10.0, max_shift=0.05)
    x = degrade(x, rng, 0.3)
    t = torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float()
    return photometric(t, rng, strength=0.25, grey=0.25)


@torch.no_grad()
def build_cache(net: nn.Module, norm: nn.Module, images: np.ndarray, views: int, path: Path,
                size: tuple[int, int], batch: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """[views, N, 128, 8, 8] fp16 level2 outputs and [views, N, 128] original descriptors, one
    file pair per view (``<path>.v<k>.level2.npy`` / ``.emb.npy``): a later run with more views
    computes only the new ones (each view's augmentation is seeded by its index)."""
    trunk = fold_affine(frozen_trunk(net)).eval().to(memory_format=torch.channels_last)
    n = len(images)
    feats, embs = [], []
    t0 = time.time()
    for v in range(views):
        fpath, epath = path.with_suffix(f".v{v}.level2.npy"), path.with_suffix(f".v{v}.emb.npy")
        done = path.with_suffix(f".v{v}.done")
        if not (done.is_file() and int(done.read_text()) == n):
            f = np.lib.format.open_memmap(fpath, "w+", np.float16, (n, 128, 8, 8))
            e = np.lib.format.open_memmap(epath, "w+", np.float32, (n, 128))
            for s in range(0, n, batch):
                x = norm(view_images(images[s:s + batch], v, size, seed=1000 * v + s))
                h = trunk(x.contiguous(memory_format=torch.channels_last)).contiguous()
                f[s:s + len(x)] = h.numpy().astype(np.float16)
                e[s:s + len(x)] = net.embedding(upper_features(net, h)).numpy()
            f.flush()
            e.flush()
            del f, e
            done.write_text(str(n))
            print(f"cache {path.name}: view {v + 1}/{views} done, {time.time() - t0:.0f} s", flush=True)
        feats.append(np.load(fpath))
        embs.append(np.load(epath))
    return np.stack(feats), np.stack(embs)


@torch.no_grad()
def predict(net: nn.Module, feats: np.ndarray, outputs: AgeGenderOutputs, batch: int = 512) -> Predictions:
    g, grp, ages = [], [], []
    for s in range(0, len(feats), batch):
        gl, al = net.heads(upper_features(net, torch.from_numpy(np.asarray(feats[s:s + batch], dtype=np.float32))))
        gp, gr, _mean, _std, p = outputs(gl, al)
        cdf = torch.cumsum(p, 1)
        median = (cdf < 0.5).sum(1).float()  # the runtime's median estimate on one-year bins
        g.append(gp.numpy())
        grp.append(gr.numpy())
        ages.append(median.numpy())
    return Predictions(np.concatenate(g), np.concatenate(grp), np.concatenate(ages), group_rule="argmax")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--utk", type=Path, required=True)
    ap.add_argument("--aaf", type=Path, required=True)
    ap.add_argument("--backbone", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--views", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-4, help="upper stages; the heads get 10x")
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--keep-weight", type=float, default=1.0)
    ap.add_argument("--init", type=Path, default=None, help="start from this best.pt's EMA weights (fine-tune further)")
    ap.add_argument("--ema", type=float, default=0.998)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    arch = get_arch(ARCH)
    size = arch.input.size
    cfg = TrainConfig(model=ARCH, data=f"{args.utk.name}+{args.aaf.name}", out_dir=str(args.out),
                      epochs=args.epochs, batch_size=args.batch, lr=args.lr, weight_decay=args.weight_decay,
                      ema_decay=args.ema, bf16=False, dropout=0.0, distill_weight=0.0, threads=args.threads,
                      seed=args.seed, augment="affine", aug_degrade=0.3, aug_grey=0.25)

    net = create_model(ARCH, 101, dropout=0.0)
    missing, unexpected = net.load_state_dict(torch.load(args.backbone, map_location="cpu", weights_only=True), strict=False)
    assert not unexpected and all(k.startswith("heads.") for k in missing), (missing, unexpected)
    norm = Normalize(arch.input.mean, arch.input.std)
    outputs = AgeGenderOutputs(101)

    # data: UTKFace (train / val) and AAF (train / val), both cut by the runtime's YuNet + dlib template
    parts = {}
    for tag, path in (("utk", args.utk), ("aaf", args.aaf)):
        for split in ("train", "val"):
            parts[tag, split] = read_h5(path, split=split)
    train = concat_faces([parts["utk", "train"], parts["aaf", "train"]])
    tr = {k: torch.from_numpy(getattr(train, k)) for k in ("age", "age_group", "gender")}
    train_feats, train_embs = build_cache(net, norm, train.images, args.views, args.cache / "train", size)
    del train   # the images are in the cache now
    val = {tag: build_cache(net, norm, parts[tag, "val"].images, 1, args.cache / f"{tag}_val", size)[0][0]
           for tag in ("utk", "aaf")}
    n = len(tr["gender"])
    print(f"train faces {n} x {args.views} views; val utk {len(val['utk'])} aaf {len(val['aaf'])}", flush=True)

    if args.init is not None:   # after the caches: their descriptors are the original network's
        net.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=True)["ema"])
    trainable = ["level1", "level0"]
    for name in FROZEN:
        for p in getattr(net, name).parameters():
            p.requires_grad_(False)
    upper = [p for name in trainable for p in getattr(net, name).parameters()]
    # the descriptor's fc stays trainable (the keep loss reads it) at the trunk's rate
    upper += list(net.fc.parameters())
    opt = torch.optim.AdamW([{"params": upper, "lr": args.lr},
                             {"params": net.heads.parameters(), "lr": args.lr * 10}],
                            weight_decay=args.weight_decay)
    steps = args.epochs * math.ceil(n / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[args.lr, args.lr * 10], total_steps=steps,
                                                pct_start=0.1, anneal_strategy="cos")
    ema = EMA(net, args.ema)
    epoch, best, history = 0, -math.inf, []
    last = args.out / "last.pt"
    if last.is_file():
        state = torch.load(last, map_location="cpu", weights_only=True)
        net.load_state_dict(state["net"])
        ema.model.load_state_dict(state["ema"])
        ema.steps = int(state["ema_steps"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        epoch, best, history = int(state["epoch"]), float(state["best_score"]), json.loads(state["history"])
        print(f"resumed after epoch {epoch}", flush=True)
    bins, groups = outputs.bins, outputs.groups
    rng = np.random.default_rng(args.seed + epoch)
    align = None
    import h5py
    with h5py.File(args.utk, "r") as f:
        align = f.attrs.get("align")
        align = align.decode() if isinstance(align, bytes) else align

    while epoch < args.epochs:
        net.train()
        t0 = time.time()
        order = rng.permutation(n)
        views = rng.integers(0, args.views, n)
        sums = np.zeros(3)
        for s in range(0, n, args.batch):
            idx = np.sort(order[s:s + args.batch])
            v = views[idx]
            x = torch.from_numpy(np.stack([train_feats[vi, i] for vi, i in zip(v, idx)]).astype(np.float32))
            keep = torch.from_numpy(np.stack([train_embs[vi, i] for vi, i in zip(v, idx)]))
            it = torch.from_numpy(idx)
            f = upper_features(net, x)
            gl, al = net.heads(f)
            loss, lg, la = loss_fn(gl, al, tr["gender"][it], tr["age"][it], tr["age_group"][it], bins, groups, cfg)
            lk = (1 - F.cosine_similarity(net.embedding(f), keep, dim=1)).mean()
            total = loss + args.keep_weight * lk
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            sched.step()
            ema.update(net)
            sums += (float(lg), float(la), float(lk))
        epoch += 1
        batches = math.ceil(n / args.batch)
        ev = {}
        for tag in ("utk", "aaf"):
            p = val[tag]
            r = evaluate_predictions(predict(ema.model, p, outputs), parts[tag, "val"].gender,
                                     parts[tag, "val"].age_group, parts[tag, "val"].age)
            ev[tag] = {"gender": round(r.gender_accuracy, 4), "mae": round(r.age_mae, 3),
                       "group": round(r.age_group_accuracy, 4), "one_off": round(r.one_off_accuracy, 4)}
        # one selection figure over both sets: gender accuracy points minus MAE years / 2
        score = 100 * (ev["utk"]["gender"] + ev["aaf"]["gender"]) - (ev["utk"]["mae"] + ev["aaf"]["mae"]) / 2
        row = {"epoch": epoch, "seconds": round(time.time() - t0, 1), "loss_gender": round(sums[0] / batches, 4),
               "loss_age": round(sums[1] / batches, 4), "loss_keep": round(sums[2] / batches, 4),
               "val": ev, "score": round(score, 3)}
        history.append(row)
        print(json.dumps(row), flush=True)
        with open(args.out / "log.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")
        state = {"net": net.state_dict(), "ema": ema.model.state_dict(), "ema_steps": ema.steps,
                 "opt": opt.state_dict(), "sched": sched.state_dict(), "epoch": epoch, "best_score": best,
                 "history": json.dumps(history), "config": json.dumps(dataclasses.asdict(cfg)),
                 "val": json.dumps(ev), "align": align, "recipe": json.dumps(vars(args), default=str)}
        if score > best:
            best = score
            state["best_score"] = best
            torch.save(state, args.out / "best.pt.tmp")
            (args.out / "best.pt.tmp").replace(args.out / "best.pt")
        torch.save(state, args.out / "last.pt.tmp")
        (args.out / "last.pt.tmp").replace(last)


if __name__ == "__main__":
    main()
