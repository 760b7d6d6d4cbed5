"""Vision models through the saved-model contract: safetensors weights plus ``model.json`` (kind
``vision``), loading (architecture rebuilt from the backbone registry, no pickle) and prediction."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import ModelError
from ..models import ModelCard, Predictor, flavors, probability_frame, provenance, save_card

WEIGHTS = "model.safetensors"
MAX_PIXELS = 40_000_000
"""Largest image (width x height) :meth:`VisionPredictor.predict_images` decodes: a small compressed file
can expand into gigabytes (a decompression bomb), so the header is checked before any pixel is decoded."""
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "TIFF")


def save_model(model, meta: dict[str, Any], folder: str | os.PathLike) -> Path:
    """Write ``model.safetensors`` and ``model.json`` into ``folder``; ``meta`` is the fit's description
    (backbone, classes, image size, normalization, taps, TTA, config) plus metrics and data sizes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    classes = list(meta["classes"])
    tensors, weights = _packed_state(model, str(meta["backbone"]), len(classes))
    flavors.save_safetensors(tensors, folder / WEIGHTS)
    card = ModelCard(
        kind="vision", task="binary" if len(classes) == 2 else "multiclass", flavor="safetensors",
        name=str(meta["backbone"]), files={WEIGHTS: ""},
        input_schema={"type": "image", "size": int(meta["image_size"]), "channels": 3, "mean": list(meta["mean"]),
                      "std": list(meta["std"])},
        output_schema={"columns": ["path", "prediction", *[f"proba_{c}" for c in classes], "error"]},
        classes=classes, metrics={"test": meta.get("metrics", {})},
        provenance=provenance(**{k: meta[k] for k in ("dataset", "n_train", "n_val", "n_test", "timings")
                                 if k in meta}),
        details={"backbone": meta["backbone"], "taps": list(meta.get("taps") or []), "tta": bool(meta.get("tta", True)),
                 "config": meta.get("config", {}), **({"weights": weights} if weights else {})})
    return save_card(folder, card)


def _packed_state(model, backbone: str, k: int) -> tuple[dict, dict | None]:
    """What ``model.safetensors`` holds and the card's ``details.weights``: differences from the packaged
    pretrained weights when the backbone has them (:mod:`._packed`), else the whole state."""
    from ._nets import build_classifier
    from ._packed import base_file, pack

    state = model.state_dict()
    if base_file(backbone) is None:
        return state, None
    base = build_classifier(backbone, k, pretrained=True, taps=tuple(model.taps)).state_dict()
    return pack(state, base, backbone)


def _meta(card: ModelCard) -> dict[str, Any]:
    """What prediction needs from the card, type-checked (the card comes from an untrusted folder)."""
    schema, details = card.input_schema, card.details
    taps = details.get("taps")
    ok = (schema.type == "image" and 16 <= schema.size <= 4096 and schema.channels == 3 and schema.mean is not None
          and schema.std is not None and isinstance(details.get("backbone"), str) and (taps is None or (
              isinstance(taps, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in taps))))
    if not ok or len(card.classes) < 2 or card.flavor != "safetensors" or WEIGHTS not in card.files:
        raise ModelError("model.json does not describe a vision model: it needs an image input_schema (size 16-4096, "
                         f"3 channels, mean and std), details.backbone and taps, two or more classes and {WEIGHTS}")
    from ._packed import check_info

    return {"backbone": details["backbone"], "classes": [str(c) for c in card.classes], "image_size": schema.size,
            "mean": list(schema.mean), "std": list(schema.std), "tta": bool(details.get("tta", True)),
            "taps": taps or None, "weights": check_info(details["weights"]) if "weights" in details else None}


def build_model(folder: Path, card: ModelCard, device: str | None = None):
    """The network in a verified folder, weights loaded (strictly: every tensor must fit)."""
    import torch

    from ._nets import build_classifier
    from ._tensors import pick_device

    meta = _meta(card)
    info = meta.pop("weights")
    if info is not None:
        from ._packed import check_base

        check_base(meta["backbone"], info)  # before the packaged file is read
    model = build_classifier(meta["backbone"], len(meta["classes"]), pretrained=info is not None, taps=meta["taps"])
    state = flavors.load_safetensors(folder / WEIGHTS)
    if info is not None:
        from ._packed import unpack

        state = unpack(state, model.state_dict(), info, str(folder / WEIGHTS))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ModelError(f"weights in {folder / WEIGHTS} do not fit backbone {meta['backbone']!r}: {e}") from None
    dev = pick_device(device)
    return model.to(dev).to(memory_format=torch.channels_last).eval(), meta


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
    from ._tensors import eval_batch_size, flip_view, predict_proba, to_input, tta_views

    if len(pixels) == 0:
        return np.zeros((0, len(meta["classes"])))
    dev = next(model.parameters()).device
    x = to_input(pixels, meta["mean"], meta["std"])
    views = [flip_view(x, v) for v in tta_views(meta.get("tta", True))]
    return predict_proba(model, views, batch_size or eval_batch_size(dev), dev)


def predictions_frame(paths: Sequence[str], probs: np.ndarray, classes: Sequence[str], errors=None):
    """The common prediction table for images: ``path``, ``prediction``, ``proba_<class>``, ``error``."""
    return probability_frame({"path": list(paths)}, probs, classes, errors=errors)


