"""A fitted tabular model with its column contract; saving, safe loading and batch scoring.

On disk a model is a folder: ``model.json`` (the sidecar: features, dtypes, categories seen, classes,
threshold, metrics, data fingerprint, the model file's sha256) and the model file: ``model.cbm`` for
CatBoost (its native format), ``model.skops`` for scikit-learn pipelines. Loading never runs pickle:
the file's hash must match the sidecar, and skops may only build types from an allow-list.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._tabular_prep import CatBoostFrameClassifier, coerce_frame
from .data import file_sha256
from .errors import ModelError
from .runs import atomic_write_text, package_versions, write_json

SIDECAR = "model.json"
FORMAT_VERSION = 1
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.")
_TRUSTED_BUILTINS = {"builtins.slice", "builtins.type", "builtins.object"}


@dataclass
class TabularModel:
    """A fitted classifier plus the column contract it was trained with.

    ``predict_proba``/``predict``/``predict_frame`` take a raw table: required feature columns are
    selected and typed as in training, extra columns are ignored, row order is kept.
    """

    name: str
    estimator: Any
    numeric: list[str]
    categorical: list[str]
    classes: list
    positive_label: Any = None
    threshold: float = 0.5
    threshold_rule: str = "0.5"
    id_columns: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    def check_columns(self, df: pd.DataFrame) -> None:
        """Raise :class:`ModelError` naming every required column ``df`` lacks."""
        missing = [c for c in self.features if c not in df.columns]
        if missing:
            raise ModelError(f"the data lacks {len(missing)} column(s) the model needs: {', '.join(missing)}; "
                             f"expected all of: {', '.join(self.features)}; got: {', '.join(map(str, df.columns))}; "
                             "fix: add those columns (values may be empty)")

    def unseen_categories(self, df: pd.DataFrame) -> dict[str, int]:
        """Per categorical column, how many rows hold a category not seen in training."""
        seen = self.meta.get("categories", {})
        X = coerce_frame(df, [], [c for c in self.categorical if c in seen])
        out = {c: int((X[c].notna() & ~X[c].isin(seen[c])).sum()) for c in X.columns}
        return {c: n for c, n in out.items() if n}

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Class probabilities, columns in :attr:`classes` order (positive class last if binary)."""
        self.check_columns(df)
        X = coerce_frame(df, self.numeric, self.categorical)
        proba = np.asarray(self.estimator.predict_proba(X), dtype=float)
        order = [list(self.estimator.classes_).index(c) for c in self.classes]
        return proba[:, order]

    def predict(self, df: pd.DataFrame, proba: np.ndarray | None = None) -> np.ndarray:
        """Labels: binary at :attr:`threshold` on the positive class, else the most probable class."""
        proba = self.predict_proba(df) if proba is None else proba
        cls = np.asarray(self.classes, dtype=object)
        if len(self.classes) == 2:
            return np.where(proba[:, 1] >= self.threshold, cls[1], cls[0])
        return cls[np.argmax(proba, axis=1)]

    def predict_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """ID columns present in ``df``, ``prediction`` and ``proba_<class>`` per class, in row order."""
        proba = self.predict_proba(df)
        out = pd.DataFrame({c: df[c].to_numpy() for c in self.id_columns if c in df.columns})
        out["prediction"] = self.predict(df, proba)
        for k, c in enumerate(self.classes):
            out[f"proba_{c}"] = proba[:, k]
        return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def save_model(model: TabularModel, folder: str | Path) -> Path:
    """Write ``model`` into ``folder`` (created): the model file and ``model.json``; return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    est = model.estimator
    if isinstance(est, CatBoostFrameClassifier):
        fname, fmt = "model.cbm", "catboost-cbm"
        est.model_.save_model(str(folder / fname), format="cbm")
    else:
        import skops.io as sio

        fname, fmt = "model.skops", "skops"
        sio.dump(est, folder / fname)
    versions = package_versions(("workbench", "scikit-learn", "catboost", "skops", "pandas", "numpy"))
    side = {
        "format_version": FORMAT_VERSION, "model": model.name, "file": fname, "format": fmt,
        "sha256": file_sha256(folder / fname), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "features": model.features, "numeric": model.numeric, "categorical": model.categorical,
        "classes": model.classes, "positive_label": model.positive_label, "threshold": model.threshold,
        "threshold_rule": model.threshold_rule, "id_columns": model.id_columns, "packages": versions,
        **{k: v for k, v in model.meta.items() if not k.startswith("_")},
    }
    if isinstance(est, CatBoostFrameClassifier):
        side["catboost"] = {"cat_features": list(est.cat_features_), "feature_order": list(est.feature_names_in_),
                            "estimator_classes": list(est.classes_)}
    write_json(folder / SIDECAR, _jsonable(side))
    return folder


def _load_skops(path: Path) -> Any:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    bad = [t for t in untrusted if not (t.startswith(_TRUSTED_PREFIXES) or t in _TRUSTED_BUILTINS)]
    if bad:
        raise ModelError(f"{str(path)!r} contains types outside the allow-list: {', '.join(bad)}; refusing to "
                         "load it; fix: only load models saved by workbench from data you trust")
    return sio.load(path, trusted=untrusted)


def load_model(folder: str | Path) -> TabularModel:
    """Load a model saved by :func:`save_model`, checking the file's hash against the sidecar."""
    folder = Path(folder)
    side_path = folder / SIDECAR
    if not side_path.is_file():
        hint = " (it is a file; give its folder)" if folder.is_file() else ""
        raise ModelError(f"no {SIDECAR} in {str(folder)!r}{hint}; expected a model folder written by "
                         "compare_models, e.g. reports/compare_models/<run_id>/artifacts/model")
    try:
        side = json.loads(side_path.read_text())
    except json.JSONDecodeError as e:
        raise ModelError(f"{str(side_path)!r} is not valid JSON: {e}") from e
    path = folder / side["file"]
    if not path.is_file():
        raise ModelError(f"model file {str(path)!r} named by {SIDECAR} is missing")
    digest = file_sha256(path)
    if digest != side.get("sha256"):
        raise ModelError(f"{str(path)!r} does not match the sha256 recorded in {SIDECAR} (expected "
                         f"{side.get('sha256')}, got {digest}); the file was changed after saving; refusing to load")
    if side["format"] == "catboost-cbm":
        from catboost import CatBoostClassifier

        cb = side["catboost"]
        est = CatBoostFrameClassifier(cat_features=cb["cat_features"])
        est.model_ = CatBoostClassifier()
        est.model_.load_model(str(path), format="cbm")
        est.feature_names_in_ = np.asarray(cb["feature_order"], dtype=object)
        est.n_features_in_ = len(cb["feature_order"])
        est.cat_features_ = list(cb["cat_features"])
        est.classes_ = np.asarray(cb["estimator_classes"])
    elif side["format"] == "skops":
        est = _load_skops(path)
    else:
        raise ModelError(f"unknown model format {side['format']!r} in {str(side_path)!r}; expected skops or "
                         "catboost-cbm")
    keys = {"model", "numeric", "categorical", "classes", "positive_label", "threshold", "threshold_rule",
            "id_columns"}
    meta = {k: v for k, v in side.items() if k not in keys}
    return TabularModel(name=side["model"], estimator=est, numeric=side["numeric"], categorical=side["categorical"],
                        classes=side["classes"], positive_label=side["positive_label"],
                        threshold=float(side["threshold"]), threshold_rule=side.get("threshold_rule", ""),
                        id_columns=side.get("id_columns", []), meta=meta)


def score_frame(model: TabularModel, df: pd.DataFrame) -> pd.DataFrame:
    """Predictions for every row of ``df`` (order kept); warns about categories unseen in training."""
    model.check_columns(df)
    unseen = model.unseen_categories(df)
    if unseen:
        warnings.warn("categories not seen in training (scored as unknown): "
                      + ", ".join(f"{c}: {n} row(s)" for c, n in unseen.items()), UserWarning, stacklevel=2)
    return model.predict_frame(df)


def score_file(model_dir: str | Path, data: str | Path, output: str | Path) -> int:
    """``workbench score``: score a CSV/Parquet file with a saved model, write a CSV; return the row count."""
    from .data import load_dataset

    model = load_model(model_dir)
    df = load_dataset(data).frame
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = score_frame(model, df)
    for w in caught:
        print(f"workbench: warning: {w.message}", file=sys.stderr, flush=True)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output, out.to_csv(index=False))
    return len(out)
