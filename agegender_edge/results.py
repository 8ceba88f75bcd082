"""Typed results returned by ``Predictor``; each serialises to plain dicts / JSON."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Optional


@dataclass(frozen=True)
class BoundingBox:
    """Axis-aligned box in pixels of the original image: top-left (x, y), width, height."""

    x: float
    y: float
    width: float
    height: float

    def __str__(self) -> str:
        """Whole pixels, as the CLI prints boxes (repr() keeps the exact floats)."""
        return f"x={self.x:.0f} y={self.y:.0f} w={self.width:.0f} h={self.height:.0f}"

    def as_xyxy(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.x + self.width, self.y + self.height)

    def iou(self, other: "BoundingBox") -> float:
        ax0, ay0, ax1, ay1 = self.as_xyxy()
        bx0, by0, bx1, by1 = other.as_xyxy()
        iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
        ih = max(0.0, min(ay1, by1) - max(ay0, by0))
        inter = iw * ih
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class FaceResult:
    box: BoundingBox                 # the detected face (whole image when detector=None)
    crop_box: BoundingBox            # the square chip the model saw (may extend past the image)
    detection_score: float
    age_group: str                   # most probable Adience group label, e.g. "25-32"
    age_group_probs: dict[str, float]
    age: float                       # expected age in years
    age_std: float                   # std of the predicted age distribution, years
    age_interval_80: tuple[float, float]  # 10th..90th percentile of the age distribution
    gender: str                      # "female" / "male"
    gender_probability: float        # probability of ``gender``
    landmarks: Optional[tuple[tuple[float, float], ...]] = None
    # the model's face descriptor (L2-normalised, metadata.embedding.dim values), only when asked
    # for (Predictor(return_embeddings=True) or per call); None otherwise. Same network pass.
    embedding: Optional[tuple[float, ...]] = None

    def to_dict(self) -> dict:
        """All fields; ``embedding`` only when it was asked for (JSON output stays as it was)."""
        d = asdict(self)
        if d["embedding"] is None:
            del d["embedding"]
        return d


@dataclass(frozen=True)
class ImageResult:
    """One input image: its faces, or the error that stopped it (the rest of the batch goes on)."""

    source: str                      # file path, or "<array 3>" / "<bytes 3>" for in-memory input
    faces: list[FaceResult] = field(default_factory=list)
    width: int = 0
    height: int = 0
    error: Optional[str] = None      # message naming the problem, when the image failed
    error_type: Optional[str] = None  # exception class name, e.g. "InvalidImageError"

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["faces"] = [f.to_dict() for f in self.faces]
        return d

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)
