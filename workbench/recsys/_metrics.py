"""Ranking metrics over full rankings: every item a user has not interacted with is a candidate.

No sampled negatives. Per user, from the top-``K`` list and the set of relevant held-out items:
precision, recall, NDCG (binary gains), MAP (AP@k normalized by ``min(|relevant|, k)``) and hit rate
at every ``k ≤ K``; MRR from the rank of the first relevant item in the whole ranking; novelty (mean
self-information ``-log2((users of the item + 1) / (users + 1))`` of the recommended items). Catalog
coverage is a property of all lists together. 95% confidence intervals come from a bootstrap over users.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from ._history import History

METRIC_LABELS = {"ndcg": "NDCG", "recall": "Recall", "precision": "Precision", "map": "MAP", "hr": "Hit rate",
                 "mrr": "MRR", "novelty": "Novelty", "coverage": "Coverage"}
AT_K = ("ndcg", "recall", "precision", "map", "hr")


@dataclass
class Targets:
    """The relevant held-out items of each evaluated user (rows in ``users`` order), as CSR arrays."""

    users: np.ndarray
    indptr: np.ndarray
    items: np.ndarray

    @property
    def n(self) -> int:
        return len(self.users)

    def counts(self) -> np.ndarray:
        return np.diff(self.indptr)

    def keys(self, n_items: int) -> np.ndarray:
        """``row * n_items + item`` for every relevant pair, sorted (for fast membership tests)."""
        rows = np.repeat(np.arange(self.n, dtype=np.int64), self.counts())
        return np.sort(rows * n_items + self.items)

    def subset(self, rows: np.ndarray) -> "Targets":
        h = History(self.indptr, self.items, np.zeros(len(self.items)), 0).rows(rows)
        return Targets(self.users[rows], h.indptr, h.items.astype(np.int64))

    @staticmethod
    def concat(parts: Sequence["Targets"]) -> "Targets":
        h = History.concat([History(p.indptr, p.items, np.zeros(len(p.items)), 0) for p in parts])
        return Targets(np.concatenate([p.users for p in parts]), h.indptr, h.items.astype(np.int64))


def make_targets(users: np.ndarray, items: np.ndarray, n_users: int) -> Targets:
    """Targets of every user with at least one relevant item, from parallel (user, item) arrays."""
    h = History.from_codes(users, items, np.zeros(len(items)), None, n_users, 0)
    keep = np.flatnonzero(h.counts() > 0)
    sub = h.rows(keep)
    return Targets(keep.astype(np.int64), sub.indptr, sub.items.astype(np.int64))


def exclude_seen(scores: np.ndarray, seen: History, tiebreak: np.ndarray | None = None) -> np.ndarray:
    """Scores as float64 with every seen item at ``-inf``; ties broken towards ``tiebreak`` (popularity)."""
    s = scores.astype(np.float64)
    if tiebreak is not None:
        t = np.asarray(tiebreak, dtype=np.float64)
        s += 1e-9 * t / max(float(t.max()), 1.0)
    rows, items = seen.seen_mask_rows()
    s[rows, items] = -np.inf
    return s


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best item indices of each row, best first (``-inf`` entries only when nothing else is left).

    Large batches use ``torch.topk`` when torch is installed (several times faster than numpy's
    ``argpartition`` on a full ranking); small ones, like a single user's, stay in numpy.
    """
    k = min(k, scores.shape[1])
    if scores.size >= 1 << 20:
        try:
            import torch
        except ImportError:  # pragma: no cover - torch is a dependency of workbench
            torch = None
        if torch is not None:
            return torch.topk(torch.from_numpy(np.ascontiguousarray(scores)), k, dim=1).indices.numpy()
    part = np.argpartition(scores, scores.shape[1] - k, axis=1)[:, -k:]
    order = np.argsort(-np.take_along_axis(scores, part, 1), axis=1, kind="stable")
    return np.take_along_axis(part, order, 1)


