"""Classification and regression metrics under one naming, for every domain.

Classification (:data:`METRICS`): ``roc_auc``, ``pr_auc``, ``accuracy``, ``balanced_accuracy``, ``f1``,
``precision``, ``recall``, ``log_loss``, ``brier``. Binary: the positive class is the last of
``classes``; accuracy, F1, precision and recall at a threshold on its probability. Multiclass:
one-vs-rest macro ROC-AUC and PR-AUC, macro F1/precision/recall, multiclass Brier.

Regression (:data:`REGRESSION_METRICS`): ``rmse``, ``mae``, ``medae`` (median absolute error), ``r2``,
``mape`` (NaN when a true value is zero). :func:`resolve_metric` finds either kind by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ModelError


@dataclass(frozen=True)
class Metric:
    """A metric: its key, display name and direction."""

    key: str
    label: str
    greater_is_better: bool = True


METRICS: dict[str, Metric] = {m.key: m for m in [
    Metric("roc_auc", "ROC-AUC"), Metric("pr_auc", "PR-AUC"), Metric("accuracy", "accuracy"),
    Metric("balanced_accuracy", "balanced accuracy"), Metric("f1", "F1"), Metric("precision", "precision"),
    Metric("recall", "recall"), Metric("log_loss", "log-loss", False), Metric("brier", "Brier", False),
]}
_ALIASES = {"auc": "roc_auc", "rocauc": "roc_auc", "average_precision": "pr_auc", "ap": "pr_auc",
            "prauc": "pr_auc", "logloss": "log_loss", "neg_log_loss": "log_loss", "brier_score": "brier",
            "f1_score": "f1", "acc": "accuracy", "balancedaccuracy": "balanced_accuracy", "bacc": "balanced_accuracy"}


REGRESSION_METRICS: dict[str, Metric] = {m.key: m for m in [
    Metric("rmse", "RMSE", False), Metric("mae", "MAE", False), Metric("medae", "median AE", False),
    Metric("r2", "R²"), Metric("mape", "MAPE", False),
]}
_REG_ALIASES = {"rmse": "rmse", "rootmeansquarederror": "rmse", "negrootmeansquarederror": "rmse",
                "mae": "mae", "meanabsoluteerror": "mae", "negmeanabsoluteerror": "mae", "medae": "medae",
                "medianabsoluteerror": "medae", "r2": "r2", "r²": "r2", "rsquared": "r2",
                "mape": "mape", "meanabsolutepercentageerror": "mape"}
TASK_KINDS = ("binary", "multiclass", "regression")


def metrics_for(task: str) -> dict[str, Metric]:
    """The metrics of a task kind: :data:`REGRESSION_METRICS` for ``"regression"``, else :data:`METRICS`."""
    return REGRESSION_METRICS if task == "regression" else METRICS


def resolve_metric(name: str, task: str | None = None) -> Metric:
    """The :class:`Metric` for a name such as ``"roc_auc"``, ``"ROC-AUC"``, ``"auc"`` or ``"rmse"``.

    ``task`` (``binary``, ``multiclass``, ``regression``) restricts the names to that kind's metrics;
    ``None`` accepts either kind.
    """
    key = re.sub(r"[\s\-]+", "_", str(name).strip().lower())
    reg = _REG_ALIASES.get(key.replace("_", ""))
    key = _ALIASES.get(key.replace("_", ""), _ALIASES.get(key, key))
    if task != "regression" and key in METRICS:
        return METRICS[key]
    if task in (None, "regression") and reg is not None:
        return REGRESSION_METRICS[reg]
    valid = list(metrics_for(task)) if task else [*METRICS, *REGRESSION_METRICS]
    kind = f" for a {task} task" if task else ""
    raise ModelError(f"unknown ranking metric {name!r}{kind}; expected one of: {', '.join(valid)}; "
                     f"e.g. metric={valid[0]!r}")


def regression_metrics(y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Every metric of :data:`REGRESSION_METRICS`; ``mape`` is NaN when a true value is zero."""
    from sklearn import metrics as skm

    y = np.asarray(y_true, dtype=float)
    p = np.asarray(pred, dtype=float)
    if not np.isfinite(p).all():
        return {k: float("nan") for k in REGRESSION_METRICS}
    return {
        "rmse": float(np.sqrt(np.mean((y - p) ** 2))),
        "mae": float(np.mean(np.abs(y - p))),
        "medae": float(np.median(np.abs(y - p))),
        "r2": float(skm.r2_score(y, p)) if len(y) > 1 else float("nan"),
        "mape": float(np.mean(np.abs((y - p) / y))) if len(y) and np.all(y != 0) else float("nan"),
    }


