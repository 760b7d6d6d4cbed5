"""A fitted tabular model with its column contract; saving and loading through the saved-model contract.

On disk a model is a folder: the model file (``model.cbm`` for CatBoost in its native format,
``model.skops`` for scikit-learn pipelines) plus ``model.json`` (kind ``tabular``: input columns with
dtypes and the categories seen, classes, threshold, metrics, provenance, file hashes). Loading never
runs pickle: the hashes are verified, and skops may only build the exact types our registry's
pipelines consist of (:data:`SKOPS_ALLOWED`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..models import ModelCard, Predictor, flavors, frame_records, probability_frame, provenance, save_card
from ._fast import FEW_ROWS, compile_scorer
from ._models import CatBoostFrameClassifier
from ._skops_types import SKOPS_ALLOWED
from ._task import coerce_frame

OVERFLOW = "no prediction: numeric values too large for the model (its arithmetic overflowed)"


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
        """ID columns present in ``df``, ``prediction``, ``proba_<class>`` per class and ``error``, in row order."""
        proba = self.predict_proba(df)
        keys = {c: df[c].to_numpy() for c in self.id_columns if c in df.columns}
        return probability_frame(keys, proba, self.classes, predictions=self.predict(df, proba))


# ----------------------------------------------------------------------------------------- saving
def _input_schema(model: TabularModel) -> dict[str, Any]:
    dtypes = model.meta.get("dtypes", {})
    cats = model.meta.get("categories", {})
    columns = [{"name": c, "role": "numeric", "dtype": dtypes.get(c, "float64")} for c in model.numeric]
    columns += [{"name": c, "role": "categorical", "dtype": dtypes.get(c, "object"), "categories": cats.get(c, [])}
                for c in model.categorical]
    return {"type": "table", "columns": columns, "id_columns": list(model.id_columns)}


def model_card(model: TabularModel, files: dict[str, str], flavor: str) -> ModelCard:
    """The card of ``model`` (files are hashed when it is saved)."""
    m = model.meta
    details: dict[str, Any] = {"target": m.get("target"), "dropped_columns": m.get("dropped_columns", {})}
    est = model.estimator
    if isinstance(est, CatBoostFrameClassifier):
        details["catboost"] = {"cat_features": list(est.cat_features_), "feature_order": list(est.feature_names_in_),
                               "estimator_classes": list(est.classes_)}
    prov = provenance(dataset=m.get("dataset"), data_fingerprint=m.get("data_fingerprint"), seed=m.get("seed"),
                      folds=m.get("folds"), n_train=m.get("n_train"), n_test=m.get("n_test"),
                      refit_time_s=m.get("refit_time_s"))
    return ModelCard(
        kind="tabular", task="binary" if len(model.classes) == 2 else "multiclass", flavor=flavor, name=model.name,
        files=files, input_schema=_input_schema(model),
        output_schema={"columns": [*model.id_columns, "prediction", *[f"proba_{c}" for c in model.classes], "error"]},
        classes=list(model.classes), positive_label=model.positive_label, threshold=float(model.threshold),
        threshold_rule=model.threshold_rule,
        metrics={k: m[k] for k in ("metric", "test_score", "test_metrics", "cv_metrics") if k in m},
        provenance=prov, details=details)


def save_model(model: TabularModel, folder: str | Path) -> Path:
    """Write ``model`` into ``folder`` (created): the model file and ``model.json``; return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(model.estimator, CatBoostFrameClassifier):
        fname, flavor = "model.cbm", "catboost"
        model.estimator.model_.save_model(str(folder / fname), format="cbm")
    else:
        fname, flavor = "model.skops", "skops"
        flavors.save_skops(model.estimator, folder / fname)
    return save_card(folder, model_card(model, {fname: ""}, flavor))


# ---------------------------------------------------------------------------------------- loading
def _catboost_estimator(path: Path, card: ModelCard) -> CatBoostFrameClassifier:
    cb = card.details.get("catboost")
    if not isinstance(cb, dict) or not all(isinstance(cb.get(k), list) for k in
                                           ("cat_features", "feature_order", "estimator_classes")):
        raise ModelError(f"{path.parent / 'model.json'}: a CatBoost model needs details.catboost with cat_features, "
                         "feature_order and estimator_classes lists")
    est = CatBoostFrameClassifier(cat_features=[str(c) for c in cb["cat_features"]])
    est.model_ = flavors.load_catboost(path)
    est.feature_names_in_ = np.asarray([str(c) for c in cb["feature_order"]], dtype=object)
    est.n_features_in_ = len(cb["feature_order"])
    est.cat_features_ = list(est.cat_features)
    est.classes_ = np.asarray(cb["estimator_classes"])
    return est


def _columns(card: ModelCard) -> tuple[list[str], list[str], dict[str, list], dict[str, str]]:
    schema = card.input_schema
    cols = schema.get("columns") if isinstance(schema, dict) else None
    if schema.get("type") != "table" or not isinstance(cols, list) or not all(
            isinstance(c, dict) and isinstance(c.get("name"), str) and c.get("role") in ("numeric", "categorical")
            for c in cols):
        raise ModelError("model.json: a tabular model needs input_schema.columns, each with a name and a role "
                         "(numeric or categorical)")
    numeric = [c["name"] for c in cols if c["role"] == "numeric"]
    categorical = [c["name"] for c in cols if c["role"] == "categorical"]
    cats = {c["name"]: list(c.get("categories") or []) for c in cols if c["role"] == "categorical"}
    dtypes = {c["name"]: str(c.get("dtype", "")) for c in cols}
    return numeric, categorical, cats, dtypes


