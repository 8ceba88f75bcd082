"""Draw face boxes and labels onto images (``agegender-edge predict --annotate DIR``).

Output files always land inside the chosen folder: only the input's base name is used (sanitised),
names are made unique, a name that resolves outside the folder (e.g. through a symbolic link
planted there) is refused with OutputPathError, and files are opened with O_NOFOLLOW.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from .errors import OutputPathError
from .results import ImageResult

_COLOURS = {"female": (180, 105, 255), "male": (255, 160, 60)}  # BGR
MAX_STEM_CHARS = 100   # keeps names far below the 255-byte file-name limit, even in UTF-8


def gender_colour(gender: str) -> tuple[int, int, int]:
    return _COLOURS.get(gender, (0, 255, 0))


def draw_labelled_box(out: np.ndarray, box, label: str, colour: tuple[int, int, int], thick: int,
                      font_scale: float, box_thick: Optional[int] = None) -> None:
    """A face box with its label on a filled tag above it (below when there is no room), in place."""
    x0, y0, x1, y1 = (int(round(v)) for v in box.as_xyxy())
    cv2.rectangle(out, (x0, y0), (x1, y1), colour, thick if box_thick is None else box_thick)
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thick)
    ty = y0 - 4 if y0 - th - 6 > 0 else y1 + th + 4
    cv2.rectangle(out, (x0, ty - th - 3), (x0 + tw + 2, ty + base - 1), colour, -1)
    cv2.putText(out, label, (x0 + 1, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), thick, cv2.LINE_AA)


def draw_faces(bgr: np.ndarray, result: ImageResult) -> np.ndarray:
    out = bgr.copy()
    scale = max(0.4, min(out.shape[:2]) / 900.0)
    thick = max(1, int(round(2 * scale)))
    for face in result.faces:
        label = (f"{(face.gender[:1] or '?').upper()} {face.gender_probability:.2f} | "
                 f"{face.age:.0f}y ({face.age_group})")
        draw_labelled_box(out, face.box, label, gender_colour(face.gender), thick, 0.5 * scale)
    return out


def safe_output_path(out_dir: Path, source: str, taken: set[str]) -> Path:
    """A file name inside ``out_dir`` for ``source``: only the base name is used (so no path in
    the input can escape the folder), made unique, always written as .jpg or .png.
    OutputPathError when the name would still resolve outside ``out_dir`` (a symlink there)."""
    out_dir = Path(out_dir)
    base = str(source).replace("\\", "/").rsplit("/", 1)[-1]
    stem_part, dot, ext = base.rpartition(".")
    stem, suffix = (stem_part, "." + ext.lower()) if dot and stem_part else (base, "")
    stem = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in stem).lstrip(".")[:MAX_STEM_CHARS] or "image"
    suffix = ".png" if suffix == ".png" else ".jpg"
    name, n = f"{stem}{suffix}", 1
    while name in taken:
        n += 1
        name = f"{stem}_{n}{suffix}"
    taken.add(name)
    root = out_dir.resolve()
    path = (out_dir / name).resolve()
    if path.parent != root:  # a symlink named like the output, or a name that is not one component
        raise OutputPathError(f"{out_dir / name}: refusing to write outside {root} (resolves to {path})")
    return path


def write_annotated(out_dir: Path, source: str, bgr: np.ndarray, result: ImageResult, taken: set[str]) -> Path:
    """Draw ``result`` on ``bgr`` and write it into ``out_dir``; the path written.
    OutputPathError when the file cannot be created inside ``out_dir``."""
    path = safe_output_path(out_dir, source, taken)
    ok, buf = cv2.imencode(path.suffix, draw_faces(bgr, result))
    if not ok:
        raise OutputPathError(f"{path}: OpenCV could not encode the annotated image")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot write the annotated image ({exc.strerror})") from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(buf.tobytes())
    return path
