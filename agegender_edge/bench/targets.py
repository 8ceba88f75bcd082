"""What gets timed: a model on a backend at a precision.

  OrtTarget      an .onnx file on ONNX Runtime (FP32, or INT8/FP16 files from ``export``)
  TensorRTTarget an .onnx (built to an engine) or .engine file on TensorRT (GPU only)
  TorchTarget    a training checkpoint in PyTorch eager mode: the reference (needs [train])

Each target: ``open()`` -> metadata, ``infer(batch)``, ``close()``, ``info()`` for the report.
A target that cannot run here raises ``TargetUnavailable`` with the reason; the bench reports
it as skipped instead of failing the whole run.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

import numpy as np

from ..backends.onnxruntime import OrtOptions
from ..metadata import ModelMetadata


class TargetUnavailable(RuntimeError):
    """This target cannot run on this machine (missing package, no GPU, ...)."""


def onnx_precision(path: Path, meta: Optional[ModelMetadata]) -> str:
    """Precision of an ONNX file: the metadata's, unless it says fp32 and the graph holds
    quantisation ops (files quantised after export keep the exporter's metadata)."""
    declared = (meta.precision if meta else "fp32") or "fp32"
    if declared != "fp32":
        return declared
    data = Path(path).read_bytes()
    if any(op in data for op in (b"QuantizeLinear", b"QLinearConv", b"ConvInteger", b"MatMulInteger")):
        return "int8"
    return "fp32"


class Target:
    backend = "?"

    def __init__(self, label: Optional[str] = None):
        self._label = label
        self.metadata: Optional[ModelMetadata] = None
        self.precision = "fp32"

    @property
    def label(self) -> str:
        return self._label or self.default_label()

    def default_label(self) -> str:
        return f"{self.backend} {self.precision}"

    def open(self) -> ModelMetadata:
        raise NotImplementedError

    def infer(self, batch: np.ndarray):
        raise NotImplementedError

    def close(self) -> None:
        pass

    def info(self) -> dict:
        return {"label": self.label, "backend": self.backend, "precision": self.precision}


class RunnerTarget(Target):
    """A target backed by one of the SDK's runners (backends/*): inference and teardown are the runner's."""

    runner = None

    def infer(self, batch: np.ndarray):
        return self.runner.infer(batch)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.deactivate()


class OrtTarget(RunnerTarget):
    backend = "onnxruntime"

    def __init__(self, model: Path, options: OrtOptions = OrtOptions(), device: str = "cpu",
                 label: Optional[str] = None, metadata: Optional[ModelMetadata] = None):
        super().__init__(label)
        self.model = Path(model)
        self.options = options
        self.device = device
        self._explicit_metadata = metadata
        self.runner = None

    def default_label(self) -> str:
        return f"{self.model.stem} ort-{self.device} {self.precision}"

    def open(self) -> ModelMetadata:
        from ..backends.select import create_runner
        from ..errors import BackendUnavailableError

        try:
            self.runner = create_runner(self.model, backend="onnxruntime", device=self.device,
                                        ort_options=self.options, metadata=self._explicit_metadata)
            self.runner.activate()
        except BackendUnavailableError as exc:
            raise TargetUnavailable(str(exc)) from exc
        self.metadata = self.runner.metadata
        self.precision = onnx_precision(self.model, self.metadata)
        return self.metadata

    def info(self) -> dict:
        d = super().info()
        o = self.options
        d.update(model=str(self.model), device=self.device,
                 providers=self.runner.active_providers if self.runner is not None else [],
                 ort_options={"intra_op_threads": o.intra_op_threads, "inter_op_threads": o.inter_op_threads,
                              "allow_spinning": o.allow_spinning, "graph_optimization": o.graph_optimization,
                              "sequential": o.sequential})
        return d


class TensorRTTarget(RunnerTarget):
    backend = "tensorrt"

    def __init__(self, model: Path, device: str = "cuda", max_batch_size: int = 32,
                 label: Optional[str] = None):
        super().__init__(label)
        self.model = Path(model)
        self.device = device
        self.max_batch_size = max_batch_size
        self.runner = None

    def default_label(self) -> str:
        return f"{self.model.stem} tensorrt {self.precision}"

    def open(self) -> ModelMetadata:
        from ..backends.select import create_runner
        from ..errors import BackendUnavailableError

        try:
            self.runner = create_runner(self.model, backend="tensorrt", device=self.device,
                                        max_batch_size=self.max_batch_size)
            self.runner.activate()
        except (BackendUnavailableError, ImportError) as exc:
            raise TargetUnavailable(str(exc)) from exc
        self.metadata = self.runner.metadata
        self.precision = getattr(self.runner, "precision", None) or self.metadata.precision or "fp16"
        return self.metadata

    def info(self) -> dict:
        d = super().info()
        d.update(model=str(self.model), device=self.device, runner=self.runner.describe() if self.runner else None)
        return d


class TorchTarget(Target):
    """PyTorch eager on CPU: the exported graph's reference (normalisation and decoding included)."""

    backend = "torch-eager"

    def __init__(self, checkpoint: Path, threads: int = 0, label: Optional[str] = None):
        super().__init__(label)
        self.checkpoint = Path(checkpoint)
        self.threads = threads
        self._model = None
        self._torch = None

    def default_label(self) -> str:
        return f"{self.checkpoint.stem} torch-eager fp32"

    def open(self) -> ModelMetadata:
        if importlib.util.find_spec("torch") is None:
            from ..install_hint import pip_install_extra
            raise TargetUnavailable(f"PyTorch eager needs torch: {pip_install_extra('train')}")
        import torch

        from ..train.export_onnx import build_metadata
        from ..train.postprocess import DeployModel
        from ..train.trainer import load_best

        if self.threads:
            torch.set_num_threads(self.threads)
        net, cfg = load_best(self.checkpoint)
        meta = build_metadata(cfg.model, cfg.age_bins, self.checkpoint.stem, False)
        self._model = DeployModel(net.eval(), len(meta.age_bins), meta.input.mean, meta.input.std).eval()
        self._torch = torch
        self.metadata = meta
        return meta

    def infer(self, batch: np.ndarray):
        with self._torch.inference_mode():
            return self._model(self._torch.from_numpy(batch))

    def info(self) -> dict:
        d = super().info()
        torch = self._torch
        d.update(model=str(self.checkpoint), torch_threads=torch.get_num_threads() if torch else None)
        return d
