"""Batch augmentation on uint8 HWC chips: random crop, horizontal flip, brightness/contrast.

Works on a whole batch at once (no per-image Python in the hot path beyond slicing), produces
float32 NCHW 0-255 tensors: normalisation happens inside the model (DeployModel.normalize) or
by the caller, exactly as at inference time.
"""
from __future__ import annotations

import numpy as np
import torch


def center_crop(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    y0 = (images.shape[1] - h) // 2
    x0 = (images.shape[2] - w) // 2
    return images[:, y0:y0 + h, x0:x0 + w]


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [N,H,W,3] -> float32 [N,3,H,W] (0-255), channels-last memory."""
    t = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return t.contiguous(memory_format=torch.channels_last)


def random_crop_flip(images: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    n, H, W = images.shape[:3]
    h, w = size
    ys = rng.integers(0, H - h + 1, n)
    xs = rng.integers(0, W - w + 1, n)
    flips = rng.random(n) < 0.5
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    for i in range(n):
        crop = images[i, ys[i]:ys[i] + h, xs[i]:xs[i] + w]
        out[i] = crop[:, ::-1] if flips[i] else crop
    return out


def random_affine_crop(images: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
                       scale: tuple[float, float] = (0.8, 1.0), max_rotate: float = 8.0,
                       max_shift: float = 0.07) -> np.ndarray:
    """Per image one warpAffine: a random square crop whose side is ``scale`` x the centre crop's
    (zoom in/out), rotated by up to ``max_rotate`` degrees, shifted by up to ``max_shift`` of the
    chip, mirrored half of the time, resampled to ``size``. At scale 1, no rotation and no shift
    it equals the evaluation centre crop."""
    import cv2

    n, H, W = images.shape[:3]
    h, w = size
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    s = rng.uniform(scale[0], scale[1], n)
    ang = rng.uniform(-max_rotate, max_rotate, n)
    tx = rng.uniform(-max_shift, max_shift, n) * W
    ty = rng.uniform(-max_shift, max_shift, n) * H
    flips = rng.random(n) < 0.5
    for i in range(n):
        # map the output centre to the chip centre (+ shift); zoom 1/s: s < 1 crops tighter
        m = cv2.getRotationMatrix2D((W / 2 + tx[i], H / 2 + ty[i]), ang[i], 1.0 / s[i])
        m[:, 2] += (w / 2 - (W / 2 + tx[i]), h / 2 - (H / 2 + ty[i]))
        img = cv2.warpAffine(images[i], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        out[i] = img[:, ::-1] if flips[i] else img
    return out


def degrade(images: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """With probability ``p`` per image: a downscale to 40-100% and back (soft news/phone photos
    and small faces), then with probability 1/2 a JPEG re-encode at quality 30-90."""
    import cv2

    out = images.copy()
    h, w = images.shape[1:3]
    for i in np.flatnonzero(rng.random(len(images)) < p):
        img = out[i]
        f = rng.uniform(0.4, 1.0)
        if f < 0.95:
            small = cv2.resize(img, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA)
            img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            # chips are RGB; the JPEG colour transform expects BGR
            ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[:, :, ::-1]),
                                   [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 91))])
            if ok:
                img = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
        out[i] = img
    return out


def photometric(x: torch.Tensor, rng: np.random.Generator, strength: float = 0.25, grey: float = 0.1) -> torch.Tensor:
    """Per-image brightness and contrast jitter, plus greyscale with probability ``grey`` (CCTV,
    old and black-and-white news photos: the LFW dev photos are all greyscale)."""
    n = x.shape[0]
    b = torch.from_numpy(rng.uniform(1 - strength, 1 + strength, (n, 1, 1, 1)).astype(np.float32))
    c = torch.from_numpy(rng.uniform(1 - strength, 1 + strength, (n, 1, 1, 1)).astype(np.float32))
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * c + mean * b
    grey = torch.from_numpy(rng.random(n) < grey)
    if grey.any():
        g = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).expand(-1, 3, -1, -1)
        x = torch.where(grey.view(n, 1, 1, 1), g, x)
    return x.clamp_(0, 255)
