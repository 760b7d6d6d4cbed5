"""Saving and loading tabular models through the saved-model contract.

On disk a model is a folder: the model file (``model.cbm`` for CatBoost in its native format,
``model.skops`` for scikit-learn pipelines; an ensemble has one ``member<i>`` file per member) plus
``model.json`` (kind ``tabular``: input columns with dtypes and the categories seen, classes or the
regression interval, threshold, metrics, provenance, file hashes; an ensemble's method, members and
meta-model coefficients as plain numbers). Loading never runs pickle: the hashes are verified, and
skops may only build the exact types our registry's pipelines consist of (:data:`SKOPS_ALLOWED`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..models import ModelCard, Predictor, TableInput, flavors, frame_records, provenance, save_card
from ._catboost import CatBoostFrameClassifier, CatBoostFrameRegressor, _CatBoostFrame
from ._compiled import COMPILED, compiled_file, write_compiled
from ._ensemble import Ensemble
from ._fitted import TabularModel, score_frame
from ._records import RecordScorer
from ._scorer import compile_scorer
from ._skops_types import SKOPS_ALLOWED


# ----------------------------------------------------------------------------------------- saving
def _input_schema(model: TabularModel) -> dict[str, Any]:
    dtypes = model.meta.get("dtypes", {})
    cats = model.meta.get("categories", {})
    columns = [{"name": c, "role": "numeric", "dtype": dtypes.get(c, "float64")} for c in model.numeric]
    columns += [{"name": c, "role": "categorical", "dtype": dtypes.get(c, "object"), "categories": cats.get(c, [])}
                for c in model.categorical]
    return {"type": "table", "columns": columns, "id_columns": list(model.id_columns)}


def _catboost_details(est: _CatBoostFrame) -> dict[str, Any]:
    d: dict[str, Any] = {"cat_features": list(est.cat_features_), "feature_order": list(est.feature_names_in_)}
    if isinstance(est, CatBoostFrameClassifier):
        d["estimator_classes"] = list(est.classes_)
    return d


def model_card(model: TabularModel, files: dict[str, str], flavor: str, members: list[dict] | None = None) -> ModelCard:
    """The card of ``model`` (files are hashed when it is saved)."""
    m = model.meta
    details: dict[str, Any] = {"target": m.get("target"), "dropped_columns": m.get("dropped_columns", {}),
                               "description": m.get("description", ""), "class_weight": m.get("class_weight", "none")}
    est = model.estimator
    if isinstance(est, _CatBoostFrame):
        details["catboost"] = _catboost_details(est)
    if isinstance(est, Ensemble):
        details["ensemble"] = {"method": est.method, "members": members or [],
                               "coef": _plain(est.coef), "intercept": _plain(est.intercept)}
    if model.interval:
        details["interval"] = dict(model.interval)
    if "explain_background" in m:
        details["explain_background"] = m["explain_background"]
    prov = provenance(dataset=m.get("dataset"), data_fingerprint=m.get("data_fingerprint"), seed=m.get("seed"),
                      folds=m.get("folds"), n_train=m.get("n_train"), n_test=m.get("n_test"),
                      refit_time_s=m.get("refit_time_s"))
    return ModelCard(
        kind="tabular", task=model.task, flavor=flavor, name=model.name, files=files, input_schema=_input_schema(model),
        output_schema={"columns": model.output_columns}, classes=list(model.classes),
        positive_label=model.positive_label, threshold=None if model.regression else float(model.threshold),
        threshold_rule=model.threshold_rule,
        metrics={k: m[k] for k in ("metric", "test_score", "test_metrics", "cv_metrics") if k in m},
        provenance=prov, details=details)


def _plain(a: Any) -> Any:
    return None if a is None else np.asarray(a, dtype=float).tolist()


def _save_one(est: Any, folder: Path, stem: str) -> tuple[str, str]:
    if isinstance(est, _CatBoostFrame):
        est.model_.save_model(str(folder / f"{stem}.cbm"), format="cbm")
        return f"{stem}.cbm", "catboost"
    flavors.save_skops(est, folder / f"{stem}.skops")
    return f"{stem}.skops", "skops"


def save_model(model: TabularModel, folder: str | Path) -> Path:
    """Write ``model`` into ``folder`` (created): the model file(s) and ``model.json``; return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    est = model.estimator
    if isinstance(est, Ensemble):
        members = []
        for i, (name, member) in enumerate(est.members):
            fname, flavor = _save_one(member, folder, f"member{i}")
            entry = {"name": name, "file": fname, "flavor": flavor}
            if isinstance(member, _CatBoostFrame):
                entry["catboost"] = _catboost_details(member)
            members.append(entry)
        return save_card(folder, model_card(model, {m["file"]: "" for m in members}, "ensemble", members))
    fname, flavor = _save_one(est, folder, "model")
    card = model_card(model, {fname: ""}, flavor)
    compiled = write_compiled(model, folder) if flavor == "skops" else None
    if compiled is not None:  # served without scikit-learn (see _compiled)
        card.files[compiled] = ""
        card.details["compiled"] = {"file": compiled, "format": 1}
    elif (folder / COMPILED).exists():  # a model saved before into this folder: its compiled form is stale
        (folder / COMPILED).unlink()
    return save_card(folder, card)


