"""PyTorch checkpoint -> ONNX with metadata, checked by onnx.checker and an ONNX Runtime parity run.

The exported graph takes raw 0-255 pixels ``input`` [N,3,H,W] (colour order from the metadata)
and returns the five named outputs of metadata.OUTPUT_NAMES, plus the face descriptor
``embedding`` [N,D] (L2-normalised; metadata ``embedding`` section) for every architecture with a
``features`` method (postprocess.DeployModel). Normalisation, softmax, expected age, std, group
sums and the descriptor's normalisation are inside the graph, so every runtime (Python, C++,
TensorRT, DeepStream) decodes identically.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..labels import AGE_GROUP_LABELS, GENDER_LABELS
from ..engine.onnx_meta import write_metadata
from ..metadata import (OUTPUT_AGE_MEAN, OUTPUT_AGE_STD, OUTPUT_EMBEDDING, OUTPUT_NAMES, AlignSpec, EmbeddingSpec,
                        ModelMetadata)
from .models.registry import get_arch
from .postprocess import DeployModel, age_bins_for, descriptor_dim

LICENCE_NONCOMMERCIAL = (
    "Weights trained on UTKFace (and/or All-Age-Faces, Adience): non-commercial research use only, "
    "as the datasets' terms require (a pretrained backbone's own licence, e.g. dlib's CC0 "
    "face-recognition ResNet, does not lift that). Code: see the project's licence."
)


YEARS_SCALE = 100.0


@dataclass
class ParityResult:
    """Max |ONNX Runtime - PyTorch| per output. ``tolerance`` applies to probabilities; outputs in
    years (0-100) get ``tolerance * 100``, the same precision relative to their range."""

    n: int
    max_abs_diff: dict[str, float]
    tolerance: float

    def limit(self, output: str) -> float:
        return self.tolerance * (YEARS_SCALE if output in (OUTPUT_AGE_MEAN, OUTPUT_AGE_STD) else 1.0)

    @property
    def ok(self) -> bool:
        return all(v <= self.limit(k) for k, v in self.max_abs_diff.items())


def build_metadata(arch_name: str, num_age_bins: int, name: str, flip_tta: bool,
                   training: Optional[dict] = None, licence: str = LICENCE_NONCOMMERCIAL,
                   age_estimate: str = "mean", align: Optional[AlignSpec] = None) -> ModelMetadata:
    """``align``: the AlignSpec the training faces were cut with (stored in the checkpoint from
    the .h5), so the runtime cuts faces the same way; None for box-rule (chip) training data."""
    arch = get_arch(arch_name)
    return ModelMetadata(
        name=name, architecture=arch_name, input=arch.input, crop=arch.crop,
        age_groups=tuple(AGE_GROUP_LABELS), age_bins=tuple(float(b) for b in age_bins_for(num_age_bins)),
        gender_labels=tuple(GENDER_LABELS), flip_tta=flip_tta, training=training or {}, licence=licence,
        # one-year bins: report the group of the expected age (consistent with the reported age);
        # group-only models: the most probable group
        age_group_rule="expected_age" if num_age_bins > len(AGE_GROUP_LABELS) else "argmax",
        age_estimate=age_estimate, align=align,
    )


def checkpoint_align(state: dict) -> Optional[AlignSpec]:
    """The AlignSpec a checkpoint was trained with (train/trainer.py stores the .h5's), or None."""
    from ..metadata import _align_from_dict
    text = state.get("align")
    return _align_from_dict(json.loads(text)) if text else None


def embedding_spec(net: torch.nn.Module, meta: ModelMetadata) -> Optional[EmbeddingSpec]:
    """The ``embedding`` metadata section for ``net`` (None: no descriptor protocol). A threshold
    already in ``meta.embedding`` (training/embedding_threshold.py) is kept."""
    dim = descriptor_dim(net, meta.input.size)
    if not dim:
        return None
    old = meta.embedding
    return EmbeddingSpec(dim=dim, source="face_recognition" if hasattr(net, "embedding") else "pooled_features",
                         flip="mean" if meta.flip_tta else "none",
                         match_threshold=old.match_threshold if old is not None and old.dim == dim else None,
                         threshold_fitted_on=old.threshold_fitted_on if old is not None and old.dim == dim else "")


def deploy_outputs(meta: ModelMetadata) -> list[str]:
    """The exported graph's output names: the five, then the descriptor when the metadata has one."""
    return list(OUTPUT_NAMES) + ([OUTPUT_EMBEDDING] if meta.embedding is not None else [])


def export_onnx(net: torch.nn.Module, meta: ModelMetadata, out_path: Path, opset: int = 17) -> Path:
    """Export ``net`` wrapped in DeployModel; writes metadata_props (with the ``embedding``
    section when the architecture has ``features``) and checks the model."""
    import onnx

    num_bins = len(meta.age_bins)
    net = net.eval()
    if hasattr(net, "fused"):   # an architecture's inference form (e.g. dlib_resnet: Affine folded into convs)
        net = net.fused()
    meta = meta.replace(embedding=embedding_spec(net, meta))
    deploy = DeployModel(net, num_bins, meta.input.mean, meta.input.std, flip_tta=meta.flip_tta,
                         with_embedding=meta.embedding is not None).eval()
    names = deploy_outputs(meta)
    h, w = meta.input.size
    dummy = torch.zeros(2, 3, h, w)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp.onnx")
    # The TorchScript exporter (dynamo=False) emits plain standard ops (LRN stays LRN) that
    # TensorRT 8.5, OpenCV DNN and DeepStream all parse; weights stay inside the one file.
    with torch.no_grad():
        torch.onnx.export(
            deploy, (dummy,), str(tmp), dynamo=False, opset_version=opset,
            input_names=[meta.input.name], output_names=names,
            dynamic_axes={meta.input.name: {0: "batch"}, **{n: {0: "batch"} for n in names}},
            do_constant_folding=True,
        )
    model = onnx.load(str(tmp))
    tmp.unlink()
    write_metadata(model, meta)  # with weights_sha256 over the exported initializers
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(out_path))
    return out_path