def model_from_card(folder: Path, card: ModelCard) -> TabularModel:
    """The :class:`TabularModel` in a verified folder (see :func:`workbench.models.load`)."""
    if len(card.files) != 1:
        raise ModelError(f"{folder / 'model.json'}: a tabular model has exactly one model file, got {len(card.files)}")
    path = folder / next(iter(card.files))
    if card.flavor == "catboost":
        est = _catboost_estimator(path, card)
    elif card.flavor == "skops":
        est = flavors.load_skops(path, SKOPS_ALLOWED)
    else:
        raise ModelError(f"unknown tabular flavor {card.flavor!r} in {folder / 'model.json'}; expected skops or catboost")
    numeric, categorical, cats, dtypes = _columns(card)
    meta = {**card.metrics, **card.provenance, "categories": cats, "dtypes": dtypes, **card.details}
    ids = card.input_schema.get("id_columns") or []
    return TabularModel(name=card.name, estimator=est, numeric=numeric, categorical=categorical,
                        classes=list(card.classes), positive_label=card.positive_label,
                        threshold=float(card.threshold if card.threshold is not None else 0.5),
                        threshold_rule=card.threshold_rule, id_columns=[str(c) for c in ids], meta=meta)


class TabularPredictor(Predictor):
    """A saved tabular model behind the common ``predict`` (rows in, one output row per input row)."""

    def __init__(self, folder: Path, card: ModelCard):
        super().__init__(folder, card)
        self.model = model_from_card(folder, card)
        m = self.model
        self.scorer = compile_scorer(m.estimator, m.numeric, m.categorical, m.classes)

    def predict(self, inputs: Any) -> pd.DataFrame:
        """Predictions for a DataFrame (or a list of records); warns about categories unseen in training."""
        df = inputs if isinstance(inputs, pd.DataFrame) else pd.DataFrame(list(inputs))
        return score_frame(self.model, df)

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Predictions for records (dicts) as plain dicts: ID columns present, ``prediction``,
        ``proba_<class>``, ``error``. Compiled models score without a DataFrame (see ``_fast``), with
        the probabilities of :meth:`predict`; a value is read as in a one-row frame."""
        records = list(records)
        m = self.model
        if self.scorer is None or not records:
            return frame_records(self.predict(records))
        needed = set(m.features)
        if not all(r.keys() >= needed for r in records):
            m.check_columns(pd.DataFrame(columns=sorted({str(c) for r in records for c in r})))
        ids = [c for c in m.id_columns if any(c in r for r in records)]
        if len(records) > FEW_ROWS:
            return self._rows(records, ids, self.scorer.proba(records))
        names = [f"proba_{c}" for c in m.classes]
        out = []
        for r, p in zip(records, self.scorer.proba_rows(records)):
            row = {c: r.get(c) for c in ids}
            if any(v != v for v in p):
                out.append({**row, "prediction": None, **dict.fromkeys(names), "error": OVERFLOW})
                continue
            if len(p) == 2:
                row["prediction"] = m.classes[1] if p[1] >= m.threshold else m.classes[0]
            else:
                row["prediction"] = m.classes[max(range(len(p)), key=p.__getitem__)]
            row.update(zip(names, p))
            row["error"] = None
            out.append(row)
        return out

    def _rows(self, records: list, ids: list[str], proba: np.ndarray) -> list[dict[str, Any]]:
        """The answer rows of many records, built column by column."""
        m = self.model
        names = [f"proba_{c}" for c in m.classes]
        picks = (proba[:, 1] >= m.threshold).astype(int) if len(m.classes) == 2 else np.argmax(proba, axis=1)
        columns = [[r.get(c) for r in records] for c in ids]
        columns.append([m.classes[j] for j in picks.tolist()])
        columns += [proba[:, j].tolist() for j in range(proba.shape[1])]
        columns.append([None] * len(records))
        keys = [*ids, "prediction", *names, "error"]
        out = [dict(zip(keys, values)) for values in zip(*columns)]
        for i in np.flatnonzero(np.isnan(proba).any(axis=1)).tolist():
            out[i].update({"prediction": None, **dict.fromkeys(names), "error": OVERFLOW})
        return out

    def predict_files(self, paths: Sequence[str]) -> pd.DataFrame:
        """Predictions for the rows of CSV/TSV/Parquet files, in order (files concatenated)."""
        from ..data import load_dataset

        frames = [load_dataset(p).frame for p in paths]
        return self.predict(frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True))


def load_predictor(folder: Path, card: ModelCard) -> TabularPredictor:
    """Entry point of the ``tabular`` model kind."""
    return TabularPredictor(folder, card)


def load_model(folder: str | Path) -> TabularModel:
    """The :class:`TabularModel` saved in ``folder`` (card and hashes verified first)."""
    from ..models import load

    predictor = load(folder)
    if not isinstance(predictor, TabularPredictor):
        raise ModelError(f"{str(folder)!r} holds a {predictor.kind} model, not a tabular one")
    return predictor.model


def score_frame(model: TabularModel, df: pd.DataFrame) -> pd.DataFrame:
    """Predictions for every row of ``df`` (order kept); warns about categories unseen in training."""
    model.check_columns(df)
    unseen = model.unseen_categories(df)
    if unseen:
        warnings.warn("categories not seen in training (scored as unknown): "
                      + ", ".join(f"{c}: {n} row(s)" for c, n in unseen.items()), UserWarning, stacklevel=2)
    return model.predict_frame(df)