def interval_coverage(y_true: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """The share of true values inside ``[lower, upper]``."""
    y = np.asarray(y_true, dtype=float)
    return float(np.mean((y >= np.asarray(lower, dtype=float)) & (y <= np.asarray(upper, dtype=float))))


def onehot(y_true: np.ndarray, classes: Sequence) -> np.ndarray:
    """``(n, k)`` indicator matrix of ``y_true`` against ``classes``."""
    return (np.asarray(y_true)[:, None] == np.asarray(list(classes), dtype=object)[None, :]).astype(float)


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: Sequence, threshold: float = 0.5
                           ) -> dict[str, float]:
    """Every metric of :data:`METRICS` from predicted probabilities (columns in ``classes`` order)."""
    classes = list(classes)
    y_true = np.asarray(y_true)
    proba = np.clip(np.asarray(proba, dtype=float), 0.0, 1.0)
    if len(classes) == 2:
        return _binary(onehot(y_true, classes)[:, 1].astype(int), proba[:, 1], threshold)
    return _multiclass(y_true, proba, classes)


def _binary(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn import metrics as skm

    pred = (p >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    return {
        "roc_auc": skm.roc_auc_score(y, p) if both else float("nan"),
        "pr_auc": skm.average_precision_score(y, p) if both else float("nan"),
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred) if both else float("nan"),
        "f1": skm.f1_score(y, pred, zero_division=0),
        "precision": skm.precision_score(y, pred, zero_division=0),
        "recall": skm.recall_score(y, pred, zero_division=0),
        "log_loss": skm.log_loss(y, p, labels=[0, 1]),
        "brier": float(np.mean((p - y) ** 2)),
    }


def _multiclass(y_true: np.ndarray, proba: np.ndarray, classes: list) -> dict[str, float]:
    from sklearn import metrics as skm

    # every label as its class index: integer-coded, text and mixed labels all work alike
    hot = onehot(y_true, classes)
    k = len(classes)
    present = hot.sum(axis=0) > 0
    norm = proba / np.clip(proba.sum(axis=1, keepdims=True), 1e-15, None)
    yi = np.argmax(hot, axis=1)
    pi = np.argmax(proba, axis=1)
    macro = dict(average="macro", labels=list(range(k)), zero_division=0)
    return {
        "roc_auc": skm.roc_auc_score(yi, norm, multi_class="ovr", average="macro", labels=range(k))
        if present.all() else float("nan"),
        "pr_auc": float(np.mean([skm.average_precision_score(hot[:, j], proba[:, j]) for j in range(k) if present[j]])),
        "accuracy": skm.accuracy_score(yi, pi),
        "balanced_accuracy": skm.balanced_accuracy_score(yi, pi),
        "f1": skm.f1_score(yi, pi, **macro),
        "precision": skm.precision_score(yi, pi, **macro),
        "recall": skm.recall_score(yi, pi, **macro),
        "log_loss": skm.log_loss(yi, norm, labels=range(len(classes))),
        "brier": float(np.mean(np.sum((proba - hot) ** 2, axis=1))),
    }


def rank_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of binary ``y`` (0/1) by ``score`` from ranks (ties count half);
    NaN when ``y`` has one class."""
    from scipy.stats import rankdata

    y = np.asarray(y)
    n1 = float(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def f1_threshold(y_pos: np.ndarray, p: np.ndarray) -> float:
    """The probability threshold that maximizes F1 (for binary ``y_pos`` in {0, 1})."""
    from sklearn.metrics import precision_recall_curve

    prec, rec, thr = precision_recall_curve(y_pos, p)
    f1 = 2 * prec[:-1] * rec[:-1] / np.clip(prec[:-1] + rec[:-1], 1e-12, None)
    return float(thr[int(np.argmax(f1))]) if len(thr) else 0.5


def curve_inputs(y: np.ndarray, proba: np.ndarray, classes: Sequence) -> tuple[np.ndarray, np.ndarray, str]:
    """Labels and scores for one ROC/PR/calibration curve. Binary: positive-class scores.
    Multiclass: micro-averaged one-vs-rest (flattened)."""
    classes = list(classes)
    proba = np.asarray(proba)
    if len(classes) == 2:
        return (np.asarray(y) == classes[1]).astype(int), proba[:, 1], f"positive class {classes[1]!r}"
    return onehot(y, classes).astype(int).ravel(), proba.ravel(), "micro-averaged one-vs-rest"
