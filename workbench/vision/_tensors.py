"""Tensors for training and inference: devices, seeding, input conversion, augmentation, flips and
test-time views, batched encoding through frozen stages, averaged predictions."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; deterministic algorithms (warn only). Returns a seeded generator."""
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)


def eval_batch_size(device: torch.device) -> int:
    """Batch size for inference. On CPU small batches are ~2x faster per image (the high-resolution
    early feature maps of 8 images stay in cache; 64 do not); GPUs want large ones."""
    return 8 if device.type == "cpu" else 256


def pick_device(device: str | None = None) -> torch.device:
    """CUDA when present (or the device asked for), else CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# -- tensors and augmentation ---------------------------------------------------------------------

def to_input(u8: np.ndarray | torch.Tensor, mean, std, device=None) -> torch.Tensor:
    """uint8 NHWC pixels -> normalized float NCHW (channels_last)."""
    x = torch.as_tensor(u8)
    if device is not None:
        x = x.to(device, non_blocking=True)
    x = x.permute(0, 3, 1, 2).float().div_(255)
    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return ((x - m) / s).contiguous(memory_format=torch.channels_last)


def augment(x: torch.Tensor, gen: torch.Generator, degrees: float = 8.0, brightness: float = 0.15,
            contrast: float = 0.15) -> torch.Tensor:
    """Batched augmentation for inspection images (normalized NCHW): flips, a small rotation,
    brightness and contrast. Deterministic given ``gen``."""
    n = x.shape[0]
    r = torch.rand(n, 5, generator=gen).to(x.device)
    x = torch.where((r[:, 0] < 0.5).view(n, 1, 1, 1), x.flip(3), x)
    x = torch.where((r[:, 1] < 0.5).view(n, 1, 1, 1), x.flip(2), x)
    if degrees:
        a = (r[:, 2] * 2 - 1) * math.radians(degrees)
        theta = torch.zeros(n, 2, 3, device=x.device)
        theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = a.cos(), -a.sin(), a.sin(), a.cos()
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    c = 1 + (r[:, 3] * 2 - 1).view(n, 1, 1, 1) * contrast
    b = (r[:, 4] * 2 - 1).view(n, 1, 1, 1) * brightness * 2  # inputs span about [-1, 1]
    mu = x.mean((1, 2, 3), keepdim=True)
    return ((x - mu) * c + mu + b).contiguous(memory_format=torch.channels_last)


def flip_features(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal and vertical flips per sample of cached NCHW feature maps (after the frozen
    stages), so every epoch sees other orientations than the cached views."""
    n = x.shape[0]
    r = torch.rand(n, 2, generator=gen).to(x.device).view(n, 2, 1, 1, 1)
    x = torch.where(r[:, 0] < 0.5, x.flip(3), x)
    x = torch.where(r[:, 1] < 0.5, x.flip(2), x)
    return x.contiguous(memory_format=torch.channels_last)


TTA_VIEWS = ("none", "hflip", "vflip", "hvflip")


def flip_view(x: torch.Tensor, view: str) -> torch.Tensor:
    """One of :data:`TTA_VIEWS` of an NCHW batch (test-time augmentation averages all four)."""
    if view in ("hflip", "hvflip"):
        x = x.flip(3)
    if view in ("vflip", "hvflip"):
        x = x.flip(2)
    return x


def tta_views(tta: bool) -> tuple[str, ...]:
    return TTA_VIEWS if tta else TTA_VIEWS[:1]


def _cl(x: torch.Tensor) -> torch.Tensor:
    """channels_last for image-like (4-d) tensors, unchanged otherwise."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def _batches(n: int, bs: int):
    for i in range(0, n, bs):
        yield slice(i, min(i + bs, n))


@torch.inference_mode()
def encode(stages: nn.Module, pixels: np.ndarray, mean, std, bs: int, device, view: str = "none",
           gen: torch.Generator | None = None, progress=None) -> torch.Tensor:
    """Outputs of frozen ``stages`` for every image (kept on CPU, float32).

    ``view``: ``"none"`` (original), a flip (``"hflip"``, ``"vflip"``, ``"hvflip"``), or ``"aug"``
    (random augmentation from ``gen``).
    """
    stages.eval()
    out = []
    for s in _batches(len(pixels), bs):
        x = to_input(pixels[s], mean, std, device)
        if view in TTA_VIEWS:
            x = flip_view(x, view)
        elif view == "aug":
            x = augment(x, gen)
        out.append(stages(x).float().cpu())
        if progress is not None:
            progress.update(s.stop - s.start)
    return torch.cat(out) if out else torch.empty(0)



@torch.inference_mode()
def predict_proba(model: nn.Module, xs: list[torch.Tensor], bs: int, device) -> np.ndarray:
    """Mean softmax over views (each an input tensor for ``model``), evaluation mode."""
    model.eval()
    probs = 0
    for v in xs:
        p = torch.cat([model(_cl(v[s].to(device))).float().softmax(1).cpu()
                       for s in _batches(len(v), bs)])
        probs = probs + p
    return (probs / len(xs)).numpy()


