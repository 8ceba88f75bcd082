"""Parity and cost of the converted dlib backbone: PyTorch vs dlib-bin on dlib's own chips.

Cuts 150 px chips the dlib way (HOG detector, 5-point predictor, get_face_chip padding 0.25) from
UTKFace and LFW photos, compares DlibFaceResNet's descriptor with ``compute_face_descriptor``
(cosine and max abs difference), then times the PyTorch fp32 forward (batch 64) and counts MACs.

    python training/dlib_backbone/measure.py --faces 100 --threads 2
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def dlib_chips(n_per_set: int) -> np.ndarray:
    import dlib
    import face_recognition_models as frm
    from PIL import Image

    detect = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    chips = []
    for name, upsample in (("utkface", 0), ("lfw", 1)):
        with open(SHARED / name / "labels.csv", newline="") as f:
            files = [row["file"] for row in csv.DictReader(f)]
        found = 0
        for file in files[:: max(1, len(files) // (2 * n_per_set))]:
            img = np.asarray(Image.open(SHARED / name / "images" / file).convert("RGB"))
            dets = list(detect(img, upsample))
            if dets:
                chips.append(dlib.get_face_chip(img, shape(img, dets[0]), size=150, padding=0.25))
                found += 1
            if found == n_per_set:
                break
    return np.stack(chips)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=int, default=100, help="faces per set (UTKFace, LFW)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()

    import dlib
    import face_recognition_models as frm
    import torch

    from agegender_edge.train.convert.dlib_dat import read_dlib_resnet
    from agegender_edge.train.models.complexity import count_macs, count_params
    from agegender_edge.train.models.registry import create_model

    dat = frm.face_recognition_model_location()
    net = create_model("dlib_resnet", 101).eval()
    net.load_state_dict(read_dlib_resnet(dat), strict=False)
    chips = dlib_chips(args.faces)
    rec = dlib.face_recognition_model_v1(dat)
    ref = np.stack([np.asarray(rec.compute_face_descriptor(c), np.float32) for c in chips])
    x = torch.from_numpy(chips).permute(0, 3, 1, 2).float()
    x = (x - torch.tensor([122.782, 117.001, 104.298]).view(1, 3, 1, 1)) / 256.0
    with torch.no_grad():
        got = net.embedding(net.features(x)).numpy()
    cos = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    print(f"parity on {len(chips)} dlib chips: min cosine {cos.min():.8f}, "
          f"max abs diff {np.abs(got - ref).max():.3g} (descriptor norm ~{np.linalg.norm(ref, axis=1).mean():.2f})")

    macs = count_macs(net, (150, 150))
    print(f"MACs: {macs / 1e6:.1f} M per face (trunk + age/gender heads), + {256 * 128 / 1e3:.1f} K for the "
          f"128-D descriptor; {count_params(net) / 1e6:.2f} M parameters")

    torch.set_num_threads(args.threads)
    xb = torch.randn(args.batch, 3, 150, 150)
    for fmt in (torch.contiguous_format, torch.channels_last):
        m, xi = net.to(memory_format=fmt), xb.contiguous(memory_format=fmt)
        with torch.inference_mode():
            for _ in range(2):
                m(xi)
            times = []
            for _ in range(5):
                t = time.perf_counter()
                m(xi)
                times.append(time.perf_counter() - t)
        print(f"PyTorch {torch.__version__} fp32 {'channels_last' if fmt is torch.channels_last else 'NCHW'}, "
              f"batch {args.batch}, {args.threads} threads: {np.median(times) / args.batch * 1e3:.1f} ms per face "
              f"(median of 5; best {min(times) / args.batch * 1e3:.1f})")


if __name__ == "__main__":
    main()
