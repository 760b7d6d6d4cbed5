"""Users' interaction histories and the profiles models score with.

A :class:`History` holds each user's interactions in time order as CSR arrays (``indptr``, ``items``,
``ratings``): the rows of a sparse user × item matrix that remember the order. Evaluation, the saved
model and real-time updates all go through it, so a user's profile is one small, replaceable thing.

A :class:`ProfileSpec` says how a history becomes the weights a model scores with: interactions rated
below the relevance threshold weigh ``negative_weight``, and with ``half_life`` (a fraction of the
user's history) older interactions count less (the newest weighs 1). Both are tuned on validation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import ModelError


@dataclass(frozen=True)
class ProfileSpec:
    """How a user's history becomes scoring weights (see the module docstring)."""

    half_life: float | None = None
    negative_weight: float = 1.0

    def __post_init__(self):
        hl, nw = self.half_life, self.negative_weight
        if hl is not None and not (isinstance(hl, (int, float)) and math.isfinite(hl) and hl > 0):
            raise ModelError(f"profile half_life must be a positive number or None, got {hl!r}")
        if not (isinstance(nw, (int, float)) and 0.0 <= nw <= 1.0):
            raise ModelError(f"profile negative_weight must be between 0 and 1, got {nw!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"half_life": self.half_life, "negative_weight": self.negative_weight}

    @classmethod
    def from_dict(cls, d: Any) -> "ProfileSpec":
        if not isinstance(d, dict):
            raise ModelError(f"a profile spec must be an object with half_life and negative_weight, got {d!r}")
        hl = d.get("half_life")
        return cls(None if hl is None else hl, d.get("negative_weight", 1.0))

    def label(self) -> str:
        hl = "no recency decay" if self.half_life is None else f"half-life {self.half_life:g} of the history"
        return f"{hl}, disliked weight {self.negative_weight:g}"


class History:
    """Interactions per user in time order: CSR arrays over ``n_items`` columns.

    Parameters
    ----------
    indptr : int64, ``n_rows + 1`` offsets.
    items : int32 item codes, oldest first within each row.
    ratings : float32 ratings (NaN for implicit feedback).
    n_items : number of item columns.
    threshold : ratings at or above it are liked (None: every interaction is liked).
    """

    def __init__(self, indptr: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_items: int,
                 threshold: float | None = None):
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.items = np.asarray(items, dtype=np.int32)
        self.ratings = np.asarray(ratings, dtype=np.float32)
        self.n_items, self.threshold = int(n_items), threshold

    @classmethod
    def from_codes(cls, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, order: np.ndarray | None,
                   n_users: int, n_items: int, threshold: float | None = None) -> "History":
        """Rows for users ``0..n_users-1`` from parallel arrays; ``order`` sorts within a user (ties and
        ``None`` keep the given order)."""
        users = np.asarray(users, dtype=np.int64)
        key = np.zeros(len(users)) if order is None else np.asarray(order, dtype=float)
        idx = np.lexsort((np.arange(len(users)), key, users))
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
        return cls(indptr, np.asarray(items)[idx], np.asarray(ratings, dtype=np.float32)[idx], n_items, threshold)

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def counts(self) -> np.ndarray:
        """Interactions per row."""
        return np.diff(self.indptr)

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(items, ratings)`` of row ``i``, oldest first."""
        a, b = self.indptr[i], self.indptr[i + 1]
        return self.items[a:b], self.ratings[a:b]

    def rows(self, rows: Sequence[int] | np.ndarray) -> "History":
        """A history of the given rows, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, counts = self.indptr[rows], self.counts()[rows]
        return self._gather(starts, counts)

    def last(self, n: np.ndarray | int) -> "History":
        """Each row cut to its ``n`` most recent interactions (``n`` per row or one number)."""
        counts = np.minimum(self.counts(), np.broadcast_to(np.asarray(n, dtype=np.int64), (self.n_rows,)))
        return self._gather(self.indptr[1:] - counts, counts)

    def _gather(self, starts: np.ndarray, counts: np.ndarray) -> "History":
        indptr = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        idx = np.repeat(starts - indptr[:-1], counts) + np.arange(indptr[-1])
        return History(indptr, self.items[idx], self.ratings[idx], self.n_items, self.threshold)

    @staticmethod
    def concat(parts: Sequence["History"]) -> "History":
        """The rows of several histories (same items), one after another."""
        counts = np.concatenate([p.counts() for p in parts])
        indptr = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return History(indptr, np.concatenate([p.items for p in parts]), np.concatenate([p.ratings for p in parts]),
                       parts[0].n_items, parts[0].threshold)

    def liked(self) -> np.ndarray:
        """Per interaction: rated at or above the threshold (all True for implicit feedback)."""
        if self.threshold is None:
            return np.ones(len(self.items), dtype=bool)
        return ~(self.ratings < self.threshold)  # NaN (implicit) counts as liked

    def weights(self, spec: ProfileSpec | None = None) -> np.ndarray:
        """Per-interaction weights under ``spec`` (None: all 1)."""
        w = np.ones(len(self.items), dtype=np.float32)
        if spec is None:
            return w
        if spec.negative_weight != 1.0:
            w[~self.liked()] = spec.negative_weight
        if spec.half_life is not None and len(w):
            counts = self.counts()
            size = np.repeat(counts, counts)
            age = np.repeat(self.indptr[1:], counts) - 1 - np.arange(len(w))
            w *= np.exp2(-age / (spec.half_life * size)).astype(np.float32)
        return w

    def matrix(self, spec: ProfileSpec | None = None, dtype: Any = np.float32) -> sp.csr_matrix:
        """The ``n_rows × n_items`` sparse matrix of weights (1 everywhere without ``spec``)."""
        m = sp.csr_matrix((self.weights(spec).astype(dtype), self.items.copy(), self.indptr.copy()),
                          shape=(self.n_rows, self.n_items))
        m.sum_duplicates()  # sorts in place: the copies keep this history's time order intact
        return m

    def seen_mask_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(row, item)`` index arrays of every interaction, to exclude seen items from rankings."""
        return np.repeat(np.arange(self.n_rows), self.counts()), self.items
