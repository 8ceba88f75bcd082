"""Where the student's in-the-wild gender stops: linear probes on its features, and how well its
feature-distillation projection reproduces dlib's embeddings on the LFW dev subjects.

The LFW subjects are cut exactly as the runtime cuts them (the default Predictor's YuNet with
rotation search, subject nearest the centre, landmark alignment to the network input).

    python training/edge_resnet_aligned_v5_feature_kd/diagnose.py runs/edge_resnet_aligned_v5/last.pt \
        --weights net --lfw ../shared/data/lfw --lfw-embeddings data/dlib/lfw.npz --data data/utk112a.h5
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from agegender_edge import Predictor
from agegender_edge.imageio import DEFAULT_MAX_PIXELS, load_image
from agegender_edge.preprocess import face_input
from agegender_edge.subject import subject_index
from agegender_edge.train.data.h5pack import read_h5
from agegender_edge.train.models.registry import create_model, get_arch
from agegender_edge.train.postprocess import Normalize
from agegender_edge.train.trainer import TrainConfig


def lfw_subjects(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """(RGB network inputs [N, H, W, 3], male [N]); every dev photo has a subject (found 1.000)."""
    rows = list(csv.DictReader(open(root / "labels.csv", newline="")))
    with Predictor() as p:
        crops = []
        for r in rows:
            bgr = load_image(str(root / "images" / r["file"]), "BGR", DEFAULT_MAX_PIXELS).bgr
            dets = p.detector.detect(bgr)
            k = subject_index([(d.x, d.y, d.width, d.height) for d in dets], bgr.shape[1], bgr.shape[0])
            if k is None:
                raise SystemExit(f"{r['file']}: no subject found")
            crops.append(face_input(bgr, dets[k], p.detector.calibration, p.metadata)[0])
    return np.stack(crops), np.array([r["gender"] == "M" for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--weights", default="ema", choices=["ema", "net"],
                    help="net: the raw weights the projection head was trained with (last.pt only)")
    ap.add_argument("--lfw", type=Path, required=True)
    ap.add_argument("--lfw-embeddings", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    cfg = TrainConfig(**json.loads(state["config"]))
    net = create_model(cfg.model, cfg.age_bins, **({} if cfg.dropout is None else {"dropout": cfg.dropout}))
    net.load_state_dict(state[args.weights])
    net.eval()
    arch = get_arch(cfg.model)
    norm = Normalize(arch.input.mean, arch.input.std)
    captured: dict = {}
    net.heads.register_forward_pre_hook(lambda _m, a: captured.__setitem__("x", a[0]))

    @torch.no_grad()
    def features(rgb: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        f, g = [], []
        for s in range(0, len(rgb), 256):
            logits, _ = net(norm(torch.from_numpy(rgb[s:s + 256]).permute(0, 3, 1, 2).float()))
            f.append(captured["x"]); g.append(logits)
        return torch.cat(f), torch.cat(g)

    crops, male = lfw_subjects(args.lfw)

    def balanced(pred_male: np.ndarray) -> float:
        return float(((pred_male & male).sum() / male.sum() + (~pred_male & ~male).sum() / (~male).sum()) / 2)

    f_lfw, g_lfw = features(crops)
    print(f"own gender head, LFW balanced: {balanced((g_lfw[:, 1] > g_lfw[:, 0]).numpy()):.4f}")
    train = read_h5(args.data, split="train")
    m = (train.images.shape[1] - arch.input.size[0]) // 2
    f_train, _ = features(np.ascontiguousarray(train.images[:, m:m + arch.input.size[0], m:m + arch.input.size[1]]))
    probe = LogisticRegression(C=1.0, max_iter=3000).fit(f_train.numpy(), train.gender)   # h5: 1 = male
    print(f"logistic probe on its features (fitted on UTKFace train), LFW balanced: {balanced(probe.predict(f_lfw.numpy()) == 1):.4f}")
    if "feature_head" in state:
        w = state["feature_head"]
        head = torch.nn.Linear(w["weight"].shape[1], w["weight"].shape[0])
        head.load_state_dict(w)
        with torch.no_grad():
            p_lfw = torch.nn.functional.normalize(head(f_lfw), dim=1).numpy()
            p_train = torch.nn.functional.normalize(head(f_train), dim=1).numpy()
        z = np.load(args.lfw_embeddings)
        e = z["embedding"] / np.linalg.norm(z["embedding"], axis=1, keepdims=True)
        print(f"projection vs dlib embedding on LFW: mean cosine {(p_lfw * e).sum(1).mean():.4f}")
        probe = LogisticRegression(C=1.0, max_iter=3000).fit(p_train, train.gender)
        print(f"logistic probe on the projection, LFW balanced: {balanced(probe.predict(p_lfw) == 1):.4f}")


if __name__ == "__main__":
    main()
