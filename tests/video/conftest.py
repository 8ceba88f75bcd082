"""Video fixtures: a real encoded clip made from UTKFace val chips (not the 48 fixture faces),
with ground-truth tracks, and one CPU predictor with the default model and detector."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from ..conftest import FACES_48, UTKFACE

N_FRAMES = 72
FPS = 24.0


@dataclass
class Clip:
    path: Path
    frames: list          # decoded BGR frames of the encoded file (what the pipeline sees)
    truth: list           # per frame: [synthetic.TruthBox]
    labels: list          # per scripted face: {"gender", "age", "age_group"}


def val_chips(n_female: int, n_male: int, seed: int) -> tuple[list[np.ndarray], list[dict]]:
    from agegender_edge.video.synthetic import utkface_val_chips
    return utkface_val_chips(UTKFACE, n_female, n_male, seed, exclude=[p.name for p in FACES_48.iterdir()])


def decode_all(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


@pytest.fixture(scope="session")
def crossing_clip(tmp_path_factory) -> Clip:
    from agegender_edge.video.synthetic import crossing_scene, render, write_video
    chips, labels = val_chips(2, 2, seed=14)
    faces = crossing_scene(chips, labels, n_frames=N_FRAMES)
    frames, truth = render(faces, N_FRAMES, 352, 288)
    path = write_video(tmp_path_factory.mktemp("video") / "crossing.mp4", frames, fps=FPS)
    decoded = decode_all(path)
    assert len(decoded) == N_FRAMES
    return Clip(path, decoded, truth, labels)


@pytest.fixture(scope="session")
def video_predictor():
    """The default model and detector (YuNet) on ONNX Runtime CPU."""
    from agegender_edge import Predictor
    with Predictor(backend="onnxruntime", device="cpu") as p:
        yield p
