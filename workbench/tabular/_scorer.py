"""Scoring records (dicts) without a DataFrame: a scorer compiled from a fitted model's own parameters.

A one-row DataFrame through a scikit-learn ``Pipeline`` costs milliseconds of pandas and validation
overhead for microseconds of arithmetic; a server answering one record at a time pays it on every
request. :func:`compile_scorer` reads the fitted preprocessing our registry builds
(:func:`~workbench.tabular._prep.make_preprocessor`: median imputer + standard scaler on numerics, constant
imputer + one-hot encoder on categoricals) into plain arrays and lookup tables, and builds the same
feature matrix for any number of records with numpy. Logistic regression is then scored in numpy too;
any other final estimator gets that matrix through its own ``predict_proba``; CatBoost gets its rows as
lists. Values are read exactly as :func:`~workbench.tabular._features.coerce_frame` reads a one-row frame, so the
probabilities equal the DataFrame path's (a test checks 1e-9). Anything else compiles to ``None`` and
keeps the DataFrame path.
"""

from __future__ import annotations

import copy
import math
import operator
from typing import Any, Mapping, Sequence

import numpy as np

from ._prep import MISSING

FEW_ROWS = 64


def number(value: Any) -> float:
    """A numeric cell as ``coerce_frame`` reads it: a float, NaN when missing or not a number."""
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            return math.nan
    if value is None:
        return math.nan
    if isinstance(value, np.generic):
        return number(value.item())
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip().lower() not in ("nan", "inf", "-inf", "infinity") else math.nan
        except ValueError:
            return math.nan
    return math.nan


