"""Tabular task preparation: input validation, column typing, preprocessing and the model registry.

Everything here runs before any training, so bad input (a missing target, a single class, a class too
rare for the folds, an unknown model name) is a clear error in seconds, not after a long fit.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from .errors import DatasetError, ModelError

MISSING = "__missing__"
"""Category that stands for a missing value in CatBoost's native categorical handling."""



def _id_name(name: str) -> bool:
    n = name.strip().lower()
    return (n in {"id", "rownames", "row_id", "rowid", "index", "uuid", "key"} or n.startswith("unnamed")
            or n.endswith(("_id", " id", "-id", "_key", "_uuid")) or name.endswith("ID"))


# --------------------------------------------------------------------------------------------- metrics
@dataclass(frozen=True)
class Metric:
    """A leaderboard metric: its key, display name and direction."""

    key: str
    label: str
    greater_is_better: bool = True


METRICS: dict[str, Metric] = {m.key: m for m in [
    Metric("roc_auc", "ROC-AUC"), Metric("pr_auc", "PR-AUC"), Metric("accuracy", "accuracy"),
    Metric("f1", "F1"), Metric("precision", "precision"), Metric("recall", "recall"),
    Metric("log_loss", "log-loss", False), Metric("brier", "Brier", False),
]}
TIMES = {"fit_time": "fit time (s)", "predict_time": "predict time (s)"}
_METRIC_ALIASES = {"auc": "roc_auc", "rocauc": "roc_auc", "average_precision": "pr_auc", "ap": "pr_auc",
                   "prauc": "pr_auc", "logloss": "log_loss", "neg_log_loss": "log_loss", "brier_score": "brier",
                   "f1_score": "f1", "acc": "accuracy"}


def resolve_metric(name: str) -> Metric:
    """The :class:`Metric` for a name such as ``"roc_auc"``, ``"ROC-AUC"`` or ``"auc"``."""
    key = re.sub(r"[\s\-]+", "_", str(name).strip().lower())
    key = _METRIC_ALIASES.get(key.replace("_", ""), _METRIC_ALIASES.get(key, key))
    if key not in METRICS:
        raise ModelError(f"unknown ranking metric {name!r}; expected one of: {', '.join(METRICS)}; "
                         "fix: pass e.g. -p metric roc_auc")
    return METRICS[key]


