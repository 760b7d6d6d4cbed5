"""Saving, loading and batch prediction of vision models: safetensors weights plus a JSON sidecar."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import ModelError

WEIGHTS = "model.safetensors"
SIDECAR = "model.json"


def save_model(model, meta: dict[str, Any], folder: str | os.PathLike) -> Path:
    """Write ``model.safetensors`` and ``model.json`` (``meta`` plus the weights' sha256) into ``folder``."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS), metadata={"format": "pt"})
    digest = hashlib.sha256((folder / WEIGHTS).read_bytes()).hexdigest()
    from . import __version__

    sidecar = {**meta, "weights": WEIGHTS, "sha256": digest, "workbench_version": __version__}
    tmp = folder / (SIDECAR + ".tmp")
    tmp.write_text(json.dumps(sidecar, indent=2, default=_jsonable))
    tmp.replace(folder / SIDECAR)
    return folder


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)


def load_model(folder: str | os.PathLike, device: str | None = None):
    """``(model, meta)`` from a folder written by :func:`save_model` (no pickle involved)."""
    from safetensors.torch import load_file

    from ._vision_train import build_classifier, pick_device

    folder = Path(folder)
    side, wfile = folder / SIDECAR, folder / WEIGHTS
    if not side.is_file() or not wfile.is_file():
        raise ModelError(f"{str(folder)!r} is not a saved vision model: expected {SIDECAR} and {WEIGHTS} in it "
                         "(the vision_finetune notebook writes them to <run>/artifacts/model)")
    meta = json.loads(side.read_text())
    digest = hashlib.sha256(wfile.read_bytes()).hexdigest()
    if meta.get("sha256") and meta["sha256"] != digest:
        raise ModelError(f"{wfile} does not match the sha256 recorded in {side}; the files were changed")
    model = build_classifier(meta["backbone"], len(meta["classes"]), pretrained=False, taps=meta.get("taps"))
    try:
        model.load_state_dict(load_file(str(wfile)))
    except RuntimeError as e:
        raise ModelError(f"weights in {wfile} do not fit backbone {meta['backbone']!r}: {e}") from e
    import torch

    dev = pick_device(device)
    model = model.to(dev).to(memory_format=torch.channels_last).eval()
    return model, meta


def expand_inputs(items: Iterable[str | os.PathLike]) -> list[str]:
    """Files from files and folders (folders recursively, sorted, hidden files left out)."""
    out: list[str] = []
    for it in items:
        p = Path(it)
        if p.is_dir():
            out += sorted(str(f) for f in p.rglob("*") if f.is_file()
                          and not any(part.startswith(".") for part in f.relative_to(p).parts))
        else:
            out.append(str(p))
    return out


def predict_arrays(model, meta: dict[str, Any], pixels: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """Class probabilities for uint8 ``(n, size, size, 3)`` pixels, with the model's TTA."""
    import torch

    from ._vision_train import eval_batch_size, flip_view, predict_proba, to_input, tta_views

    if len(pixels) == 0:
        return np.zeros((0, len(meta["classes"])))
    dev = next(model.parameters()).device
    x = to_input(pixels, meta["mean"], meta["std"])
    views = [flip_view(x, v) for v in tta_views(meta.get("tta", True))]
    return predict_proba(model, views, batch_size or eval_batch_size(dev), dev)


def predictions_frame(paths: Sequence[str], probs: np.ndarray, classes: Sequence[str], errors=None):
    """A table: path, prediction, confidence, one probability column per class, error."""
    import pandas as pd

    errors = list(errors) if errors is not None else [None] * len(paths)
    df = pd.DataFrame({"path": list(paths)})
    ok = np.array([e is None for e in errors], dtype=bool)
    pred = np.full(len(paths), None, dtype=object)
    conf = np.full(len(paths), np.nan)
    probs = np.asarray(probs, dtype=float).reshape(len(paths), len(classes))
    if ok.any():
        pred[ok] = [classes[i] for i in probs[ok].argmax(1)]
        conf[ok] = probs[ok].max(1)
    df["prediction"] = pred
    df["confidence"] = conf
    for j, c in enumerate(classes):
        col = np.full(len(paths), np.nan)
        col[ok] = probs[ok, j]
        df[f"prob_{c}"] = col
    df["error"] = errors
    return df


def predict_files(model_dir: str | os.PathLike, images: Sequence[str | os.PathLike], output: str | os.PathLike,
                  batch_size: int = 64) -> str:
    """Classify image files and folders with a saved model; write a CSV; return a one-line summary.

    Unreadable, corrupt or missing files become rows with an ``error`` and no prediction.
    """
    from .images import IMAGE_EXTENSIONS, load_pixels

    model, meta = load_model(model_dir)
    classes, size = meta["classes"], int(meta["image_size"])
    files = expand_inputs(images)
    errors: list[str | None] = [None] * len(files)
    for i, f in enumerate(files):
        if not os.path.exists(f):
            errors[i] = "file not found"
        elif Path(f).suffix.lower() not in IMAGE_EXTENSIONS:
            errors[i] = f"not an image file (extension {Path(f).suffix or 'none'!r})"
    todo = [i for i, e in enumerate(errors) if e is None]
    pixels, load_errors = load_pixels([files[i] for i in todo], size)
    for i, e in zip(todo, load_errors):
        errors[i] = e and f"unreadable image ({e})"
    good = [j for j, i in enumerate(todo) if errors[i] is None]
    probs_good = predict_arrays(model, meta, pixels[good], batch_size)
    probs = np.zeros((len(files), len(classes)))
    for j, p in zip(good, probs_good):
        probs[todo[j]] = p
    df = predictions_frame(files, probs, classes, errors)
    out = Path(output)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    n_err = int(df["error"].notna().sum())
    counts = df["prediction"].value_counts().to_dict()
    parts = ", ".join(f"{c}: {counts.get(c, 0)}" for c in classes)
    return (f"predicted {len(df) - n_err} image(s) ({parts}); {n_err} file(s) with errors; wrote {out}")
