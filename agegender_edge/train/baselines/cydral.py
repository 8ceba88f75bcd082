"""The CC0 dlib/Cydral age and gender ONNX pair (shared/data/models/cydral_dlib_age_gender).

Preprocessing per its manifest: RGB, (x - [122.782, 117.001, 104.298]) / 256, NCHW; age net 64x64
-> 81 classes (ages w = [0.25, 1, 2, ..., 80]), gender net 32x32 -> [female, male]. The package
aligns each face with dlib 5-point landmarks first; dlib is not a dependency here, so this adapter
resizes the whole chip (UTKFace chips are already aligned and cropped). Its figures with dlib
alignment are in shared/data/utkface/baseline_cydral_dlib_predictions.csv.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ...labels import age_to_group_nearest

MEAN = np.array([122.782, 117.001, 104.298], dtype=np.float32)
AGE_WEIGHTS = np.array([0.25] + list(range(1, 81)), dtype=np.float32)


def is_cydral_dir(path: Path) -> bool:
    return path.is_dir() and (path / "age-v1.onnx").is_file() and (path / "gender-v1.onnx").is_file()


class CydralBaseline:
    def __init__(self, folder: Path):
        import onnxruntime as ort

        self.age = ort.InferenceSession(str(folder / "age-v1.onnx"), providers=["CPUExecutionProvider"])
        self.gender = ort.InferenceSession(str(folder / "gender-v1.onnx"), providers=["CPUExecutionProvider"])
        # group membership of each of the 81 age classes (nearest rule), to sum the distribution
        self.groups = np.zeros((len(AGE_WEIGHTS), 8), dtype=np.float32)
        for i, a in enumerate(AGE_WEIGHTS):
            self.groups[i, age_to_group_nearest(float(a))] = 1.0

    @staticmethod
    def _prep(chips_rgb: list[np.ndarray], size: int) -> np.ndarray:
        x = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in chips_rgb]).astype(np.float32)
        return ((x - MEAN) / 256.0).transpose(0, 3, 1, 2).copy()

    def predict(self, chips_rgb: list[np.ndarray], batch: int = 64):
        from ..metrics import Predictions

        g_out, p_out, m_out = [], [], []
        for s in range(0, len(chips_rgb), batch):
            chunk = chips_rgb[s:s + batch]
            pa = self.age.run(None, {"images": self._prep(chunk, 64)})[0]
            pg = self.gender.run(None, {"images": self._prep(chunk, 32)})[0]
            g_out.append(pg)
            p_out.append(pa @ self.groups)
            m_out.append(pa @ AGE_WEIGHTS)
        # as in shared/data's baseline figures: the group of the predicted age ("pred_group_from_age")
        return Predictions(np.concatenate(g_out), np.concatenate(p_out), np.concatenate(m_out), "expected_age")
