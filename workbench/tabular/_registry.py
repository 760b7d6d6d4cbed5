"""The model registry (one shape, extensible by the ``workbench.tabular_models`` entry points), presets
and validation of the ``models`` parameter. The built-in zoo is registered in :mod:`._zoo`.

A :class:`ModelSpec` builds a classifier (``build``), a regressor (``regressor``) or both, from the
numeric and categorical column names, a seed and a thread count; ``cost`` orders the parallel fits
(longest first) and ``space`` is its Optuna search space for tuning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..core.registry import Registry
from ..errors import ModelError

TIMES = {"fit_time": "fit time (s)", "predict_time": "predict time (s)"}
Builder = Callable[[list[str], list[str], int, int], Any]


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry.

    Attributes
    ----------
    build : ``build(numeric, categorical, seed, threads)`` -> an unfitted classifier (None: no classifier).
    cost : rough relative fit time (scheduling: longest first).
    regressor : the same for regression (None: classification only).
    fast : part of the ``fast`` preset.
    space : ``space(trial, task)`` -> parameters of the final model for ``set_params`` (Optuna tuning).
    """

    name: str
    description: str
    build: Builder | None = None
    cost: float = 1.0
    regressor: Builder | None = None
    fast: bool = False
    space: Callable[[Any, str], dict[str, Any]] | None = None

    def supports(self, task: str | None) -> bool:
        if task is None:
            return True
        return (self.regressor if task == "regression" else self.build) is not None

    def builder(self, task: str) -> Builder:
        fn = self.regressor if task == "regression" else self.build
        if fn is None:
            raise ModelError(f"model {self.name!r} has no {'regressor' if task == 'regression' else 'classifier'}")
        return fn


_MODEL_ALIASES = {"rf": "random_forest", "randomforest": "random_forest", "hgb": "hist_gb",
                  "histgradientboosting": "hist_gb", "hist_gradient_boosting": "hist_gb", "lr": "logreg",
                  "logistic_regression": "logreg", "baseline": "dummy", "cb": "catboost", "et": "extra_trees",
                  "extratrees": "extra_trees", "gbc": "gradient_boosting", "gbr": "gradient_boosting",
                  "gb": "gradient_boosting", "ada": "adaboost", "dt": "decision_tree", "tree": "decision_tree",
                  "nb": "naive_bayes", "svm": "linear_svm", "svc": "linear_svm", "svr": "linear_svm",
                  "en": "elastic_net", "elasticnet": "elastic_net", "br": "bayesian_ridge", "linreg": "linear",
                  "linear_regression": "linear", "neighbors": "knn", "nn": "mlp"}
REGISTRY: Registry[ModelSpec] = Registry("model", "workbench.tabular_models", ModelError, aliases=_MODEL_ALIASES)
DEFAULT_MODELS = ["dummy", "logreg", "random_forest", "hist_gb", "catboost"]
DEFAULT_REGRESSION_MODELS = ["dummy", "ridge", "random_forest", "hist_gb", "catboost"]
PRESETS = ("all", "fast", "default")
"""Names that stand for several models inside the ``models`` list: every model of the task, the
cheap ones, or the default set."""


def model_names(task: str | None = None) -> list[str]:
    """Names accepted by the ``models`` parameter (for ``task``: only models that support it)."""
    return [n for n, spec in REGISTRY.items() if spec.supports(task)]


def _expand(item: str, task: str) -> list[str]:
    key = item.strip().lower()
    if key == "all":
        return model_names(task)
    if key == "fast":
        return [n for n in model_names(task) if REGISTRY.get(n).fast]
    if key == "default":
        return list(DEFAULT_REGRESSION_MODELS if task == "regression" else DEFAULT_MODELS)
    return [item]


def validate_models(models: Sequence[str] | str | None, task: str | None = None) -> list[str]:
    """Registry names, presets expanded, aliases resolved and duplicates removed; unknown names, and
    models that do not support ``task``, raise :class:`ModelError`."""
    kind = task or "binary"
    if models is None:
        return list(DEFAULT_REGRESSION_MODELS if kind == "regression" else DEFAULT_MODELS)
    if isinstance(models, str):
        models = [m for m in re.split(r"[,\s]+", models.strip("[] ")) if m]
    if not models:
        raise ModelError(f"models is empty; expected a list of registry names or presets, e.g. [logreg, catboost] or "
                         f"[all]; valid: {', '.join(model_names())}")
    out: list[str] = []
    unknown, wrong = [], []
    for item in models:
        for m in _expand(str(item), kind):
            if m not in REGISTRY:
                unknown.append(m)
            elif task is not None and not REGISTRY.get(m).supports(kind):
                wrong.append(REGISTRY.resolve(m))
            elif REGISTRY.resolve(m) not in out:
                out.append(REGISTRY.resolve(m))
    if unknown:
        raise ModelError(f"unknown model name(s): {', '.join(map(repr, unknown))}; valid models: "
                         f"{', '.join(model_names())}; presets: {', '.join(PRESETS)} (aliases: "
                         f"{', '.join(sorted(_MODEL_ALIASES))})")
    if wrong:
        what = "regression" if kind == "regression" else "classification"
        raise ModelError(f"model(s) {', '.join(map(repr, wrong))} cannot do {what}; models for {what}: "
                         f"{', '.join(model_names(kind))}; fix: models={_expand('default', kind)} or models=['all']")
    return out


def build_model(name: str, numeric: Sequence[str], categorical: Sequence[str], seed: int = 0,
                threads: int = 1, task: str = "binary") -> Any:
    """An unfitted estimator for registry entry ``name`` on these columns (a regressor for ``task="regression"``)."""
    spec = REGISTRY.get(name)
    if not spec.supports(task):
        validate_models([name], task=task)
    return spec.builder(task)(list(numeric), list(categorical), seed, threads)