# ---------------------------------------------------------------------------------------- loading
def _catboost_estimator(path: Path, cb: Any, regression: bool, where: Path) -> _CatBoostFrame:
    keys = ("cat_features", "feature_order") + (() if regression else ("estimator_classes",))
    if not isinstance(cb, dict) or not all(isinstance(cb.get(k), list) for k in keys):
        raise ModelError(f"{where}: a CatBoost model needs details.catboost with {', '.join(keys)} lists")
    cls = CatBoostFrameRegressor if regression else CatBoostFrameClassifier
    est = cls(cat_features=[str(c) for c in cb["cat_features"]])
    est.model_ = flavors.load_catboost(path, classifier=not regression)
    est.feature_names_in_ = np.asarray([str(c) for c in cb["feature_order"]], dtype=object)
    est.n_features_in_ = len(cb["feature_order"])
    est.cat_features_ = list(est.cat_features)
    if not regression:
        est.classes_ = np.asarray(cb["estimator_classes"])
    return est


def _load_one(folder: Path, fname: str, flavor: str, cb: Any, regression: bool) -> Any:
    where = folder / "model.json"
    if flavor == "catboost":
        return _catboost_estimator(folder / fname, cb, regression, where)
    if flavor == "skops":
        return flavors.load_skops(folder / fname, SKOPS_ALLOWED)
    raise ModelError(f"unknown tabular flavor {flavor!r} in {where}; expected skops, catboost or ensemble")


