#!/usr/bin/env python3
"""Export a flip-TTA ONNX with the project's exporter (train/export_onnx.py) from a randomly
initialised EdgeResNet, so CTest can check the C++ backend on the in-graph flip averaging
(Slice with step -1, batch-half Slices) without shipping a second model:
make_flip_model.py OUT.onnx"""
import sys


def main() -> None:
    import torch

    from agegender_edge.train.export_onnx import build_metadata, export_onnx
    from agegender_edge.train.models.registry import create_model

    torch.manual_seed(0)
    net = create_model("edge_resnet", num_age_bins=101).eval()
    meta = build_metadata("edge_resnet", 101, "ctest_flip", flip_tta=True)
    export_onnx(net, meta, sys.argv[1])
    print(f"wrote {sys.argv[1]} (random weights, flip_tta=True)")


if __name__ == "__main__":
    main()
