"""Scoring a whole Arrow batch with numpy: the batch path of ``workbench predict`` on a dataset.

``Predictor.predict`` on a DataFrame pays pandas for every cell (``coerce_frame``'s text conversion, the
ColumnTransformer's one-hot encoding by Python comparisons, object columns out). :class:`ArrayScorer`
reads the same fitted preprocessing :func:`~._scorer.compile_preprocessor` reads, and builds the same
feature matrix from Arrow columns: numbers cast to float64 (nulls as NaN) and imputed and scaled with
whole-array operations; categories dictionary-encoded in Arrow, each *distinct* value converted exactly as
:func:`~._features.coerce_frame` converts it and looked up once, then one-hot positions gathered for every
row. A logistic or linear model is then a matrix product; any other final estimator (trees, boosting) gets
the matrix through its own compiled ``predict_proba``/``predict``. The output table has the columns, types
and values that ``pa.Table.from_pandas(predictor.predict(frame))`` has (tests check the Telco and Ames
rows: probabilities to 1e-12, labels equal).

Anything it does not read exactly (a column type other than text, integers, floats or booleans; a numeric
column stored as text; a missing column; an infinite number) returns ``None`` for that batch, and the
caller takes the DataFrame path, which explains or refuses it as before.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._catboost import CatBoostFrameClassifier, CatBoostFrameRegressor
from ._features import coerce_frame
from ._fitted import TabularModel
from ._prep import MISSING
from ._scorer import Preprocessor, _steps, compile_preprocessor

LINEAR_REGRESSORS = ("LinearRegression", "Ridge", "Lasso", "ElasticNet", "BayesianRidge", "HuberRegressor")
"""scikit-learn regressors whose ``predict`` is ``X @ coef_ + intercept_`` (``LinearModel._decision_function``)."""


def text_type() -> pa.DataType:
    """The Arrow type pandas gives a column of text (``large_string`` with pandas 3's string dtype)."""
    return pa.Table.from_pandas(pd.DataFrame({"c": ["a"]}), preserve_index=False).column(0).type


def _label_type(classes: list) -> pa.DataType:
    """The Arrow type of the ``prediction`` column the DataFrame path writes for these class labels."""
    frame = pd.DataFrame(index=range(len(classes)))
    frame["p"] = np.asarray(classes, dtype=object)
    return pa.Table.from_pandas(frame, preserve_index=False).column(0).type


def _readable(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or _text(t)


def _text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _numbers(col: pa.ChunkedArray) -> np.ndarray | None:
    """A numeric feature as ``pd.to_numeric(...).astype("float64")`` reads it (None: not read here)."""
    t = col.type
    if pa.types.is_boolean(t) and col.null_count == 0 or pa.types.is_integer(t) or pa.types.is_floating(t):
        return np.asarray(pc.cast(col, pa.float64(), safe=False).to_numpy(), dtype=np.float64)
    return None


def _distinct(col: pa.ChunkedArray) -> tuple[np.ndarray, list] | None:
    """Per row, the position of its value among the column's distinct values (-1: missing), and the distinct
    values as ``coerce_frame`` reads them (text, or NaN for a missing one). None: a type not read here."""
    t = col.type
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if pa.types.is_dictionary(t):
        if not _text(t.value_type):  # pandas reads these as a Categorical, converted differently
            return None
        enc = arr
    elif _readable(t):
        enc = pc.dictionary_encode(arr)
    else:
        return None
    idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    values = enc.dictionary.to_pandas()
    if _text(enc.dictionary.type):
        return idx, [v if isinstance(v, str) else np.nan for v in values.tolist()]
    return idx, coerce_frame(pd.DataFrame({"c": values}), [], ["c"])["c"].tolist()


def _unseen(values: list, idx: np.ndarray, seen: set | None) -> int:
    """How many rows hold a category (text) not in ``seen`` (the training categories; None: not checked)."""
    if seen is None or all(not isinstance(v, str) or v in seen for v in values):
        return 0
    is_unseen = np.array([isinstance(v, str) and v not in seen for v in values] + [False])
    return int(is_unseen[idx].sum())


class _Scorer:
    """The output table of a whole-batch scorer; subclasses give :meth:`outputs` (probabilities or values)."""

    def __init__(self, model: TabularModel, order: list[int]):
        self.model, self.order = model, order
        self.seen = {c: set(v) for c, v in model.meta.get("categories", {}).items()}
        self.text = text_type()
        if not model.regression:
            self.labels = pa.array(list(model.classes)).cast(_label_type(model.classes))

    def outputs(self, table: pa.Table) -> tuple[np.ndarray, dict[str, int]] | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def table(self, batch: Any) -> pa.Table | None:
        """``pa.Table.from_pandas(predictor.predict(batch.to_pandas()), preserve_index=False)``'s columns and
        values for an Arrow table or record batch, or None when this batch needs the DataFrame path."""
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        m = self.model
        if table.num_rows == 0 or any(c not in table.column_names for c in m.features):
            return None
        built = self.outputs(table)
        if built is None:
            return None
        out, unseen = built
        unseen = {c: k for c, k in unseen.items() if k}
        if unseen:
            warnings.warn("categories not seen in training (scored as unknown): "
                          + ", ".join(f"{c}: {n} row(s)" for c, n in unseen.items()), UserWarning, stacklevel=2)
        columns = {c: _id_column(table.column(c), self.text) for c in m.id_columns if c in table.column_names}
        if m.regression:
            columns["prediction"] = pa.array(out, from_pandas=True)
            lo, hi = m.interval_bounds(out)
            if lo is not None:
                columns["interval_lower"] = pa.array(lo, from_pandas=True)
                columns["interval_upper"] = pa.array(hi, from_pandas=True)
        else:
            picks = (out[:, 1] >= m.threshold).astype(np.int64) if len(m.classes) == 2 else out.argmax(1)
            columns["prediction"] = self.labels.take(pa.array(picks))
            for j, c in enumerate(m.classes):
                columns[f"proba_{c}"] = pa.array(out[:, j], from_pandas=True)
        columns["error"] = pa.nulls(table.num_rows)
        return pa.table(columns)


class ArrayScorer(_Scorer):
    """The whole-batch scorer of a compiled pipeline (see :func:`compile_arrays`)."""

    def __init__(self, model: TabularModel, prep: Preprocessor, final: Any, order: list[int]):
        super().__init__(model, order)
        self.prep, self.final = prep, final
        name = type(final).__name__
        module = type(final).__module__
        self.linear = module.startswith("sklearn.linear_model") and (
            name == "LogisticRegression" if not model.regression else name in LINEAR_REGRESSORS)

    def outputs(self, table: pa.Table) -> tuple[np.ndarray, dict[str, int]] | None:
        built = self.features(table)
        if built is None:
            return None
        num, codes, unseen = built
        return (self._values(num, codes) if self.model.regression else self._proba(num, codes)), unseen


    def features(self, table: pa.Table) -> tuple[np.ndarray, list[np.ndarray], dict[str, int]] | None:
        """The imputed and scaled numerics ``(n_numeric, n)``, per categorical column the one-hot position of each
        row (-1: none), and per categorical column its count of values unseen in training."""
        p, n = self.prep, table.num_rows
        num = np.empty((len(p.numeric), n))
        for j, c in enumerate(p.numeric):
            v = _numbers(table.column(c))
            if v is None or np.isinf(v).any():
                return None
            num[j] = np.where(np.isnan(v), p.fill[j], v)
        if p.numeric and p.mean is not None:
            num -= p.mean[:, None]
        if p.numeric and p.scale is not None:
            num /= p.scale[:, None]
        codes, unseen = [], {}
        for c, index, _, missing_code in p._cat:
            got = _distinct(table.column(c))
            if got is None:
                return None
            idx, values = got
            # a null row (idx -1) reads the appended entry: missing, like a NaN among the distinct values
            missing = -1 if missing_code is None else missing_code
            lookup = np.array([index.get(v, -1) if isinstance(v, str) else missing for v in values] + [missing],
                              dtype=np.int64)
            codes.append(lookup[idx])
            unseen[c] = _unseen(values, idx, self.seen.get(c))
        return num, codes, unseen

    def matrix(self, num: np.ndarray, codes: list[np.ndarray]) -> np.ndarray:
        """The ColumnTransformer's feature matrix ``(n, width)`` (column-major: each feature written whole)."""
        p = self.prep
        n = num.shape[1] if p.numeric else len(codes[0])
        XT = np.zeros((p.width, n))
        XT[: len(p.numeric)] = num
        rows = np.arange(n)
        for offset, code in zip(p.offsets, codes):
            ok = code >= 0
            XT[offset + code[ok], rows[ok]] = 1.0
        return XT.T

    def scores(self, num: np.ndarray, codes: list[np.ndarray]) -> np.ndarray:
        """``X @ coef_.T + intercept_`` without the one-hot matrix: a product on the numerics plus, per
        categorical column, its coefficient at each row's position (the sums in another order: within 1e-15)."""
        p = self.prep
        coef = np.atleast_2d(np.asarray(self.final.coef_, dtype=float))
        k = len(p.numeric)
        out = num.T @ coef[:, :k].T if k else np.zeros((len(codes[0]), coef.shape[0]))
        for offset, code, index in zip(p.offsets, codes, p.categories):
            block = np.hstack([coef[:, offset: offset + len(index)], np.zeros((coef.shape[0], 1))])
            out += block[:, code].T  # position -1 reads the appended zero: no category
        return out + self.final.intercept_

    def _proba(self, num: np.ndarray, codes: list[np.ndarray]) -> np.ndarray:
        if not self.linear:
            return np.asarray(self.final.predict_proba(self.matrix(num, codes)), dtype=float)[:, self.order]
        from scipy.special import expit
        from sklearn.utils.extmath import softmax

        scores = self.scores(num, codes)
        if scores.shape[1] == 1:  # LogisticRegression._predict_proba_lr, binary
            p = expit(scores.reshape(-1))
            return np.vstack([1 - p, p]).T[:, self.order]
        return softmax(scores, copy=False)[:, self.order]

    def _values(self, num: np.ndarray, codes: list[np.ndarray]) -> np.ndarray:
        if self.linear and np.ndim(self.final.coef_) == 1:
            return self.scores(num, codes).ravel()
        return np.asarray(self.final.predict(self.matrix(num, codes)), dtype=float).ravel()

class CatBoostArrays(_Scorer):
    """The whole-batch scorer of a CatBoost model: its own batch predict on a pool of numbers as float32 (as
    CatBoost reads a frame) and each category as a pandas Categorical of the texts ``coerce_frame`` gives
    (missing as ``__missing__``), built from Arrow's distinct values and per-row codes: no text per row."""

    def __init__(self, model: TabularModel, est: Any, order: list[int]):
        super().__init__(model, order)
        self.est = est
        native = list(est.model_.classes_) if not model.regression else []
        self.native = [native.index(c) for c in est.classes_] if not model.regression else []

    def outputs(self, table: pa.Table) -> tuple[np.ndarray, dict[str, int]] | None:
        from catboost import Pool

        m = self.model
        data: dict[str, Any] = {}
        for c in m.numeric:
            v = _numbers(table.column(c))
            if v is None or np.isinf(v).any():
                return None
            data[c] = v.astype(np.float32)
        unseen = {}
        for c in m.categorical:
            got = _distinct(table.column(c))
            if got is None:
                return None
            idx, values = got
            # a pandas Categorical: CatBoost hashes each category once, not each row's text
            text = [v if isinstance(v, str) else MISSING for v in values] + [MISSING]
            categories = list(dict.fromkeys(text))
            where = {v: i for i, v in enumerate(categories)}
            data[c] = pd.Categorical.from_codes(np.array([where[v] for v in text])[idx], categories=categories)
            unseen[c] = _unseen(values, idx, self.seen.get(c))
        pool = Pool(pd.DataFrame(data, columns=[*m.numeric, *m.categorical]), cat_features=list(m.categorical) or None)
        if m.regression:
            return np.asarray(self.est.model_.predict(pool), dtype=float).ravel(), unseen
        proba = np.asarray(self.est.model_.predict_proba(pool), dtype=float)[:, self.native]
        return proba[:, self.order], unseen


def _id_column(col: pa.ChunkedArray, text: pa.DataType) -> pa.Array:
    """An ID column as the DataFrame path writes it (``list(df[c].to_numpy())`` through pandas to Arrow)."""
    if _text(col.type):
        return pc.cast(col, text).combine_chunks()
    if pa.types.is_int64(col.type) and col.null_count == 0:
        return col.combine_chunks()
    frame = pd.DataFrame({"c": list(col.to_pandas().to_numpy())})
    return pa.Table.from_pandas(frame, preserve_index=False).column("c").combine_chunks()


def compile_arrays(model: TabularModel) -> _Scorer | None:
    """The whole-batch scorer of ``model`` (a scikit-learn pipeline of our preprocessing and one final
    estimator, or one of our CatBoost estimators on the model's columns), or None for any other shape
    (ensembles: the DataFrame path)."""
    order: list[int] = []
    if not model.regression:
        try:
            native = list(model.estimator.classes_)
            order = [native.index(c) for c in model.classes]
        except (AttributeError, ValueError):
            return None
    est = model.estimator
    if type(est) in (CatBoostFrameClassifier, CatBoostFrameRegressor):
        columns = [str(c) for c in est.feature_names_in_]
        if columns != [*model.numeric, *model.categorical] or list(est.cat_features_) != list(model.categorical):
            return None
        return CatBoostArrays(model, est, order)
    steps = _steps(est)
    if steps is None:
        return None
    prep = compile_preprocessor(steps[0], model.numeric, model.categorical)
    if prep is None or getattr(steps[1], "n_features_in_", prep.width) != prep.width:
        return None
    return ArrayScorer(model, prep, steps[1], order)