# ------------------------------------------------------------------------------------------ the task
@dataclass
class TabularTask:
    """A validated classification problem: features, target, train/test split and CV folds.

    Built by :func:`prepare_task`; every later step (comparison, refit, scoring) reads it.
    """

    X_train: pd.DataFrame
    y_train: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray
    target: str
    classes: list
    positive_label: Any
    numeric: list[str]
    categorical: list[str]
    folds: list[tuple[np.ndarray, np.ndarray]]
    seed: int
    metric: Metric
    models: list[str]
    dataset: str = ""
    fingerprint: str = ""
    dropped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    def summary(self) -> pd.DataFrame:
        """What will be trained on, as a small table for the report."""
        counts = pd.Series(np.concatenate([self.y_train, self.y_test])).value_counts()
        rows = [
            ("dataset", f"{self.dataset} (fingerprint {self.fingerprint})"),
            ("target", f"{self.target}: " + ", ".join(f"{c} ({counts.get(c, 0)})" for c in self.classes)),
            ("task", "binary, positive class " + repr(self.positive_label) if self.binary
             else f"multiclass ({len(self.classes)} classes, macro averages)"),
            ("rows", f"{len(self.y_train)} train / {len(self.y_test)} held-out test"),
            ("features", f"{len(self.numeric)} numeric, {len(self.categorical)} categorical"),
            ("validation", f"stratified {len(self.folds)}-fold CV on the train split, seed {self.seed}"),
            ("models", ", ".join(self.models)),
            ("ranking metric", self.metric.label),
        ]
        rows += [(f"dropped {c}", why) for c, why in self.dropped.items()]
        rows += [("note", n) for n in self.notes]
        return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def coerce_frame(df: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """The feature columns in a fixed order: numerics as float, categoricals as ``str`` objects with
    missing values kept as NaN. Training and scoring both go through it, so a model sees the same
    types from a registry frame, a CSV or a Parquet file."""
    out = {}
    for c in numeric:
        out[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    for c in categorical:
        s = df[c]
        mask = s.isna().to_numpy()
        if pd.api.types.is_float_dtype(s) and np.all(np.mod(s.dropna().to_numpy(dtype=float), 1) == 0):
            s = s.astype("Int64")  # 1.0 read from a CSV with gaps is the category "1", as in training
        vals = np.where(mask, np.nan, s.astype(str).to_numpy(dtype=object)).astype(object)
        out[c] = pd.Series(vals, index=df.index, dtype=object)
    return pd.DataFrame(out, index=df.index, columns=[*numeric, *categorical])


def _id_like(s: pd.Series, name: str) -> str | None:
    n = len(s)
    if n < 20 or s.isna().any():
        return None
    unique = s.nunique() == n
    if not unique:
        return None
    if pd.api.types.is_integer_dtype(s) and (s.is_monotonic_increasing or s.is_monotonic_decreasing):
        return "unique, monotonic integers (a row number)"
    if _id_name(name):
        return "a unique value per row and an ID-like name"
    if not pd.api.types.is_numeric_dtype(s):
        return "a unique text value per row (an identifier)"
    return None


def _resolve_positive(classes: list, positive_label: Any, target: str) -> tuple[Any, str | None]:
    if len(classes) != 2:
        return None, (f"positive_label {positive_label!r} ignored: the target has {len(classes)} classes, "
                      "so metrics are macro averages" if positive_label not in (None, "") else None)
    if positive_label in (None, ""):
        return None, None
    for c in classes:
        if c == positive_label or str(c) == str(positive_label):
            return c, None
    raise DatasetError(f"positive_label {positive_label!r} is not a class of target {target!r}; "
                       f"classes: {', '.join(map(repr, classes))}; fix: pass one of them "
                       "(-p positive_label ...) or an empty string to use the minority class")


def prepare_task(data: Any, target: str, *, positive_label: Any = None, models: Sequence[str] | None = None,
                 folds: int = 5, seed: int = 0, test_size: float = 0.2, metric: str = "roc_auc",
                 ) -> TabularTask:
    """Validate a table for classification and split it; raise before any training on bad input.

    Parameters
    ----------
    data : a :class:`workbench.Dataset` or a ``pandas.DataFrame``.
    target : the column to predict.
    positive_label : the positive class of a binary target; ``None``/``""`` picks the minority class.
    models : registry names (see :func:`model_names`); default: :data:`DEFAULT_MODELS`.
    folds : stratified CV folds on the train split (>= 2).
    seed : seed of the split, the folds and the models.
    test_size : fraction held out for the final test (0 < test_size < 1).
    metric : ranking metric (see :data:`METRICS`).

    Notes
    -----
    ID-like columns (unique per row: row numbers, identifiers) and all-missing columns are dropped with
    a warning; rows with a missing target are dropped with a warning.
    """
    from sklearn.model_selection import StratifiedKFold, train_test_split

    df = data.frame if hasattr(data, "frame") else data
    name = getattr(data, "name", "frame")
    if not isinstance(df, pd.DataFrame):
        raise DatasetError(f"data must be a Dataset or a pandas DataFrame, got {type(df).__name__}")
    if not isinstance(folds, (int, np.integer)) or isinstance(folds, bool) or folds < 2:
        raise DatasetError(f"folds must be an integer >= 2, got {folds!r}; fix: -p folds 5")
    if not isinstance(test_size, (int, float)) or not 0 < float(test_size) < 1:
        raise DatasetError(f"test_size must be a fraction between 0 and 1, got {test_size!r}; fix: -p test_size 0.2")
    metric_ = resolve_metric(metric)
    models = validate_models(models)
    if not target or target not in df.columns:
        raise DatasetError(f"target column {target!r} not in {name!r}; columns: {', '.join(map(str, df.columns))}; "
                           "fix: -p target <one of them>")
    notes: list[str] = []

    def note(msg: str) -> None:
        notes.append(msg)
        warnings.warn(msg, UserWarning, stacklevel=3)

    y_all = df[target]
    n_missing_y = int(y_all.isna().sum())
    if n_missing_y == len(df):
        raise DatasetError(f"target {target!r} is missing in every row; fix: choose another target column")
    if n_missing_y:
        note(f"{n_missing_y} rows with a missing target {target!r} dropped")
        df = df.loc[y_all.notna()]
        y_all = df[target]
    if pd.api.types.is_float_dtype(y_all) and not np.all(np.mod(y_all.to_numpy(dtype=float), 1) == 0):
        raise DatasetError(f"target {target!r} has non-integer numbers ({y_all.nunique()} distinct values): it looks "
                           "continuous, and compare_models classifies; fix: choose a categorical target or bin it")
    if pd.api.types.is_float_dtype(y_all):
        y_all = y_all.astype("int64")
    if not (pd.api.types.is_integer_dtype(y_all) or pd.api.types.is_bool_dtype(y_all)):
        y_all = y_all.astype(str)
    counts = y_all.value_counts()
    classes = sorted(counts.index.tolist(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise DatasetError(f"target {target!r} has a single class ({classes[0]!r} in all {len(y_all)} rows); a "
                           "classifier needs at least 2; fix: choose another target or add rows of other classes")
    if len(classes) > max(50, len(y_all) // 20):
        raise DatasetError(f"target {target!r} has {len(classes)} distinct values for {len(y_all)} rows: it looks "
                           "continuous or like an identifier; fix: choose a categorical target")
    def need(k: int) -> int:  # samples a class needs for a stratified test split and k folds
        return max(2, math.ceil(k / (1 - float(test_size))) + 1)

    rare = counts[counts < need(folds)]
    if len(rare):
        listed = ", ".join(f"{k!r}: {v}" for k, v in rare.items())
        fits = [k for k in range(2, folds) if need(k) <= rare.min()]
        lower = f"lower folds (-p folds {fits[-1]}), " if fits else ""
        raise DatasetError(
            f"target {target!r} has classes too rare for stratified {folds}-fold CV after a {test_size:g} test split: "
            f"{listed} sample(s); each class needs at least {need(folds)}; fix: {lower}drop or merge the rare "
            "classes, or add rows")
    pos, msg = _resolve_positive(classes, positive_label, target)
    if msg:
        note(msg)
    if len(classes) == 2 and pos is None:
        pos = counts.idxmin()
        note(f"positive_label not given: using the minority class {pos!r} ({counts[pos]} of {len(y_all)} rows)")
    if pos is not None:  # positive class last, so predict_proba[:, 1] is its probability
        classes = [c for c in classes if c != pos] + [pos]

    dropped: dict[str, str] = {}
    numeric: list[str] = []
    categorical: list[str] = []
    for c in df.columns:
        if c == target:
            continue
        s = df[c]
        if s.isna().all():
            dropped[c] = "all values missing"
            continue
        why = _id_like(s, str(c))
        if why:
            dropped[c] = f"ID-like: {why}"
            continue
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            categorical.append(c)
        else:
            numeric.append(c)
    for c, why in dropped.items():
        warnings.warn(f"column {c!r} dropped ({why})", UserWarning, stacklevel=2)
    if not numeric and not categorical:
        raise DatasetError(f"no usable feature columns in {name!r} besides the target {target!r} "
                           f"(dropped: {dropped or 'none'}); fix: check the file")
    X = coerce_frame(df, numeric, categorical)
    y = y_all.to_numpy()
    idx = np.arange(len(X))
    tr, te = train_test_split(idx, test_size=float(test_size), random_state=seed, stratify=y)
    tr.sort(), te.sort()
    X_train, X_test, y_train, y_test = X.iloc[tr], X.iloc[te], y[tr], y[te]
    train_counts = pd.Series(y_train).value_counts()
    if train_counts.min() < folds:
        raise DatasetError(f"after the test split, class {train_counts.idxmin()!r} has {train_counts.min()} training "
                           f"samples, fewer than folds={folds}; fix: lower folds or test_size")
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    fold_idx = [(a, b) for a, b in cv.split(np.zeros(len(y_train)), y_train)]
    cats = {c: sorted(X_train[c].dropna().unique().tolist()) for c in categorical}
    dtypes = {c: str(df[c].dtype) for c in [*numeric, *categorical]}
    return TabularTask(X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, target=target,
                       classes=classes, positive_label=pos, numeric=numeric, categorical=categorical,
                       folds=fold_idx, seed=seed, metric=metric_, models=models, dataset=name,
                       fingerprint=getattr(data, "fingerprint", ""), dropped=dropped, notes=notes,
                       categories=cats, dtypes=dtypes)


# ------------------------------------------------------------------------------------ preprocessing
def make_preprocessor(numeric: Sequence[str], categorical: Sequence[str], scale: bool = True):
    """Impute (+ scale) numerics; impute and one-hot categoricals, tolerating unknown categories."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num_steps: list = [("impute", SimpleImputer(strategy="median"))]
    if scale:
        num_steps.append(("scale", StandardScaler()))
    cat = Pipeline([("impute", SimpleImputer(strategy="constant", fill_value=MISSING)),
                    ("onehot", OneHotEncoder(handle_unknown="ignore", min_frequency=None, sparse_output=False))])
    return ColumnTransformer([("num", Pipeline(num_steps), list(numeric)), ("cat", cat, list(categorical))],
                             remainder="drop", verbose_feature_names_out=False)


class CatBoostFrameClassifier(ClassifierMixin, BaseEstimator):
    """CatBoost on a DataFrame with native categorical features (no one-hot).

    Object/string columns are passed as ``cat_features`` (missing values as a ``"__missing__"``
    category); numeric columns as they are (CatBoost handles NaN). Never writes ``catboost_info/``.
    """

    def __init__(self, iterations: int = 400, learning_rate: float = 0.06, depth: int = 6,
                 random_state: int | None = 0, thread_count: int = 1, cat_features: Sequence[str] | None = None):
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.depth = depth
        self.random_state = random_state
        self.thread_count = thread_count
        self.cat_features = cat_features

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X[self.feature_names_in_]
        out = X.copy()
        for c in self.cat_features_:
            out[c] = X[c].astype(object).where(X[c].notna(), MISSING).astype(str)
        return out

    def fit(self, X: pd.DataFrame, y: Any) -> "CatBoostFrameClassifier":
        from catboost import CatBoostClassifier

        if not isinstance(X, pd.DataFrame):
            raise ModelError(f"CatBoostFrameClassifier needs a DataFrame, got {type(X).__name__}")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.cat_features_ = list(self.cat_features) if self.cat_features is not None else [
            c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.model_ = CatBoostClassifier(
            iterations=self.iterations, learning_rate=self.learning_rate, depth=self.depth,
            random_seed=self.random_state, thread_count=self.thread_count, cat_features=self.cat_features_,
            allow_writing_files=False, verbose=0,
            loss_function="Logloss" if len(self.classes_) == 2 else "MultiClass")
        self.model_.fit(self._frame(X), y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = self.model_.predict_proba(self._frame(X))
        order = [list(self.model_.classes_).index(c) for c in self.classes_]
        return proba[:, order]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @property
    def feature_importances_(self) -> np.ndarray:
        return np.asarray(self.model_.get_feature_importance(), dtype=float)


# ----------------------------------------------------------------------------------- model registry
@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: how to build the estimator and a rough relative cost (for scheduling)."""

    name: str
    description: str
    build: Callable[[list[str], list[str], int, int], Any]
    cost: float = 1.0


def _sk(estimator_factory: Callable[[int, int], Any], scale: bool = True):
    def build(numeric, categorical, seed, threads):
        from sklearn.pipeline import Pipeline

        return Pipeline([("prep", make_preprocessor(numeric, categorical, scale=scale)),
                         ("model", estimator_factory(seed, threads))])
    return build


def _dummy(seed, threads):
    from sklearn.dummy import DummyClassifier
    return DummyClassifier(strategy="prior")


def _logreg(seed, threads):
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(C=1.0, max_iter=2000, random_state=seed)


def _rf(seed, threads):
    from sklearn.ensemble import RandomForestClassifier
    return RandomForestClassifier(n_estimators=300, min_samples_leaf=3, max_features="sqrt", random_state=seed,
                                  n_jobs=threads)


def _hgb(seed, threads):
    from sklearn.ensemble import HistGradientBoostingClassifier
    return HistGradientBoostingClassifier(learning_rate=0.05, max_iter=300, max_leaf_nodes=15,
                                          l2_regularization=1.0, early_stopping=False, random_state=seed)


def _catboost(numeric, categorical, seed, threads):
    return CatBoostFrameClassifier(random_state=seed, thread_count=threads, cat_features=list(categorical))


REGISTRY: dict[str, ModelSpec] = {s.name: s for s in [
    ModelSpec("dummy", "baseline: predicts the class prior", _sk(_dummy, scale=False), 0.05),
    ModelSpec("logreg", "logistic regression (one-hot + scaled numerics)", _sk(_logreg), 0.3),
    ModelSpec("random_forest", "random forest, 300 trees", _sk(_rf, scale=False), 2.0),
    ModelSpec("hist_gb", "histogram gradient boosting, 300 iterations", _sk(_hgb, scale=False), 2.0),
    ModelSpec("catboost", "CatBoost, 400 iterations, native categoricals", _catboost, 6.0),
]}
_MODEL_ALIASES = {"rf": "random_forest", "randomforest": "random_forest", "hgb": "hist_gb",
                  "histgradientboosting": "hist_gb", "hist_gradient_boosting": "hist_gb", "lr": "logreg",
                  "logistic_regression": "logreg", "baseline": "dummy", "cb": "catboost"}
DEFAULT_MODELS = ["dummy", "logreg", "random_forest", "hist_gb", "catboost"]


def model_names() -> list[str]:
    """Names accepted by the ``models`` parameter."""
    return list(REGISTRY)


def validate_models(models: Sequence[str] | str | None) -> list[str]:
    """Registry names, aliases resolved and duplicates removed; unknown names raise :class:`ModelError`."""
    if models is None:
        return list(DEFAULT_MODELS)
    if isinstance(models, str):
        models = [m for m in re.split(r"[,\s]+", models.strip("[] ")) if m]
    if not models:
        raise ModelError(f"models is empty; expected a list of registry names, e.g. [logreg, catboost]; "
                         f"valid: {', '.join(model_names())}")
    out: list[str] = []
    unknown = []
    for m in models:
        key = _MODEL_ALIASES.get(str(m).strip().lower(), str(m).strip().lower())
        if key not in REGISTRY:
            unknown.append(str(m))
        elif key not in out:
            out.append(key)
    if unknown:
        raise ModelError(f"unknown model name(s): {', '.join(map(repr, unknown))}; valid models: "
                         f"{', '.join(model_names())} (aliases: {', '.join(sorted(_MODEL_ALIASES))})")
    return out


def build_model(name: str, numeric: Sequence[str], categorical: Sequence[str], seed: int = 0,
                threads: int = 1) -> Any:
    """An unfitted estimator for registry entry ``name`` on these columns."""
    (key,) = validate_models([name])
    return REGISTRY[key].build(list(numeric), list(categorical), seed, threads)
