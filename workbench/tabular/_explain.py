"""Explaining a tabular model's predictions in its input columns (the engine: :mod:`workbench.models._explain`).

:class:`TabularExplainer` picks the exact method where the model has one and the permutation explainer for
the rest: CatBoost through its own ``ShapValues``; a pipeline ending in a linear model (binary LDA included)
through linear SHAP in the transformed features (the fitted one-hot and scaling steps read as arrays), summed
back to each input column; scikit-learn's trees, forests and gradient boosting through TreeSHAP; a stacking
ensemble (or a regression's voting) as its members weighted by the meta-model, when every member has an exact
explanation of the margin the meta-model combines; a classifier's soft voting as its members' explanations
carried through the sigmoid in proportion (:func:`workbench.models._explain.soft_voting`). The margin is the
positive class's log-odds for logistic regression, boosting and CatBoost, its probability for a single tree or
a forest (their raw output), the value for a regression; :attr:`Explanation.output` names it. Multiclass models
are not explained (the contributions would be per class).

The linear and permutation explainers need a background distribution: :func:`background` builds one at
``fit_best`` from the training rows' marginals (quantiles of each numeric column, each category in proportion,
missing values kept; no training row is stored), saved in the card as ``details.explain_background``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..models import _explain as engine
from ._catboost import _CatBoostFrame
from ._ensemble import Ensemble
from ._features import coerce_frame
from ._fitted import TabularModel
from ._scorer import CatBoostScorer, compile_preprocessor

BACKGROUND_SIZE = 50
MAX_BACKGROUND = 1000
LINEAR = {"LogisticRegression", "LinearRegression", "Ridge", "Lasso", "ElasticNet", "HuberRegressor", "BayesianRidge",
          "LinearDiscriminantAnalysis"}  # binary LDA: its log-odds are its decision function, linear too
TREES_PROBA = {"DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier"}
TREES_LOGIT = {"GradientBoostingClassifier", "HistGradientBoostingClassifier"}
TREES_VALUE = {"DecisionTreeRegressor", "RandomForestRegressor", "ExtraTreesRegressor", "GradientBoostingRegressor",
               "HistGradientBoostingRegressor"}
_SKLEARN = ("sklearn.linear_model", "sklearn.tree", "sklearn.ensemble", "sklearn.discriminant_analysis")


# ------------------------------------------------------------------------------------------- background
def _spread(values: list, n: int, rng: np.random.Generator) -> list:
    out = list(values)
    rng.shuffle(out)
    return out[:n]


def background(X: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str], size: int = BACKGROUND_SIZE,
               seed: int = 0) -> dict[str, Any]:
    """``size`` synthetic rows drawn from the training columns' marginals, as JSON: numeric columns at evenly
    spaced quantiles, categories in proportion (largest remainders), missing values in proportion; each column
    shuffled on its own (columns independent, as interventional SHAP assumes)."""
    rng = np.random.default_rng(seed)
    columns: dict[str, list] = {}
    for c in numeric:
        v = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float)
        ok = v[np.isfinite(v)]
        n_missing = int(round(size * (1 - len(ok) / max(len(v), 1)))) if len(ok) else size
        q = np.quantile(ok, (np.arange(size - n_missing) + 0.5) / max(size - n_missing, 1)) if len(ok) else []
        columns[c] = _spread([float(x) for x in q] + [None] * n_missing, size, rng)
    for c in categorical:
        freq = X[c].astype(object).where(X[c].notna(), None).value_counts(dropna=False, normalize=True)
        share = freq.to_numpy() * size
        counts = np.floor(share).astype(int)
        counts[np.argsort(-(share - counts), kind="stable")[: size - counts.sum()]] += 1
        values = [None if k is None or k != k else str(k) for k in freq.index.tolist()]
        columns[c] = _spread([v for v, n in zip(values, counts.tolist()) for _ in range(n)], size, rng)
    return {"rows": size, "columns": columns}


def background_frame(model: TabularModel) -> pd.DataFrame:
    """The card's background rows as a frame in the model's column order, checked field by field."""
    spec = model.meta.get("explain_background")
    if spec is None:
        raise ModelError(f"model {model.name!r} has no explanation background (details.explain_background: saved "
                         "before explanations existed); fix: re-save it with this version (tabular.save)")
    cols = spec.get("columns") if isinstance(spec, dict) else None
    if not isinstance(cols, dict) or set(cols) != set(model.features):
        raise ModelError("model.json: details.explain_background.columns must hold one list per input column")
    sizes = {len(v) if isinstance(v, list) else -1 for v in cols.values()}
    if len(sizes) != 1 or not 0 < next(iter(sizes)) <= MAX_BACKGROUND:
        raise ModelError(f"model.json: details.explain_background.columns must be lists of one length (1 to "
                         f"{MAX_BACKGROUND})")
    for c in model.numeric:
        if not all(v is None or (type(v) in (int, float) and np.isfinite(v)) for v in cols[c]):
            raise ModelError(f"model.json: details.explain_background.columns[{c!r}] must hold finite numbers or null")
    for c in model.categorical:
        if not all(v is None or type(v) is str for v in cols[c]):
            raise ModelError(f"model.json: details.explain_background.columns[{c!r}] must hold text or null")
    return coerce_frame(pd.DataFrame({c: cols[c] for c in model.features}), model.numeric, model.categorical)


# ------------------------------------------------------------------------------------------ explainers
def _kind(est: Any) -> str:
    t = type(est)
    if not t.__module__.startswith(_SKLEARN):
        return ""
    name = t.__name__
    if name in LINEAR:
        return "linear"
    return "tree" if name in TREES_PROBA | TREES_LOGIT | TREES_VALUE else ""


def _positive(est: Any, model: TabularModel) -> int:
    """The position of the model's positive class among the estimator's classes."""
    return [str(c) for c in est.classes_].index(str(model.classes[1]))


class TabularExplainer:
    """Explanations of a :class:`TabularModel` (binary classification or regression), rows as a frame or records."""

    def __init__(self, model: TabularModel):
        if model.task == "multiclass":
            raise ModelError(f"model {model.name!r} is multiclass: explanations cover binary classification and "
                             "regression models")
        self.model = model
        self.features = list(model.features)
        self.output = "value" if model.regression else f"log-odds of {model.classes[1]!r}"
        self._bg: pd.DataFrame | None = None
        self._exact = self._exact_for(model.estimator)

    @property
    def method(self) -> str:
        return self._exact[0] if self._exact else "permutation"

    def explain(self, df: pd.DataFrame) -> engine.Explanation:
        """The explanation of every row of ``df`` (the model's columns, typed as in training)."""
        self.model.check_columns(df)
        X = coerce_frame(df, self.model.numeric, self.model.categorical)
        if self._exact:
            return self._exact[1](X)
        return self._permutation(X)

    def explain_records(self, records: Sequence[Mapping[str, Any]]) -> engine.Explanation:
        """The explanation of records (dicts); compiled linear and CatBoost models skip the DataFrame."""
        if self._exact and self._exact[2] is not None:
            return self._exact[2](records)
        return self.explain(pd.DataFrame(list(records)))

    # exact methods: (name, frame -> Explanation, records -> Explanation or None)
    def _exact_for(self, est: Any) -> tuple | None:
        if isinstance(est, _CatBoostFrame):
            return self._catboost(est)
        if isinstance(est, Ensemble):
            return self._ensemble(est)
        if type(est).__name__ != "Pipeline" or len(getattr(est, "steps", [])) != 2:
            return None
        kind = _kind(est.steps[1][1])
        if kind == "linear":
            return self._linear(est)
        return self._tree(est) if kind == "tree" else None

    def _member_output(self, est: Any) -> str:
        final = est.steps[1][1] if hasattr(est, "steps") else est
        if self.model.regression:
            return "value"
        return "probability" if type(final).__name__ in TREES_PROBA else "log-odds"

    def _catboost(self, est: _CatBoostFrame) -> tuple:
        from catboost import Pool

        order = [str(c) for c in est.feature_names_in_]
        pick = [order.index(c) for c in self.features]
        cat_idx = [i for i, c in enumerate(order) if c in set(est.cat_features_)]
        sign = 1.0
        if not self.model.regression:
            native = [str(c) for c in est.model_.classes_]
            sign = 1.0 if native.index(str(self.model.classes[1])) == 1 else -1.0
        rows = CatBoostScorer.__new__(CatBoostScorer)
        rows.columns, rows.is_cat = order, [c in set(est.cat_features_) for c in order]

        def run(pool: Any, n: int) -> engine.Explanation:
            e = engine.catboost(est.model_, pool, order, self.output, sign, threads=1 if n <= 64 else -1)
            return engine.Explanation(self.features, e.values[:, pick], e.base, e.output, e.method)

        def frame(X: pd.DataFrame) -> engine.Explanation:
            return run(Pool(est._frame(X), cat_features=cat_idx, feature_names=order), len(X))

        def records(recs: Sequence[Mapping[str, Any]]) -> engine.Explanation:
            missing = [c for c in self.features if not all(c in r for r in recs)]
            if missing:
                self.model.check_columns(pd.DataFrame(columns=sorted({str(c) for r in recs for c in r})))
            return run(Pool([rows._row(r) for r in recs], cat_features=cat_idx, feature_names=order), len(recs))

        return ("catboost", frame, records)

    def _compiled(self, pipe: Any) -> tuple | None:
        """The pipeline's preprocessor compiled to arrays and its final estimator, with the matrix mapping the
        transformed columns back to the original ones (one-hot parts summed); None where it does not compile."""
        ct, final = pipe.steps[0][1], pipe.steps[1][1]
        prep = compile_preprocessor(ct, self.model.numeric, self.model.categorical)
        if prep is None:
            return None
        groups = list(range(len(prep.numeric))) + [len(prep.numeric) + i for i, c in enumerate(prep.categories)
                                                   for _ in c]
        return ct, final, prep, engine.grouping(groups, len(self.features))

    def _linear(self, pipe: Any) -> tuple | None:
        compiled = self._compiled(pipe)
        if compiled is None:
            return None
        ct, final, prep, G = compiled
        coef, intercept = np.asarray(final.coef_, dtype=float), np.ravel(np.asarray(final.intercept_, dtype=float))
        if not self.model.regression:
            if coef.shape[0] != 1:
                return None
            sign = 1.0 if _positive(final, self.model) == 1 else -1.0
            coef, intercept = sign * coef, sign * intercept
        state: dict[str, np.ndarray] = {}

        def run(X_t: np.ndarray) -> engine.Explanation:
            if "mean" not in state:
                state["mean"] = prep.matrix(background_frame(self.model).to_dict("records")).mean(axis=0)
            return engine.linear(X_t, coef.ravel(), float(intercept[0]), state["mean"], G, self.features, self.output)

        def frame(X: pd.DataFrame) -> engine.Explanation:
            return run(np.asarray(ct.transform(X), dtype=float))

        def records(recs: Sequence[Mapping[str, Any]]) -> engine.Explanation:
            if not all(r.keys() >= set(self.features) for r in recs):
                self.model.check_columns(pd.DataFrame(columns=sorted({str(c) for r in recs for c in r})))
            return run(prep.matrix(list(recs)))

        return ("linear", frame, records)

    def _tree(self, pipe: Any) -> tuple | None:
        compiled = self._compiled(pipe)
        if compiled is None:
            return None
        ct, final, prep, G = compiled
        index = None if self.model.regression else _positive(final, self.model)
        kind = self._member_output(pipe)
        output = self.output if kind != "probability" else f"probability of {self.model.classes[1]!r}"
        if kind == "log-odds" and index == 0:
            return None  # boosting's single log-odds column is the second class's: leave it to the permutation

        def frame(X: pd.DataFrame) -> engine.Explanation:
            return engine.tree(final, np.asarray(ct.transform(X), dtype=float), G, self.features, output, index)

        return ("tree", frame, None)

    def _ensemble(self, est: Ensemble) -> tuple | None:
        soft = est.method == "voting" and not self.model.regression  # the mean of the members' probabilities
        parts, in_probability = [], []
        for _, member in est.members:
            exact = self._exact_for(member)
            in_p = self._member_output(member) == "probability"
            if exact is None or (in_p and not soft):
                return None  # stacking reads the members' logits: a forest's probability SHAP does not give them
            parts.append(exact)
            in_probability.append(in_p)
        if soft:
            def voting(X: pd.DataFrame) -> engine.Explanation:
                return engine.soft_voting([p[1](X) for p in parts], in_probability, self.output)

            return ("ensemble", voting, None)
        m = len(parts)
        weights = [1.0 / m] * m if est.method == "voting" else np.ravel(est.coef).tolist()
        intercept = 0.0 if est.method == "voting" else float(np.ravel(est.intercept)[0])

        def frame(X: pd.DataFrame) -> engine.Explanation:
            return engine.weighted([p[1](X) for p in parts], weights, intercept, self.output)

        return ("ensemble", frame, None)

    def _permutation(self, X: pd.DataFrame) -> engine.Explanation:
        if self._bg is None:
            self._bg = background_frame(self.model)
        model, features = self.model, self.features

        def margin(rows: np.ndarray) -> np.ndarray:
            frame = pd.DataFrame(rows, columns=features)
            frame[model.numeric] = frame[model.numeric].astype(float)
            if model.regression:
                return np.asarray(model.estimator.predict(frame), dtype=float).ravel()
            p = model.predict_proba(frame)[:, 1]
            p = np.clip(p, 1e-12, 1 - 1e-12)
            return np.log(p / (1 - p))

        return engine.permutation(margin, X.to_numpy(dtype=object), self._bg.to_numpy(dtype=object), features,
                                  self.output)


def explain_columns(model_rows: list[dict[str, Any]], explanation: engine.Explanation, k: int) -> list[dict[str, Any]]:
    """Prediction rows (dicts) with the top-``k`` contribution columns added (``None`` on rows with an error)."""
    cols = explanation.columns(k)
    for i, row in enumerate(model_rows):
        failed = row.get("error") is not None
        row.update({name: (None if failed else values[i]) for name, values in cols.items()})
    return model_rows

