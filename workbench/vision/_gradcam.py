"""Grad-CAM heatmaps (Selvaraju et al. 2017, the ``grad-cam`` package): where in an image the classifier
looked for its predicted class, computed on the last stage the head reads. Used by the report (the
worst mistakes and a sample of correct predictions, :func:`heatmap_grid_html`) and by
``workbench predict VISION_MODEL IMAGES --explain DIR`` (:func:`write_overlays`: one PNG per image).

The maps depend on the weights: randomizing the head and the last stage changes them (the sanity check
of Adebayo et al. 2018, in the tests).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ModelError


def grad_cam(model: Any, pixels: np.ndarray, mean: Sequence[float], std: Sequence[float],
             targets: Sequence[int] | None = None, batch_size: int = 16) -> np.ndarray:
    """Grad-CAM maps in [0, 1], ``(n, size, size)``, of uint8 ``(n, size, size, 3)`` pixels for the class
    indices ``targets`` (default: each image's predicted class), on the model's last stage."""
    import torch
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from ._tensors import to_input

    if len(pixels) == 0:
        return np.zeros((0, *pixels.shape[1:3]), dtype=np.float32)
    model = model.eval()
    dev = next(model.parameters()).device
    out = []
    with GradCAM(model=model, target_layers=[model.body[-1]]) as cam:
        for s in range(0, len(pixels), batch_size):
            x = to_input(pixels[s:s + batch_size], mean, std, dev).contiguous()
            if targets is None:
                with torch.no_grad():
                    idx = model(x).argmax(1).tolist()
            else:
                idx = [int(t) for t in targets[s:s + batch_size]]
            out.append(cam(input_tensor=x, targets=[ClassifierOutputTarget(i) for i in idx]))
    return np.concatenate(out).astype(np.float32)


def overlay(pixels: np.ndarray, heat: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """uint8 RGB of one image with its heatmap (jet colormap) blended on top."""
    from pytorch_grad_cam.utils.image import show_cam_on_image

    return show_cam_on_image(pixels.astype(np.float32) / 255.0, heat, use_rgb=True, image_weight=1 - weight)


def _png(u8: np.ndarray, size: int | None = None) -> bytes:
    from ._report import _png as png

    return png(u8, size)


def correct_sample(run: Any, k: int, seed: int = 0) -> list[int]:
    """Up to ``k`` test indices of correct predictions, a seeded sample in test order."""
    right = np.flatnonzero(run.test_pred == run.test.labels)
    if len(right) <= k:
        return [int(i) for i in right]
    return sorted(int(i) for i in np.random.default_rng(seed).choice(right, size=k, replace=False))


def heatmap_grid_html(run: Any, groups: Sequence[tuple[str, list[int]]], columns: int = 6) -> str:
    """Static HTML: per group (a title and test indices), each image next to its Grad-CAM overlay for the
    predicted class, with a caption (self-contained base64 PNGs)."""
    from ._report import _caption

    meta = run.fit.meta
    parts = []
    for title, idx in groups:
        if not idx:
            parts.append(f"<p>{html.escape(title)}: none on the test set.</p>")
            continue
        heat = grad_cam(run.model, run.test_pixels[idx], meta["mean"], meta["std"])
        cells = []
        for j, i in enumerate(idx):
            pair = "".join(f'<img src="data:image/png;base64,{base64.b64encode(_png(u8, 128)).decode()}" '
                           'style="width:128px;height:128px"/>'
                           for u8 in (run.test_pixels[i], overlay(run.test_pixels[i], heat[j])))
            cells.append(f'<figure style="margin:4px;text-align:center;width:264px">{pair}'
                         f'<figcaption style="font-size:11px">{html.escape(_caption(run, i))}</figcaption></figure>')
        parts.append(f"<p>{html.escape(title)}</p>"
                     f'<div style="display:grid;grid-template-columns:repeat({columns // 2},272px)">{"".join(cells)}</div>')
    return "".join(parts)


def explain_dir(folder: str | Path) -> Path:
    """``folder`` for the overlays, created (parents too); a clear error when it is a file or cannot be made."""
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise ModelError(f"--explain {str(folder)!r} is a file; give a folder for the heatmap PNGs")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(f"cannot create the folder {str(folder)!r} for the heatmap PNGs ({e.strerror})") from None
    return out


def overlay_names(paths: Sequence[str]) -> list[str]:
    """One PNG name per image: its stem + ``.gradcam.png``, numbered when two stems collide."""
    seen: dict[str, int] = {}
    names = []
    for p in paths:
        stem = Path(p).stem or "image"
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        names.append(f"{stem}.gradcam.png" if n == 0 else f"{stem}-{n + 1}.gradcam.png")
    return names


def write_overlays(model: Any, meta: dict[str, Any], pixels: np.ndarray, paths: Sequence[str], folder: Path,
                   targets: Sequence[int] | None = None) -> list[Path]:
    """One Grad-CAM overlay PNG per image in ``folder`` (atomic writes), for ``targets`` or the predicted
    classes; returns the files."""
    from ..core.io import atomic_write_bytes

    heat = grad_cam(model, pixels, meta["mean"], meta["std"], targets)
    written = []
    for name, u8, h in zip(overlay_names(paths), pixels, heat):
        path = folder / name
        atomic_write_bytes(path, _png(overlay(u8, h)))
        written.append(path)
    return written