def _file_error(path: str) -> str | None:
    """Why ``path`` cannot be read as an image file, before opening it (FIFOs and devices would block)."""
    from ..data import IMAGE_EXTENSIONS

    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "file not found"
    except OSError as e:
        return f"cannot read the file ({e.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if Path(path).suffix.lower() not in IMAGE_EXTENSIONS:
        return f"not an image file (extension {Path(path).suffix or 'none'!r})"
    return None


def decode_images(blobs: Sequence[bytes], size: int, max_pixels: int = MAX_PIXELS
                  ) -> tuple[np.ndarray, list[str | None]]:
    """Encoded images (PNG, JPEG, BMP, TIFF bytes) as ``(n, size, size, 3)`` uint8 pixels, converted like
    image files (:func:`workbench.data.open_rgb`), and one error per image (``None`` when fine). Nothing
    touches the file system; an image over ``max_pixels`` is refused from its header."""
    import io
    import warnings

    from PIL import Image

    from ..data import open_rgb

    out = np.zeros((len(blobs), size, size, 3), dtype=np.uint8)
    errors: list[str | None] = [None] * len(blobs)
    for i, data in enumerate(blobs):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as im:
                    w, h = im.size
                if w * h > max_pixels:
                    errors[i] = f"image too large ({w} x {h} pixels; at most {max_pixels:,} are decoded)"
                    continue
                im = open_rgb(io.BytesIO(data))
            if im.size != (size, size):
                im = im.resize((size, size), Image.BILINEAR, reducing_gap=None)
            out[i] = np.asarray(im)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            errors[i] = f"image too large (over {max_pixels:,} pixels when decoded)"
        except Exception as e:  # noqa: BLE001 - reported per image, never fatal
            detail = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            errors[i] = f"unreadable image ({detail}); expected PNG, JPEG, BMP or TIFF"
    return out, errors


class VisionPredictor(Predictor):
    """A saved image classifier behind the common ``predict``: one row per image file."""

    def __init__(self, folder: Path, card: ModelCard, device: str | None = None):
        super().__init__(folder, card)
        self.model, self.meta = build_model(folder, card, device)

    def _pixels(self, files: list[str]) -> tuple[np.ndarray, list[int], list[str | None]]:
        """Decoded pixels of the readable files, their indices in ``files``, and one error per file."""
        from ..data import load_pixels

        errors: list[str | None] = [_file_error(f) for f in files]
        todo = [i for i, e in enumerate(errors) if e is None]
        pixels, load_errors = load_pixels([files[i] for i in todo], int(self.meta["image_size"]))
        for i, e in zip(todo, load_errors):
            errors[i] = e and f"unreadable image ({e})"
        good = [j for j, i in enumerate(todo) if errors[i] is None]
        return pixels[good], [todo[j] for j in good], errors

    def predict(self, inputs: Sequence[str | os.PathLike]):
        """Predictions for image files (unreadable, corrupt or missing ones become rows with an ``error``)."""
        files = [str(p) for p in inputs]
        pixels, where, errors = self._pixels(files)
        probs = np.zeros((len(files), len(self.meta["classes"])))
        if where:
            probs[where] = predict_arrays(self.model, self.meta, pixels)
        return predictions_frame(files, probs, self.meta["classes"], errors)

    def heatmap_files(self, paths: Sequence[str], folder: str | os.PathLike) -> list[Path]:
        """One Grad-CAM overlay PNG (the predicted class) per readable image of ``paths`` (files and folders)
        in ``folder`` (created), named after the image (``<stem>.gradcam.png``); returns the files."""
        from ._gradcam import explain_dir, write_overlays

        out = explain_dir(folder)
        files = expand_inputs(paths)
        pixels, where, _ = self._pixels(files)
        return write_overlays(self.model, self.meta, pixels, [files[i] for i in where], out)

    def predict_files(self, paths: Sequence[str]):
        """Predictions for image files and folders (folders recursively)."""
        return self.predict(expand_inputs(paths))

    def predict_images(self, images: Sequence[tuple[str, bytes]], max_pixels: int = MAX_PIXELS):
        """Predictions for images in memory, ``(name, bytes)`` pairs (the name only labels the row, in
        ``path``); undecodable or oversized images become rows with an ``error``."""
        names = [str(name) for name, _ in images]
        pixels, errors = decode_images([bytes(data) for _, data in images], int(self.meta["image_size"]), max_pixels)
        good = [i for i, e in enumerate(errors) if e is None]
        probs = np.zeros((len(names), len(self.meta["classes"])))
        if good:
            probs[good] = predict_arrays(self.model, self.meta, pixels[good])
        return predictions_frame(names, probs, self.meta["classes"], errors)


def load_predictor(folder: Path, card: ModelCard) -> VisionPredictor:
    """Entry point of the ``vision`` model kind."""
    return VisionPredictor(folder, card)


def load_model(folder: str | os.PathLike, device: str | None = None):
    """``(model, meta)`` from a saved vision model folder (card and hashes verified, no pickle)."""
    from ..models import read_card, verify

    folder = Path(folder)
    card = read_card(folder)
    if card.kind != "vision":
        raise ModelError(f"{str(folder)!r} holds a {card.kind} model, not a vision one")
    verify(folder, card)
    return build_model(folder, card, device)