def category(value: Any) -> str | None:
    """A categorical cell as ``coerce_frame`` reads a one-row frame: text, ``None`` when missing; a whole
    float reads as the integer ("1", not "1.0"), booleans as "True"/"False"."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, np.generic):
        return category(value.item())
    if isinstance(value, float):
        if value != value:
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 2 ** 63 else str(value)
    return str(value)


class Preprocessor:
    """The fitted ``make_preprocessor`` ColumnTransformer as arrays: fill values, scaling, category indexes."""

    def __init__(self, numeric: list[str], fill: np.ndarray, mean: np.ndarray | None, scale: np.ndarray | None,
                 categorical: list[str], categories: list[dict[str, int]]):
        self.numeric, self.fill, self.mean, self.scale = numeric, fill, mean, scale
        self.categorical, self.categories = categorical, categories
        self.offsets = np.cumsum([len(numeric)] + [len(c) for c in categories])[:-1].tolist()
        self.width = len(numeric) + sum(len(c) for c in categories)
        # per numeric column: fill value, mean, scale as Python floats (the few-rows path)
        ones = [1.0] * len(numeric)
        self._num = list(zip(numeric, fill.tolist(), mean.tolist() if mean is not None else [0.0] * len(numeric),
                             scale.tolist() if scale is not None else ones))
        self._cat = [(c, index, offset, index.get(MISSING)) for c, index, offset in
                     zip(categorical, categories, self.offsets)]

    def row(self, record: Mapping[str, Any]) -> list[float]:
        """One transformed row in plain Python (a few records: numpy's per-call cost would dominate).
        The same IEEE operations as the array path, so the same numbers."""
        x = [0.0] * self.width
        for j, (c, fill, mean, scale) in enumerate(self._num):
            v = record.get(c)
            v = v if type(v) is float else number(v)  # noqa: E721 - exact type is the fast case
            x[j] = ((fill if v != v else v) - mean) / scale
        for c, index, offset, _ in self._cat:
            v = record.get(c)
            j = index.get(v, -1) if type(v) is str else _code(index, v)  # noqa: E721
            if j >= 0:
                x[offset + j] = 1.0
        return x

    def matrix(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The transformed feature matrix, ``(len(records), width)``, as the ColumnTransformer gives it."""
        n = len(records)
        if n <= 8:
            return np.array([self.row(r) for r in records], dtype=float).reshape(n, self.width)
        X = np.zeros((n, self.width))
        if self.numeric:
            num = X[:, : len(self.numeric)]
            num[:] = numbers(_columns(records, self.numeric, rows=True), n, len(self.numeric))
            missing = np.isnan(num)
            if missing.any():
                num[missing] = np.broadcast_to(self.fill, num.shape)[missing]
            with np.errstate(over="ignore", invalid="ignore"):  # huge inputs: inf, then NaN probabilities
                if self.mean is not None:
                    num -= self.mean
                if self.scale is not None:
                    num /= self.scale
        if self.categorical:
            at_rows, at_cols = [], []
            rows = np.arange(n)
            for values, (_, index, offset, missing) in zip(_columns(records, self.categorical), self._cat):
                cols = np.array(codes(values, index, missing), dtype=np.int64)
                known = cols >= 0
                at_rows.append(rows[known])
                at_cols.append(cols[known] + offset)
            X[np.concatenate(at_rows), np.concatenate(at_cols)] = 1.0
        return X


def _columns(records: Sequence[Mapping[str, Any]], names: list[str], rows: bool = False) -> list:
    """The values of ``names`` per record (``rows``) or per column; a missing key reads as None."""
    get = operator.itemgetter(*names)
    try:
        table = [get(r) for r in records] if len(names) > 1 else [(get(r),) for r in records]
    except KeyError:
        table = [tuple(r.get(c) for c in names) for r in records]
    return table if rows else list(zip(*table))


def numbers(rows: list, n: int, width: int) -> np.ndarray:
    """Numeric cells (rows of values) as ``coerce_frame`` reads them (see :func:`number`), numpy first."""
    try:
        out = np.array(rows, dtype=float).reshape(n, width)
        if not np.isinf(out).any():  # numbers, None (NaN) and numeric text convert as float() reads them
            return out
    except (TypeError, ValueError, OverflowError):
        pass
    return np.array([[number(v) for v in row] for row in rows], dtype=float).reshape(n, width)


def codes(values: list, index: dict[str, int], missing: int | None) -> list[int]:
    """One-hot positions of a categorical column's values (-1: unknown category, all zeros)."""
    lookup = index if missing is None else {**index, None: missing}
    out = [lookup.get(v, -1) for v in values]
    if -1 not in out:
        return out
    for i in [i for i, code in enumerate(out) if code < 0 and type(values[i]) is not str]:  # noqa: E721
        out[i] = _code(index, values[i])
    return out


def _code(index: dict[str, int], value: Any) -> int:
    """The one-hot position of a cell that is not plain text (missing values take ``__missing__``'s)."""
    v = category(value)
    return index.get(MISSING if v is None else v, -1)


def _steps(pipeline: Any) -> tuple[Any, Any] | None:
    from sklearn.pipeline import Pipeline

    if type(pipeline) is not Pipeline or len(pipeline.steps) != 2:
        return None
    return pipeline.steps[0][1], pipeline.steps[1][1]


def _numeric_block(pipe: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None] | None:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [s for _, s in pipe.steps] if type(pipe) is Pipeline else []
    if not steps or type(steps[0]) is not SimpleImputer or steps[0].strategy != "median" or len(steps) > 2:
        return None
    fill = np.asarray(steps[0].statistics_, dtype=float)
    if np.isnan(fill).any() or getattr(steps[0], "add_indicator", False):
        return None
    if len(steps) == 1:
        return fill, None, None
    scaler = steps[1]
    if type(scaler) is not StandardScaler:
        return None
    mean = np.asarray(scaler.mean_, dtype=float) if scaler.with_mean else None
    scale = np.asarray(scaler.scale_, dtype=float) if scaler.with_std else None
    return fill, mean, scale


def _categorical_block(pipe: Any) -> list[dict[str, int]] | None:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    steps = [s for _, s in pipe.steps] if type(pipe) is Pipeline else []
    if len(steps) != 2 or type(steps[0]) is not SimpleImputer or type(steps[1]) is not OneHotEncoder:
        return None
    imputer, onehot = steps
    if imputer.strategy != "constant" or imputer.fill_value != MISSING or getattr(imputer, "add_indicator", False):
        return None
    if onehot.handle_unknown != "ignore" or onehot.drop is not None or getattr(onehot, "infrequent_categories_", None):
        return None
    cats = [list(c) for c in onehot.categories_]
    if not all(isinstance(v, str) for c in cats for v in c):
        return None
    return [{v: j for j, v in enumerate(c)} for c in cats]


def compile_preprocessor(ct: Any, numeric: list[str], categorical: list[str]) -> Preprocessor | None:
    """A :class:`Preprocessor` from a fitted ``make_preprocessor`` ColumnTransformer, or None if it is not one."""
    from sklearn.compose import ColumnTransformer

    if type(ct) is not ColumnTransformer or getattr(ct, "sparse_output_", False):
        return None
    blocks = {name: (est, list(cols)) for name, est, cols in ct.transformers_ if name != "remainder"}
    if set(blocks) - {"num", "cat"}:
        return None
    num_est, num_cols = blocks.get("num", (None, []))
    cat_est, cat_cols = blocks.get("cat", (None, []))
    if num_cols != list(numeric) or cat_cols != list(categorical):
        return None
    fill, mean, scale = np.zeros(0), None, None
    if numeric:
        block = _numeric_block(num_est)
        if block is None:
            return None
        fill, mean, scale = block
    cats: list[dict[str, int]] = []
    if categorical:
        cats = _categorical_block(cat_est)
        if cats is None:
            return None
    return Preprocessor(list(numeric), fill, mean, scale, list(categorical), cats)


class LinearScorer:
    """Class probabilities of a logistic regression on a compiled preprocessor: ``coef`` ``(k, width)`` and
    ``intercept`` ``(k,)`` (one row: binary), ``order`` the model's classes among the estimator's. No
    scikit-learn: a compiled model folder is served from these arrays alone (see ``_compiled``)."""

    def __init__(self, prep: Preprocessor, coef: np.ndarray | None, intercept: np.ndarray | None, order: list[int]):
        self.prep, self.coef, self.intercept, self.order = prep, coef, intercept, order
        if coef is not None:
            self._rows = [(w, b) for w, b in zip(coef.tolist(), intercept.tolist())]

    def proba(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """``(n, n_classes)`` probabilities, columns in the model's class order."""
        return self._logistic(self.prep.matrix(records))[:, self.order]

    def proba_rows(self, records: Sequence[Mapping[str, Any]]) -> list[list[float]]:
        """:meth:`proba` as lists; a few records through a logistic regression stay in plain Python."""
        if self.coef is None or len(records) > 8:
            return self.proba(records).tolist()
        out = []
        for r in records:
            x = self.prep.row(r)
            scores = [b + sum(map(float.__mul__, x, w)) for w, b in self._rows]
            p = _expit_pair(scores[0]) if len(scores) == 1 else _softmax(scores)
            out.append([p[j] for j in self.order])
        return out

    def _logistic(self, X: np.ndarray) -> np.ndarray:
        """``LogisticRegression.predict_proba`` on ``X``: the same operations (scipy's ``expit``, scikit-learn's
        ``softmax``) in numpy, without the validation."""
        with np.errstate(over="ignore", invalid="ignore"):
            scores = X @ self.coef.T + self.intercept
            if self.coef.shape[0] == 1:
                p = expit(scores.reshape(-1))
                return np.stack([1 - p, p], axis=1)
            return softmax(scores)


def expit(x: np.ndarray) -> np.ndarray:
    """The logistic function as scipy's ``expit`` computes it (``1 / (1 + exp(-x))``, no overflow warning)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax as scikit-learn's ``utils.extmath.softmax`` computes it (max subtracted first)."""
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class PipelineScorer(LinearScorer):
    """Class probabilities for records from a compiled preprocessor and the pipeline's final estimator."""

    def __init__(self, prep: Preprocessor, final: Any, order: list[int]):
        from sklearn.linear_model import LogisticRegression

        linear = type(final) is LogisticRegression
        super().__init__(prep, np.asarray(final.coef_, dtype=float) if linear else None,
                         np.asarray(final.intercept_, dtype=float) if linear else None, order)
        self.final = final
        self.single = copy.copy(final)  # for a few rows: one thread (a thread pool costs more than the trees)
        if "n_jobs" in final.get_params():
            self.single.n_jobs = 1

    def proba(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        if self.coef is not None:
            return super().proba(records)
        X = self.prep.matrix(records)
        if len(records) <= FEW_ROWS:
            with one_thread():
                proba = np.asarray(self.single.predict_proba(X), dtype=float)
        else:
            proba = np.asarray(self.final.predict_proba(X), dtype=float)
        return proba[:, self.order]


_CONTROLLER: list = []


def one_thread() -> Any:
    """OpenMP limited to one thread (a few rows: waking a team of threads costs more than the work, and far
    more on a busy machine)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="openmp")


def _expit_pair(z: float) -> list[float]:
    p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    return [1.0 - p, p]


def _softmax(scores: list[float]) -> list[float]:
    top = max(scores)
    e = [math.exp(s - top) for s in scores]
    total = sum(e)
    return [v / total for v in e]


class CatBoostScorer:
    """Class probabilities for records from a ``CatBoostFrameClassifier``, rows passed as lists."""

    def __init__(self, est: Any, order: list[int]):
        self.est, self.order = est, order
        self.columns = [str(c) for c in est.feature_names_in_]
        cats = set(est.cat_features_)
        self.is_cat = [c in cats for c in self.columns]
        native = list(est.model_.classes_)
        self.native_order = [native.index(c) for c in est.classes_]

    def _row(self, r: Mapping[str, Any]) -> list:
        out: list = []
        for c, is_cat in zip(self.columns, self.is_cat):
            if is_cat:
                v = category(r.get(c))
                out.append(MISSING if v is None else v)
            else:
                out.append(number(r.get(c)))
        return out

    def proba(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        from catboost import Pool

        cat_idx = [i for i, f in enumerate(self.is_cat) if f]
        pool = Pool([self._row(r) for r in records], cat_features=cat_idx, feature_names=self.columns)
        threads = 1 if len(records) <= FEW_ROWS else -1
        proba = np.asarray(self.est.model_.predict_proba(pool, thread_count=threads), dtype=float)[:, self.native_order]
        return proba[:, self.order]

    def proba_rows(self, records: Sequence[Mapping[str, Any]]) -> list[list[float]]:
        return self.proba(records).tolist()


def compile_scorer(estimator: Any, numeric: list[str], categorical: list[str], classes: list) -> Any:
    """A scorer with ``proba(records) -> (n, len(classes))`` for ``estimator``, or None when it is not one
    of the shapes above (the caller then uses the DataFrame path)."""
    try:
        estimator_classes = list(estimator.classes_)
        order = [estimator_classes.index(c) for c in classes]
    except (AttributeError, ValueError):
        return None
    from ._catboost import CatBoostFrameClassifier

    if type(estimator) is CatBoostFrameClassifier:
        if [str(c) for c in estimator.feature_names_in_] != [*numeric, *categorical]:
            return None
        return CatBoostScorer(estimator, order)
    steps = _steps(estimator)
    if steps is None:
        return None
    prep = compile_preprocessor(steps[0], numeric, categorical)
    if prep is None or getattr(steps[1], "n_features_in_", prep.width) != prep.width:
        return None
    return PipelineScorer(prep, steps[1], order)
