"""Image datasets: registered ones by name (``elpv``) and any folder of class subfolders.

An :class:`ImageDataset` is a list of files with integer labels, the class names, and the files that
were skipped at scan time with the reason. Pixels are decoded on demand by :func:`load_pixels`
(RGB uint8 at a fixed size), so scanning stays cheap and nothing heavy is imported with this module.

Examples
--------
>>> ds = load_image_dataset("elpv")                       # binary: functional / defective
>>> ds = load_image_dataset("data/parts", max_images=200) # folders data/parts/<class>/*.png
>>> train, test = split_dataset(ds, test_size=0.25, seed=0)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import DatasetError
from ._registry import dataset_names, registered
from ._splits import stratified_split

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass
class ImageDataset:
    """Image files with labels.

    Attributes
    ----------
    name : str
        Registry name or folder path.
    paths : list of str
        One image file per item.
    labels : numpy.ndarray
        Integer class index per item.
    classes : list of str
        Class names; ``classes[label]``.
    skipped : list of (str, str)
        Files left out at scan time and why (corrupt, not an image, ...).
    info : dict
        Extra per-item columns (e.g. ``module_type`` for elpv) and notes.
    """

    name: str
    paths: list[str]
    labels: np.ndarray
    classes: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, index: Sequence[int] | np.ndarray) -> "ImageDataset":
        """The items at ``index`` (same classes; skipped files kept for reporting)."""
        idx = np.asarray(index, dtype=int)
        info = {k: (np.asarray(v)[idx] if isinstance(v, np.ndarray) and len(v) == len(self) else v)
                for k, v in self.info.items()}
        return replace(self, paths=[self.paths[i] for i in idx], labels=self.labels[idx], info=info)

    def class_counts(self) -> dict[str, int]:
        """Number of items per class."""
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, counts)}

    def summary(self) -> str:
        """One line: size, classes with counts, skipped files."""
        counts = ", ".join(f"{c}: {n}" for c, n in self.class_counts().items())
        s = f"{self.name}: {len(self)} images, {len(self.classes)} classes ({counts})"
        if self.skipped:
            s += f"; {len(self.skipped)} file(s) skipped"
        return s

    def skipped_table(self):
        """The skipped files and reasons as a DataFrame (``path``, ``reason``)."""
        import pandas as pd

        return pd.DataFrame(self.skipped, columns=["path", "reason"])


# -- registered datasets --------------------------------------------------------------------------

def elpv(task: str = "binary") -> ImageDataset:
    """ELPV: 2624 electroluminescence images of solar cells (Deitsch et al. 2019), 300x300 grayscale.

    ``task="binary"``: defective when the annotated defect probability is >= 0.5.
    ``task="4class"``: the four probabilities 0, 1/3, 2/3, 1 as classes.
    """
    try:
        from elpv_dataset.utils import load_dataset
    except ImportError as e:  # pragma: no cover - dependency of the project
        raise DatasetError("the 'elpv' dataset needs the PyPI package elpv-dataset (pip install elpv-dataset)") from e
    import inspect

    # load_dataset() decodes every image into memory; we only need its labels file, read the same way
    labels_csv = os.path.join(os.path.dirname(inspect.getfile(load_dataset)), "data", "labels.csv")
    data = np.genfromtxt(labels_csv, dtype=["|S19", "<f8", "|S4"], names=["path", "probability", "type"])
    root = os.path.dirname(labels_csv)
    paths = [os.path.join(root, p) for p in np.char.decode(data["path"])]
    probs = np.asarray(data["probability"], dtype=float)
    types = np.char.decode(data["type"])
    if task == "binary":
        labels, classes = (probs >= 0.5).astype(int), ["functional", "defective"]
    elif task in ("4class", "4-class", "multiclass"):
        labels = np.rint(probs * 3).astype(int)
        classes = ["p=0", "p=1/3", "p=2/3", "p=1"]
    else:
        raise DatasetError(f"elpv task must be 'binary' or '4class', got {task!r}")
    return ImageDataset("elpv", paths, labels, classes,
                        info={"module_type": np.asarray(types), "defect_probability": probs, "task": task})


def image_dataset_names() -> list[str]:
    """Names of the registered image datasets."""
    return dataset_names("images")


def check_image_file(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be used as an image (``None`` when it decodes fine)."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if p.suffix.lower() not in IMAGE_EXTENSIONS:
        return f"not an image file (extension {p.suffix or 'none'!r})"
    if not p.is_file():  # a FIFO or device named *.png would block the reader forever
        return "not a regular file"
    try:
        if p.stat().st_size == 0:
            return "empty file"
        with Image.open(p) as im:
            im.load()
            if im.width < 1 or im.height < 1:
                return "image has no pixels"
    except UnidentifiedImageError:
        return "not a readable image (unknown format or corrupt header)"
    except (OSError, SyntaxError, ValueError) as e:  # truncated data, bad chunks, ...
        return f"corrupt image ({type(e).__name__}: {e})"
    except Image.DecompressionBombError as e:
        return f"image too large ({e})"
    return None


def scan_folder(root: str | os.PathLike, check: bool = True) -> ImageDataset:
    """A dataset from ``root/<class>/<image files>`` (nested folders inside a class are included).

    Files that are not images or cannot be decoded are skipped and listed in ``skipped`` with the
    reason. Raises :class:`DatasetError` when the folder is missing or has fewer than two classes
    with images.
    """
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"image folder {str(root)!r} does not exist; give a registered dataset "
                           f"({', '.join(image_dataset_names())}) or a folder of class subfolders")
    if not root.is_dir():
        raise DatasetError(f"{str(root)!r} is not a folder; expected a folder with one subfolder per class")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    stray = sorted(f for f in root.iterdir() if f.is_file() and not f.name.startswith("."))
    skipped = [(str(f), "file outside any class subfolder") for f in stray]
    paths, labels, classes = [], [], []
    for d in class_dirs:
        files = sorted(f for f in d.rglob("*") if f.is_file())
        good = []
        for f in files:
            reason = check_image_file(f) if check else (
                None if f.suffix.lower() in IMAGE_EXTENSIONS else f"not an image file (extension {f.suffix!r})")
            (skipped.append((str(f), reason)) if reason else good.append(str(f)))
        if good:
            labels += [len(classes)] * len(good)
            paths += good
            classes.append(d.name)
    if not paths:
        raise DatasetError(f"image folder {str(root)!r} holds no readable images; expected "
                           f"{root}/<class name>/<image>.png (extensions: {', '.join(IMAGE_EXTENSIONS)})"
                           + (f"; {len(skipped)} file(s) skipped" if skipped else ""))
    if len(classes) < 2:
        raise DatasetError(f"image folder {str(root)!r} has images for one class only ({classes[0]!r}); "
                           "a classifier needs at least two class subfolders with images")
    return ImageDataset(str(root), paths, np.asarray(labels, dtype=int), classes, skipped=skipped)


def load_image_dataset(name: str | os.PathLike = "elpv", task: str = "binary", max_images: int | None = None,
                       seed: int = 0) -> ImageDataset:
    """A registered image dataset by name, or a folder of class subfolders.

    Parameters
    ----------
    name : str or path
        ``"elpv"`` or a folder ``root/<class>/<images>``.
    task : str
        For ``elpv``: ``"binary"`` (default) or ``"4class"``.
    max_images : int, optional
        Keep a stratified random subset of this size (quick runs).
    seed : int
        Seed of that subset.
    """
    key = str(name)
    entry = registered(key, "images")
    if entry is not None:
        ds = entry.loader(task=task)
    elif os.sep in key or "/" in key or Path(key).exists():
        ds = scan_folder(key)
    else:
        raise DatasetError(f"unknown image dataset {key!r}; registered: {', '.join(image_dataset_names())}, "
                           "or give the path of a folder with one subfolder per class")
    if max_images is not None:
        if int(max_images) < 2 * len(ds.classes):
            raise DatasetError(f"max_images must be at least 2 per class ({2 * len(ds.classes)}), got {max_images}")
        if int(max_images) < len(ds):
            ds = ds.subset(_stratified_pick(ds.labels, int(max_images), seed))
    return ds


def _stratified_pick(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    return stratified_split(labels, train_size=n, seed=seed, require=False)[0]


def split_dataset(ds: ImageDataset, test_size: float = 0.25, seed: int = 0) -> tuple[ImageDataset, ImageDataset]:
    """Stratified train/test split (75/25 by default, as in Deitsch et al.)."""
    counts = np.bincount(ds.labels, minlength=len(ds.classes))
    if counts.min() < 2:
        small = [c for c, n in zip(ds.classes, counts) if n < 2]
        raise DatasetError(f"each class needs at least 2 images to split train/test; too few in: {', '.join(small)}")
    tr, te = stratified_split(ds.labels, test_size=test_size, seed=seed)
    return ds.subset(tr), ds.subset(te)


# -- pixels ---------------------------------------------------------------------------------------

def open_rgb(path: str | os.PathLike):
    """Open an image file as an RGB ``PIL.Image``: grayscale is replicated, alpha composited on black,
    16-bit and palette images converted."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            a = np.asarray(im, dtype=np.float64)
            lo, hi = float(a.min()), float(a.max())
            a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
            im = Image.fromarray(a.astype(np.uint8), "L")
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (0, 0, 0, 255))
            im = Image.alpha_composite(bg, im)
        return im.convert("RGB")


def load_pixels(paths: Sequence[str], size: int, progress: bool = False) -> tuple[np.ndarray, list[str | None]]:
    """Decode and resize images to ``size x size`` RGB uint8, shape ``(n, size, size, 3)``.

    Returns the array and one error per file (``None`` when fine); a file that fails is left black.
    """
    from PIL import Image

    out = np.zeros((len(paths), size, size, 3), dtype=np.uint8)
    errors: list[str | None] = [None] * len(paths)
    it = paths
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(paths, desc=f"decode {size}px", leave=False)
    for i, p in enumerate(it):
        try:
            im = open_rgb(p)
            if im.size != (size, size):
                im = im.resize((size, size), Image.BILINEAR, reducing_gap=None)
            out[i] = np.asarray(im)
        except Exception as e:  # noqa: BLE001 - reported per file, never fatal
            errors[i] = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    return out, errors