def user_metrics(scores: np.ndarray, targets: Targets, K: int, popularity: np.ndarray, n_train_users: int,
                 ks: Sequence[int]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-user metrics of masked ``scores`` (see :func:`exclude_seen`).

    Returns ``({metric: (users, len(ks)) array for at-k metrics, (users,) for mrr}, top)`` where
    ``top`` is each user's top-``K`` list; novelty is reported at every ``k`` too.
    """
    n, n_items = scores.shape
    top = top_k(scores, K)
    keys = targets.keys(n_items)
    hits = np.isin(np.arange(n, dtype=np.int64)[:, None] * n_items + top, keys)
    n_rel = targets.counts().astype(np.float64)
    ranks = np.arange(1, top.shape[1] + 1)
    disc = 1.0 / np.log2(ranks + 1)
    cum = np.cumsum(hits, 1)
    dcg = np.cumsum(hits * disc, 1)
    idcg = np.cumsum(disc)
    ap = np.cumsum(hits * cum / ranks, 1)
    info = -np.log2((np.asarray(popularity, dtype=np.float64)[top] + 1.0) / (n_train_users + 1.0))
    nov = np.cumsum(info, 1) / ranks
    ks = [min(int(k), top.shape[1]) for k in ks]
    out = {}
    for name, f in (("precision", lambda k: cum[:, k - 1] / k), ("recall", lambda k: cum[:, k - 1] / n_rel),
                    ("ndcg", lambda k: dcg[:, k - 1] / idcg[np.minimum(n_rel, k).astype(int) - 1]),
                    ("map", lambda k: ap[:, k - 1] / np.minimum(n_rel, k)), ("hr", lambda k: cum[:, k - 1] > 0),
                    ("novelty", lambda k: nov[:, k - 1])):
        out[name] = np.column_stack([f(k) for k in ks]).astype(np.float64)
    out["mrr"] = 1.0 / first_relevant_rank(scores, targets)
    return out, top


def first_relevant_rank(scores: np.ndarray, targets: Targets) -> np.ndarray:
    """1-based rank of each user's best-scored relevant item in the full ranking (ties count against)."""
    rows = np.repeat(np.arange(targets.n), targets.counts())
    rel_scores = scores[rows, targets.items]
    best = np.full(targets.n, -np.inf)
    np.maximum.at(best, rows, rel_scores)
    return (scores > best[:, None]).sum(1) + 1.0


def coverage(top: np.ndarray, k: int, n_items: int) -> float:
    """Share of the catalog that appears in at least one top-``k`` list."""
    return float(len(np.unique(top[:, :k]))) / max(1, n_items)


@lru_cache(maxsize=8)
def _resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    """How often each of ``n`` users is drawn in each of ``n_boot`` bootstrap samples (the same draws
    for every model: paired intervals)."""
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    counts = np.zeros((n_boot, n), dtype=np.float64)
    np.add.at(counts, (np.repeat(np.arange(n_boot), n), idx.ravel()), 1.0)
    return counts


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> np.ndarray:
    """Percentile bootstrap CIs of the mean over users (rows) for each column: ``(2, columns)``."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    n = values.shape[0]
    if n == 0:
        return np.full((2, values.shape[1]), np.nan)
    means = _resamples(n, n_boot, seed) @ values / n
    a = (1 - level) / 2
    return np.quantile(means, [a, 1 - a], axis=0)


def ndcg_at(scores: np.ndarray, targets: Targets, k: int = 10) -> float:
    """Mean NDCG@k of masked ``scores`` (the validation objective)."""
    n, n_items = scores.shape
    top = top_k(scores, k)
    hits = np.isin(np.arange(n, dtype=np.int64)[:, None] * n_items + top, targets.keys(n_items))
    disc = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    idcg = np.cumsum(disc)[np.minimum(targets.counts(), top.shape[1]) - 1]
    return float(np.mean((hits * disc).sum(1) / idcg)) if n else float("nan")