def parity_check(net: torch.nn.Module, meta: ModelMetadata, onnx_path: Path, faces: np.ndarray,
                 tolerance: float = 1e-4) -> ParityResult:
    """Run the same real faces (uint8 NHWC RGB at the network input size) through PyTorch
    (fp32) and ONNX Runtime; report the max abs diff per output (the descriptor included)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs() if o.name in (*OUTPUT_NAMES, OUTPUT_EMBEDDING)]
    deploy = DeployModel(net.eval(), len(meta.age_bins), meta.input.mean, meta.input.std,
                         flip_tta=meta.flip_tta, with_embedding=OUTPUT_EMBEDDING in names).eval()
    x = faces if meta.input.colour_order == "RGB" else faces[..., ::-1]
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32)
    with torch.no_grad():
        ref = [t.numpy() for t in deploy(torch.from_numpy(x))]
    got = sess.run(names, {meta.input.name: x})
    diffs = {name: float(np.max(np.abs(r - g))) for name, r, g in zip(names, ref, got)}
    return ParityResult(n=len(x), max_abs_diff=diffs, tolerance=tolerance)


def checkpoint_training_info(cfg_json: str, val_json: Optional[str], epoch: int) -> dict:
    cfg = json.loads(cfg_json)
    info = {"data": Path(cfg.get("data", "")).name, "train_split": cfg.get("train_split"),
            "val_split": cfg.get("val_split"), "epochs": cfg.get("epochs"), "selected_epoch": epoch,
            "recipe": {k: cfg[k] for k in ("batch_size", "lr", "weight_decay", "ema_decay", "age_sigma",
                                            "age_sigma_slope", "age_l1_weight", "seed", "bf16") if k in cfg}}
    if val_json:
        info["val_metrics"] = json.loads(val_json)
    return info
