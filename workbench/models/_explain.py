"""Explanations of a loaded model's predictions: additive per-column contributions (SHAP values).

An :class:`Explanation` holds, per explained row, a base value and one contribution per input column, with
``base + contributions.sum() == margin`` (the model's raw output: log-odds of the positive class for a
binary classifier whose model has them, the predicted value for a regression; :attr:`Explanation.output`
says which). The ways to get them, each from a loaded model's own parameters (nothing is unpickled here):

- :func:`linear`: exact linear SHAP ``w·(x - E[x])`` in the transformed features, then summed back to the
  input column each transformed feature came from (one-hot parts and a scaled numeric alike);
- :func:`tree`: exact TreeSHAP (``shap.TreeExplainer``, path-dependent: no data needed) for scikit-learn's
  trees, forests and boosting; :func:`catboost`: CatBoost's own ``ShapValues``;
- :func:`permutation`: sampled permutation SHAP on the input columns against a background table, any model,
  within a stated budget of model evaluations per row (exactly additive by construction: every permutation
  walks from a background row to the explained row);
- :func:`weighted`: an ensemble whose margin is an affine combination of its members' margins (stacking) as
  the weighted sum of its members' explanations;
- :func:`soft_voting`: a binary classifier's soft voting (the mean of its members' probabilities) as its
  members' explanations, each carried through the sigmoid by the proportional ("rescale") rule, averaged, then
  carried to the log-odds of the mean the same way: exactly additive, each member's part its own exact SHAP
  values scaled by one factor per row (not the Shapley values of the averaged model, which no exact method gives).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ModelError

PERMUTATION_BUDGET = 2000
"""Model evaluations per explained row for :func:`permutation` (background rows x permutations x (columns + 1))."""
BACKGROUND_ROWS = 10
"""Background rows :func:`permutation` walks from (a fixed, seeded subset of the model's background table)."""


@dataclass
class Explanation:
    """Per-row contributions of each input column (``values``: rows x features) and the base value per row."""

    features: list[str]
    values: np.ndarray
    base: np.ndarray
    output: str
    method: str

    @property
    def margin(self) -> np.ndarray:
        """What the contributions add up to: ``base + values.sum(axis=1)``."""
        return self.base + self.values.sum(axis=1)

    def top(self, k: int) -> list[list[tuple[str, float]]]:
        """Per row, the ``k`` largest contributions by absolute value, ``(feature, value)`` (ties: column order)."""
        k = min(k, len(self.features))
        order = np.argsort(-np.abs(self.values), axis=1, kind="stable")[:, :k]
        names = self.features
        return [[(names[j], _finite(row[j])) for j in idx] for row, idx in zip(self.values.tolist(), order.tolist())]

    def columns(self, k: int) -> dict[str, list]:
        """The top-``k`` contributions as columns ``explain_<i>_feature``, ``explain_<i>_value`` (i from 1)."""
        k = min(k, len(self.features))
        top = self.top(k)
        out: dict[str, list] = {}
        for i in range(k):
            out[f"explain_{i + 1}_feature"] = [row[i][0] for row in top]
            out[f"explain_{i + 1}_value"] = [row[i][1] for row in top]
        return out

    def take(self, rows: Any) -> "Explanation":
        """The explanation of a subset of rows (an index array or mask)."""
        return Explanation(self.features, self.values[rows], self.base[rows], self.output, self.method)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def check_k(k: Any, name: str = "explain") -> int:
    """``k`` as a positive integer, or a one-line error naming the problem and the fix."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer, str)):
        raise ModelError(f"{name} must be a positive integer, the number of contributions per row ({name}={k!r}); "
                         f"e.g. {name}=3")
    try:
        value = int(str(k).strip())
    except ValueError:
        value = 0
    if value < 1 or str(k).strip() not in (str(value), f"+{value}"):
        raise ModelError(f"{name} must be a positive integer, the number of contributions per row ({name}={k!r}); "
                         f"e.g. {name}=3")
    return value


def grouping(groups: Sequence[int], n_features: int) -> np.ndarray:
    """The ``(transformed features, input columns)`` 0/1 matrix summing transformed parts into their column."""
    G = np.zeros((len(groups), n_features))
    G[np.arange(len(groups)), np.asarray(groups, dtype=int)] = 1.0
    return G


def linear(X: np.ndarray, coef: np.ndarray, intercept: float, background_mean: np.ndarray, G: np.ndarray,
           features: list[str], output: str) -> Explanation:
    """Exact SHAP of ``X @ coef + intercept`` with independent features: ``coef * (x - E[x])`` per transformed
    feature, summed per input column through ``G``; the base is the margin at ``E[x]``."""
    coef = np.asarray(coef, dtype=float).ravel()
    mean = np.asarray(background_mean, dtype=float).ravel()
    with np.errstate(over="ignore", invalid="ignore"):  # huge inputs: inf/NaN contributions, as the margin
        values = ((np.asarray(X, dtype=float) - mean) * coef) @ G
    base = np.full(len(values), float(intercept) + float(mean @ coef))
    return Explanation(features, values, base, output, "linear SHAP (exact)")


def tree(estimator: Any, X: np.ndarray, G: np.ndarray, features: list[str], output: str, index: int | None) -> Explanation:
    """Exact path-dependent TreeSHAP of a scikit-learn tree model on its transformed input ``X`` (``index``: the
    output column to explain when the model has several, e.g. a forest's positive-class probability)."""
    with warnings.catch_warnings():  # shap's colour maps call matplotlib setters deprecated since 3.10, on import
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

    explainer = shap.TreeExplainer(estimator)
    sv = np.asarray(explainer.shap_values(np.asarray(X, dtype=float), check_additivity=False), dtype=float)
    ev = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    pick = index if index is not None else -1
    if sv.ndim == 3:
        sv = sv[:, :, pick]
    base = float(ev[pick] if ev.size > 1 else ev[0])
    return Explanation(features, sv @ G, np.full(len(sv), base), output, "TreeSHAP (exact, path-dependent)")


def catboost(model: Any, pool: Any, features: list[str], output: str, sign: float = 1.0,
             threads: int = -1) -> Explanation:
    """CatBoost's own exact SHAP values (``get_feature_importance(type="ShapValues")``) of a binary classifier's
    raw score or a regression's value; ``sign=-1`` when the positive class is CatBoost's first."""
    sv = np.asarray(model.get_feature_importance(data=pool, type="ShapValues", thread_count=threads), dtype=float)
    if sv.ndim != 2 or sv.shape[1] != len(features) + 1:
        raise ModelError(f"CatBoost answered SHAP values of shape {sv.shape} for {len(features)} columns; "
                         "explanations cover binary classification and regression")
    sv = sign * sv
    return Explanation(features, sv[:, :-1], sv[:, -1].copy(), output, "TreeSHAP (exact, CatBoost ShapValues)")


def permutation(margin: Callable[[np.ndarray], np.ndarray], X: np.ndarray, background: np.ndarray,
                features: list[str], output: str, budget: int = PERMUTATION_BUDGET, seed: int = 0) -> Explanation:
    """Sampled permutation SHAP of ``margin`` (a function of an object array of input rows) at the rows of ``X``.

    Per row: :data:`BACKGROUND_ROWS` background rows, and as many antithetic permutation pairs of the columns as
    ``budget`` evaluations allow (at least one pair); each permutation switches the columns from the background
    row's values to the row's one at a time and credits each change of the margin to the column switched. The
    contributions add up to ``margin(x) - mean(margin(background))`` exactly."""
    X = np.asarray(X, dtype=object)
    n, d = X.shape
    rng = np.random.default_rng(seed)
    bg = np.asarray(background, dtype=object)
    if len(bg) > BACKGROUND_ROWS:
        bg = bg[np.sort(rng.choice(len(bg), BACKGROUND_ROWS, replace=False))]
    m = len(bg)
    pairs = max(1, budget // (2 * m * (d + 1)))
    base = float(np.mean(margin(bg)))
    values = np.zeros((n, d))
    steps = np.arange(d + 1)
    chunk = max(1, 50_000 // (2 * pairs * m * (d + 1)))
    for start in range(0, n, chunk):
        rows = X[start:start + chunk]
        perms = np.array([rng.permutation(d) for _ in range(pairs)])
        perms = np.concatenate([perms, perms[:, ::-1]])  # antithetic: each order and its reverse
        rank = np.argsort(perms, axis=1)  # rank[p, j]: when column j is switched in permutation p
        mask = rank[:, None, :] < steps[None, :, None]  # (P, d+1, d): switched after s steps
        Z = np.where(mask[None, :, None, :, :], rows[:, None, None, None, :], bg[None, None, :, None, :])
        y = np.asarray(margin(Z.reshape(-1, d)), dtype=float).reshape(len(rows), len(perms), m, d + 1)
        diffs = np.diff(y, axis=3).mean(axis=2)  # (rows, P, d): the change at step s, averaged over background rows
        credit = np.take_along_axis(diffs, np.broadcast_to(rank[None], diffs.shape), axis=2)
        values[start:start + len(rows)] = credit.mean(axis=1) + (y[:, :, :, 0].mean(axis=(1, 2)) - base)[:, None] / d
    evals = 2 * pairs * m * (d + 1)
    return Explanation(features, values, np.full(n, base), output,
                       f"permutation SHAP (sampled: {2 * pairs} permutations x {m} background rows, "
                       f"{evals:,} model evaluations per row)")


def weighted(parts: Sequence[Explanation], weights: Sequence[float], intercept: float, output: str) -> Explanation:
    """The explanation of ``intercept + sum(weights[i] * margin_i)`` from the members' explanations."""
    values = sum(w * p.values for w, p in zip(weights, parts))
    base = float(intercept) + sum(w * p.base for w, p in zip(weights, parts))
    methods = sorted({p.method for p in parts})
    return Explanation(parts[0].features, np.asarray(values, dtype=float), np.asarray(base, dtype=float), output,
                       "weighted members: " + "; ".join(methods))


def _rescaled(values: np.ndarray, start: np.ndarray, link: Callable[[np.ndarray], np.ndarray],
              slope: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Contributions ``values`` (from ``start`` per row) carried through ``link`` in proportion: each row's are
    scaled by ``(link(end) - link(start)) / (end - start)`` (``slope(start)`` where the row barely moves), so they
    add up to ``link(end) - link(start)`` exactly. Returns the scaled values and ``link(start)``."""
    delta = values.sum(axis=1)
    moved = np.abs(delta) > 1e-12
    gap = link(start + delta) - link(start)
    ratio = np.where(moved, gap / np.where(moved, delta, 1.0), slope(start))
    return values * ratio[:, None], link(start)


def soft_voting(parts: Sequence[Explanation], in_probability: Sequence[bool], output: str) -> Explanation:
    """The explanation of ``logit(mean_i p_i)`` (a binary soft voting) from its members' explanations, each of the
    log-odds ``logit(p_i)`` or, where ``in_probability[i]``, of ``p_i`` itself (a forest's)."""
    from scipy.special import expit, logit

    def _sig_slope(z: np.ndarray) -> np.ndarray:
        s = expit(z)
        return s * (1 - s)

    def _logit_slope(p: np.ndarray) -> np.ndarray:
        return 1.0 / np.clip(p * (1 - p), 1e-300, None)

    probs, starts = [], []
    for part, is_p in zip(parts, in_probability):
        base = np.broadcast_to(np.asarray(part.base, dtype=float), (len(part.values),))
        v, b = (part.values, base) if is_p else _rescaled(part.values, base, expit, _sig_slope)
        probs.append(v)
        starts.append(b)
    mean_values, mean_base = np.mean(probs, axis=0), np.mean(starts, axis=0)
    values, base = _rescaled(mean_values, mean_base, logit, _logit_slope)
    methods = sorted({p.method for p in parts})
    return Explanation(parts[0].features, values, np.asarray(base, dtype=float), output,
                       "soft voting of the members (" + "; ".join(methods) + "), each member's contributions "
                       "carried in proportion through the sigmoid, averaged, then to the log-odds of the mean")
