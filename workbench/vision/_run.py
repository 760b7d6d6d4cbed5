"""A fine-tuning run: split, train, evaluate on the test split (:func:`train`), and the run's outcome
(:class:`VisionRun`) with its report sections as methods (timings, learning curves, confusion matrix,
per-class scores, ROC, the worst mistakes; drawn by :mod:`._report`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..data import ImageDataset, load_image_dataset, load_pixels, split_dataset
from ..errors import DatasetError, ModelError
from . import _report
from ._backbones import get_backbone_spec
from ._io import predictions_frame


@dataclass
class VisionRun:
    """Everything a fine-tuning run produced: the fitted model and its test-set evaluation.

    The report's sections are methods: :meth:`timings_table`, :meth:`learning_curves`,
    :meth:`confusion_matrix`, :meth:`class_report`, :meth:`roc`, :meth:`mistakes`, :meth:`heatmaps`; the test set's
    predictions are :meth:`test_predictions`.
    """

    fit: Any  # _train.FitResult
    train: ImageDataset
    val: ImageDataset
    test: ImageDataset
    test_pixels: np.ndarray = field(repr=False)
    test_probs: np.ndarray = field(repr=False)
    metrics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return self.fit.classes

    @property
    def model(self):
        return self.fit.model

    @property
    def test_pred(self) -> np.ndarray:
        return self.test_probs.argmax(1)

    def test_predictions(self):
        """The test set as a table: path, true label, prediction, probabilities."""
        df = predictions_frame(self.test.paths, self.test_probs, self.classes)
        df.insert(1, "label", [self.classes[i] for i in self.test.labels])
        return df.drop(columns=["error"])

    def timings_table(self):
        """Wall-clock seconds per step (decode, frozen-feature cache, phases, test); prints the best epoch."""
        return _report.timings_table(self)

    def learning_curves(self):
        """Train/validation loss and validation accuracy per epoch, both phases on one axis."""
        return _report.learning_curves(self)

    def confusion_matrix(self, normalize: bool = False):
        """Confusion matrix on the test set, class names on both axes."""
        return _report.confusion_matrix(self, normalize=normalize)

    def class_report(self):
        """Per-class precision, recall, F1 and support on the test set (a DataFrame)."""
        return _report.class_report(self)

    def roc(self):
        """ROC curve of the positive (second) class for binary tasks; ``None`` otherwise."""
        return _report.roc(self)

    def mistakes(self, k: int = 24, widget: bool | None = None) -> list[int]:
        """Show the worst ``k`` mistakes (a browsable widget interactively, a static grid in headless runs);
        returns their test indices."""
        return _report.mistakes(self, k, widget)

    def heatmaps(self, k: int = 12, correct: int = 6):
        """Grad-CAM heatmaps of the predicted class (where the model looked) over the worst ``k`` mistakes
        and a seeded sample of ``correct`` right predictions of the test set: each image next to its overlay."""
        from IPython.display import HTML

        from ._gradcam import correct_sample, heatmap_grid_html

        groups = [(f"Worst {k} mistakes (most confident first), Grad-CAM of the predicted class",
                   _report.worst_mistakes(self, k)),
                  (f"A sample of {correct} correct predictions", correct_sample(self, correct, self.fit.config.seed))]
        return HTML(heatmap_grid_html(self, groups))


def _check_dataset(ds: ImageDataset, test_size: float, val_size: float) -> None:
    counts = np.bincount(ds.labels, minlength=len(ds.classes))
    if len(ds.classes) < 2 or (counts > 0).sum() < 2:
        raise DatasetError(f"{ds.name}: need images of at least two classes, got {ds.class_counts()}")
    need = 3  # one each for train, validation and test
    small = [c for c, n in zip(ds.classes, counts) if n < need]
    if small:
        raise DatasetError(f"{ds.name}: each class needs at least {need} images (train, validation, test); "
                           f"too few in {', '.join(small)} ({ds.class_counts()})")


def train(ds: ImageDataset | str, test_size: float = 0.25, **config: Any) -> VisionRun:
    """Split ``ds`` (stratified train/test, then validation from train), fine-tune, evaluate on test.

    Parameters
    ----------
    ds : ImageDataset or str
        A dataset or a name/folder for :func:`workbench.data.load_image_dataset`.
    test_size : float
        Held-out test fraction (0.25 as in Deitsch et al. for elpv).
    **config
        :class:`workbench.vision._train.TrainConfig` fields: ``backbone``, ``image_size``,
        ``epochs_frozen``, ``epochs``, ``batch_size``, ``lr``, ``unfreeze``, ``views``, ``seed``, ...
    """
    from ._tensors import encode, eval_batch_size, pick_device, predict_proba, tta_views
    from ._train import TrainConfig, fit_classifier

    names = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(config) - names)
    if unknown:
        raise ModelError(f"unknown training option(s) {unknown}; valid: {', '.join(sorted(names))}")
    cfg = TrainConfig(**config)
    cfg.validate()  # unknown backbone etc. fail before any pixel is decoded
    if isinstance(ds, (str, os.PathLike)):
        ds = load_image_dataset(ds, seed=cfg.seed)
    _check_dataset(ds, test_size, cfg.val_size)
    t0 = time.perf_counter()
    train_ds, test_ds = split_dataset(ds, test_size=test_size, seed=cfg.seed)
    fit_ds, val_ds = split_dataset(train_ds, test_size=cfg.val_size, seed=cfg.seed + 1)
    t = time.perf_counter()
    px, errs = load_pixels(ds.paths, cfg.image_size, progress=False)
    bad = [(p, e) for p, e in zip(ds.paths, errs) if e]
    if bad:
        raise DatasetError(f"{len(bad)} image(s) could not be decoded, e.g. {bad[0][0]}: {bad[0][1]}")
    where = {p: i for i, p in enumerate(ds.paths)}
    pick = lambda d: px[[where[p] for p in d.paths]]  # noqa: E731
    decode_seconds = time.perf_counter() - t
    fit = fit_classifier(pick(fit_ds), fit_ds.labels, pick(val_ds), val_ds.labels, ds.classes, cfg)
    # test predictions through the same frozen stages (cached once) and the trained tail
    t = time.perf_counter()
    spec = get_backbone_spec(cfg.backbone)
    dev = pick_device(cfg.device)
    bs = eval_batch_size(dev)
    test_px = pick(test_ds)
    frozen = fit.frozen()

    views = [encode(frozen, test_px, spec.mean, spec.std, bs, dev, v) for v in tta_views(cfg.tta)]
    probs = predict_proba(fit.tail(), views, bs, dev)
    timings = {"decode_seconds": decode_seconds, **fit.timings, "test_seconds": time.perf_counter() - t,
               "total_seconds": time.perf_counter() - t0}
    run = VisionRun(fit, fit_ds, val_ds, test_ds, test_px, probs, timings=timings)
    run.metrics = evaluate_metrics(test_ds.labels, probs)
    return run


def evaluate_metrics(y_true: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """The common classification metrics (:func:`workbench.evaluation.classification_metrics`) of
    label indices ``y_true`` against class probabilities; metrics undefined on this set are left out."""
    from ..evaluation import classification_metrics

    m = classification_metrics(np.asarray(y_true), probs, list(range(probs.shape[1])))
    return {k: float(v) for k, v in m.items() if v == v}
