"""The multivariate check: a classifier trained to tell reference rows from current rows.

On held-out rows its ROC-AUC says how separable the two tables are as a whole: 0.5 means they
cannot be told apart, 1.0 that every row gives away its table. It sees joint changes that no
single column shows (a broken relation between two columns). The 95% interval is DeLong's; the
columns it uses are ranked by permutation importance (the AUC lost when a column is shuffled).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..evaluation import auc_interval, rank_auc

MAX_CATEGORIES = 250  # HistGradientBoosting codes categories in at most 255 bins
IMPORTANCE_ROWS = 5000  # held-out rows the permutation importance shuffles


@dataclass
class DomainResult:
    """Held-out ROC-AUC of the reference-vs-current classifier, its 95% interval and what it used."""

    auc: float
    ci_low: float
    ci_high: float
    n_train: int
    n_test: int
    importance: pd.DataFrame = field(default_factory=pd.DataFrame)
    drifted: bool = False
    threshold: float = 0.55
    note: str = ""

    def describe(self) -> str:
        verdict = "the tables differ" if self.drifted else "no multivariate drift"
        return (f"domain classifier ROC-AUC {self.auc:.3f} (95% CI {self.ci_low:.3f}-{self.ci_high:.3f}) on "
                f"{self.n_test:,} held-out rows ({self.n_train:,} trained on): {verdict} (flagged at >= "
                f"{self.threshold:g} with the interval above 0.5; 0.5 = indistinguishable)")


def _encode(ref: pd.DataFrame, cur: pd.DataFrame, kinds: dict[str, str]) -> tuple[pd.DataFrame, list[bool]]:
    """Both tables stacked as numbers: floats for numbers and dates, codes of the most frequent
    categories (the rest pooled, missing as NaN) for the others."""
    from ..data import as_float

    cols, is_cat = {}, []
    for c, kind in kinds.items():
        s = pd.concat([ref[c], cur[c]], ignore_index=True)
        if kind in ("numeric", "datetime"):
            cols[c] = as_float(s)
            is_cat.append(False)
            continue
        codes, uniq = pd.factorize(s, sort=False)
        if len(uniq) > MAX_CATEGORIES:
            counts = np.bincount(codes[codes >= 0], minlength=len(uniq))
            rank = np.empty(len(uniq), dtype=np.int64)
            rank[np.argsort(-counts, kind="stable")] = np.arange(len(uniq))
            codes = np.where(codes >= 0, np.minimum(rank[np.maximum(codes, 0)], MAX_CATEGORIES), -1)
        cols[c] = np.where(codes >= 0, codes, np.nan).astype(float)
        is_cat.append(True)
    return pd.DataFrame(cols), is_cat


def _permutation_importance(model, X: pd.DataFrame, y: np.ndarray, base: float, seed: int,
                            repeats: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for c in X.columns:
        drops = []
        original = X[c].to_numpy().copy()
        for _ in range(repeats):
            X[c] = rng.permutation(original)
            drops.append(base - rank_auc(y, model.predict_proba(X)[:, 1]))
        X[c] = original
        rows.append({"column": c, "importance": float(np.mean(drops)), "std": float(np.std(drops))})
    return pd.DataFrame(rows).sort_values("importance", ascending=False, ignore_index=True)


def domain_classifier(ref: pd.DataFrame, cur: pd.DataFrame, kinds: dict[str, str], *, seed: int = 0,
                      max_rows: int = 20_000, threshold: float = 0.55) -> DomainResult:
    """Train a gradient-boosted classifier on a seeded sample of at most ``max_rows`` rows per table
    (two thirds for training, one third held out) to tell current rows (1) from reference rows (0)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    a = ref.iloc[np.sort(rng.choice(len(ref), min(len(ref), max_rows), replace=False))]
    b = cur.iloc[np.sort(rng.choice(len(cur), min(len(cur), max_rows), replace=False))]
    X, is_cat = _encode(a, b, kinds)
    y = np.r_[np.zeros(len(a), dtype=int), np.ones(len(b), dtype=int)]
    if min(len(a), len(b)) < 10 or not kinds:
        return DomainResult(float("nan"), float("nan"), float("nan"), 0, 0, threshold=threshold,
                            note="too few rows or columns for the domain classifier (10 per table needed)")
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=1 / 3, stratify=y, random_state=seed)
    model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=40,
                                           l2_regularization=1.0, categorical_features=is_cat, early_stopping=True,
                                           validation_fraction=0.2, n_iter_no_change=10, random_state=seed)
    with threadpool_limits(1):  # small batches: OpenMP threads cost more than they save (and spin on busy cores)
        model.fit(X_tr, y_tr)
        X_te = X_te.reset_index(drop=True)
        auc, lo, hi = auc_interval(y_te, model.predict_proba(X_te)[:, 1])
        few = min(len(y_te), IMPORTANCE_ROWS)
        imp = _permutation_importance(model, X_te.iloc[:few].copy(), y_te[:few], rank_auc(y_te[:few], model.predict_proba(
            X_te.iloc[:few])[:, 1]), seed)
    return DomainResult(auc, lo, hi, len(y_tr), len(y_te), imp, drifted=bool(auc >= threshold and lo > 0.5),
                        threshold=threshold)