def _numbers(value: Any, where: Path, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        arr = np.asarray([np.nan])
    if arr.ndim > 2 or not np.isfinite(arr).all():
        raise ModelError(f"{where}: details.ensemble.{what} must be a list of finite numbers")
    return arr


def _check_stacking(coef: np.ndarray, intercept: np.ndarray, members: int, card: ModelCard, where: Path) -> None:
    """The meta-model's shape as :func:`~._ensemble.fit_meta` fits it: one row (binary, regression) or one per
    class, on one input per member (binary, regression) or per member and class (multiclass)."""
    k = len(card.classes)
    rows, cols = (k, members * k) if card.task == "multiclass" else (1, members)
    if coef.shape != (rows, cols):
        raise ModelError(f"{where}: details.ensemble.coef must be {rows} x {cols} numbers for {members} members "
                         f"({card.task}), got shape {coef.shape}")
    if intercept.shape != (rows,):
        raise ModelError(f"{where}: details.ensemble.intercept must be {rows} numbers, got shape {intercept.shape}")


def _check_classes(est: Any, card: ModelCard, where: Path, what: str = "the estimator") -> None:
    """A classifier's card classes must be exactly its estimator's (scoring looks each one up)."""
    if card.task == "regression":
        return
    own = list(getattr(est, "classes_", []))
    if len(own) != len(card.classes) or not all(any(c == o for o in own) for c in card.classes):
        raise ModelError(f"{where}: the card's classes {list(card.classes)} disagree with {what}'s "
                         f"{[o.item() if isinstance(o, np.generic) else o for o in own]}; refusing the model")


def _ensemble(folder: Path, card: ModelCard) -> Ensemble:
    where = folder / "model.json"
    spec = card.details.get("ensemble")
    members = spec.get("members") if isinstance(spec, dict) else None
    if not isinstance(members, list) or not members or spec.get("method") not in ("voting", "stacking") or not all(
            isinstance(m, dict) and isinstance(m.get("name"), str) and m.get("file") in card.files for m in members):
        raise ModelError(f"{where}: an ensemble needs details.ensemble with a method (voting or stacking) and members, "
                         "each naming one of the card's files")
    if len(members) != len(card.files):
        raise ModelError(f"{where}: the ensemble lists {len(members)} members for {len(card.files)} files")
    regression = card.task == "regression"
    fitted = [(m["name"], _load_one(folder, m["file"], str(m.get("flavor")), m.get("catboost"), regression))
              for m in members]
    coef = intercept = None
    if spec["method"] == "stacking":
        coef, intercept = _numbers(spec.get("coef"), where, "coef"), _numbers(spec.get("intercept"), where, "intercept")
        _check_stacking(coef, intercept, len(members), card, where)
    for name, member in fitted:
        _check_classes(member, card, where, f"ensemble member {name!r}")
    est = Ensemble(fitted, spec["method"], card.task, list(card.classes), coef, intercept)
    est.classes_ = np.asarray(list(card.classes), dtype=object)
    return est


def _table(card: ModelCard) -> TableInput:
    schema = card.input_schema
    if schema.type != "table":
        raise ModelError(f"model.json: a tabular model takes a table (input_schema type 'table'), got "
                         f"{schema.type or 'none'!r}")
    return schema


def _interval(card: ModelCard, folder: Path) -> dict[str, Any] | None:
    iv = card.details.get("interval")
    if iv is None or card.task != "regression":
        return None
    ok = isinstance(iv, dict) and all(isinstance(iv.get(k), (int, float)) and not isinstance(iv.get(k), bool)
                                      and math.isfinite(iv[k]) for k in ("level", "half_width"))
    if not ok:
        raise ModelError(f"{folder / 'model.json'}: details.interval needs a numeric level and half_width")
    return {"level": float(iv["level"]), "half_width": float(iv["half_width"]), "method": str(iv.get("method", ""))}


def model_from_card(folder: Path, card: ModelCard) -> TabularModel:
    """The :class:`TabularModel` in a verified folder (see :func:`workbench.models.load`)."""
    regression = card.task == "regression"
    table = _table(card)
    if card.flavor == "ensemble":
        est = _ensemble(folder, card)
    else:
        files = [f for f in card.files if f != compiled_file(card, folder / "model.json")]
        if len(files) != 1:
            raise ModelError(f"{folder / 'model.json'}: a tabular model has exactly one model file, got {len(files)}")
        est = _load_one(folder, files[0], card.flavor, card.details.get("catboost"), regression)
        _check_classes(est, card, folder / "model.json")
    meta = {**card.metrics, **card.provenance, "categories": table.categories, "dtypes": table.dtypes, **card.details}
    return TabularModel(name=card.name, estimator=est, numeric=table.numeric, categorical=table.categorical,
                        classes=list(card.classes), positive_label=card.positive_label,
                        threshold=float(card.threshold if card.threshold is not None else 0.5),
                        threshold_rule=card.threshold_rule, id_columns=list(table.id_columns), meta=meta,
                        task=card.task, interval=_interval(card, folder))


class TabularPredictor(Predictor):
    """A saved tabular model behind the common ``predict`` (rows in, one output row per input row)."""

    def __init__(self, folder: Path, card: ModelCard):
        super().__init__(folder, card)
        self.model = model_from_card(folder, card)
        m = self.model
        self.scorer = None if m.regression else compile_scorer(m.estimator, m.numeric, m.categorical, m.classes)
        self._explainer: Any = None
        self._arrays: Any = None

    def predict(self, inputs: Any) -> pd.DataFrame:
        """Predictions for a DataFrame (or a list of records); warns about categories unseen in training."""
        df = inputs if isinstance(inputs, pd.DataFrame) else pd.DataFrame(list(inputs))
        return score_frame(self.model, df)

    def predict_arrow(self, batch: Any, encoded: Sequence[str] = ()) -> Any:
        """:meth:`predict` on an Arrow batch, as an Arrow table, scored on whole arrays when the model compiles
        (see ``_arrays``; the same columns and values), else through the DataFrame."""
        out = self._compiled().table(batch) if self._compiled() else None
        return out if out is not None else super().predict_arrow(batch, encoded)

    def _compiled(self) -> Any:
        if self._arrays is None:
            from ._arrays import compile_arrays

            self._arrays = compile_arrays(self.model) or False
        return self._arrays

    def arrow_columns(self, schema: Any) -> tuple[list[str] | None, list[str]]:
        """The model's features and ID columns (all columns when a feature is missing: the error lists them),
        and, when the model scores whole arrays, its text categorical features as dictionaries (each distinct
        value converted once, never decoded per row)."""
        import pyarrow as pa

        m, names = self.model, list(schema.names)
        if any(c not in names for c in m.features):
            return None, []
        wanted = set(m.features) | set(m.id_columns)
        text = [c for c in m.categorical if c not in m.id_columns
                and (pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type))]
        return [c for c in names if c in wanted], text if self._compiled() else []

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Predictions for records (dicts) as plain dicts: ID columns present, ``prediction``,
        ``proba_<class>`` (or the interval bounds of a regression), ``error``. Compiled classifiers score
        without a DataFrame (see ``_scorer``, ``_records``), with the probabilities of :meth:`predict`; a value
        is read as in a one-row frame."""
        records = list(records)
        m = self.model
        if self.scorer is None or not records:
            return frame_records(self.predict(records))
        return RecordScorer(self.scorer, m.features, m.classes, m.threshold, m.id_columns).rows(records)

    @property
    def explains(self) -> bool:
        return self.model.task != "multiclass"

    @property
    def explainer(self) -> Any:
        """The model's :class:`~._explain.TabularExplainer` (built on first use; refuses a multiclass model)."""
        if self._explainer is None:
            from ._explain import TabularExplainer

            self._explainer = TabularExplainer(self.model)
        return self._explainer

    def explain(self, inputs: Any, k: int) -> pd.DataFrame:
        """:meth:`predict` plus the top-``k`` contributions per row (``explain_<i>_feature``, ``explain_<i>_value``)."""
        from ..models._explain import check_k

        k = check_k(k)
        df = inputs if isinstance(inputs, pd.DataFrame) else pd.DataFrame(list(inputs))
        explainer = self.explainer
        frame = self.predict(df)
        cols = explainer.explain(df).columns(k)
        failed = frame["error"].notna().to_numpy()
        for name, values in cols.items():
            frame[name] = pd.Series(values, dtype=object).where(~failed, None).to_numpy()
        return frame

    def explain_files(self, paths: Sequence[str], explain: Any) -> pd.DataFrame:
        from ..data import load_dataset
        from ..models._explain import check_k

        k = check_k(explain)
        _ = self.explainer  # a model without explanations fails before the files are read
        frames = [load_dataset(p).frame for p in paths]
        return self.explain(frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True), k)

    def explain_records(self, records: Sequence[Mapping[str, Any]], k: int) -> list[dict[str, Any]]:
        from ._explain import explain_columns

        records = list(records)
        explainer = self.explainer
        rows = self.predict_records(records)
        return explain_columns(rows, explainer.explain_records(records), k) if records else rows

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
    if predictor.kind != "tabular":  # a TabularPredictor, or a CompiledPredictor (its model loaded from skops)
        raise ModelError(f"{str(folder)!r} holds a {predictor.kind} model, not a tabular one")
    return predictor.model
