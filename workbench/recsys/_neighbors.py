"""Item-to-item recommenders: most popular, item-kNN (cosine with shrinkage) and EASE (closed form).

Item-kNN and EASE both learn an item × item matrix ``W`` and score a user as ``profile @ W``, so a new
interaction changes the next recommendations at once, without a refit, and one user's scores cost a
few hundred sparse rows. EASE (Steck 2019) solves ``min ||X - XB||² + λ||B||²`` with ``diag(B) = 0`` in
closed form: ``P = (XᵀX + λI)⁻¹``, ``B = -P / diag(P)``; items with fewer than ``min_support`` training
interactions stay out of the inversion (their scores are 0), and each target item keeps its
``max_neighbors`` largest weights, so the saved matrix is sparse.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import ModelError
from ._base import MODELS, FitContext, Recommender, checked, checked_csr, csr_arrays
from ._history import History
from ._metrics import top_k


@MODELS.register("popularity")
class Popularity(Recommender):
    """Most popular first: the number of training users who interacted with each item."""

    key = "popularity"
    description = "most interacted-with items first (not personalized)"
    tune_profile = False
    collaborative = False

    def _fit(self, train: History, ctx: FitContext) -> None:
        self.counts_ = np.bincount(train.items, minlength=train.n_items).astype(np.float32)

    def score(self, hist: History) -> np.ndarray:
        return np.broadcast_to(self.counts_, (hist.n_rows, self.n_items)).copy()

    def arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts_}

    def set_arrays(self, arrays: dict[str, np.ndarray], n_items: int) -> None:
        self.n_items = n_items
        self.counts_ = checked(arrays, "counts", "f", 1, (n_items,)).astype(np.float32)


def _top_per_row(block: np.ndarray, k: int, by_abs: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``k`` largest entries of each row (by magnitude with ``by_abs``)."""
    idx = top_k(np.abs(block) if by_abs else block, k)
    return idx, np.take_along_axis(block, idx, 1)


def _sparse_from_rows(idx_blocks: list[np.ndarray], val_blocks: list[np.ndarray], n: int,
                      targets: np.ndarray | None = None) -> sp.csr_matrix:
    """``W`` with ``W[i, j] = v`` for each target row ``j`` and its neighbor ``i``: rows are profile items."""
    idx, val = np.vstack(idx_blocks), np.vstack(val_blocks)
    rows = np.repeat(np.arange(idx.shape[0]) if targets is None else targets, idx.shape[1])
    keep = val.ravel() != 0
    m = sp.csr_matrix((val.ravel()[keep], (idx.ravel()[keep], rows[keep])), shape=(n, n), dtype=np.float32)
    m.sum_duplicates()
    return m


def _keep_top_per_column(W: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """``W`` with each column (target item) cut to its ``k`` largest entries."""
    T = W.T.tocsr()
    rows = np.repeat(np.arange(T.shape[0]), np.diff(T.indptr))
    order = np.lexsort((-T.data, rows))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - T.indptr[rows[order]]
    keep = rank < k
    out = sp.csr_matrix((T.data[keep], (rows[keep], T.indices[keep])), shape=T.shape, dtype=np.float32)
    return out.T.tocsr()


class _ItemItem(Recommender):
    """Scores = profile weights @ ``W_`` (a sparse item × item matrix)."""

    def score(self, hist: History) -> np.ndarray:
        prof = hist.matrix(self.profile)
        return np.asarray((prof @ self.W_).todense(), dtype=np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        return csr_arrays("W", self.W_)

    def set_arrays(self, arrays: dict[str, np.ndarray], n_items: int) -> None:
        self.n_items = n_items
        self.W_ = checked_csr(arrays, "W", (n_items, n_items))


@MODELS.register("item_knn")
class ItemKNN(_ItemItem):
    """Item-kNN: cosine similarity of the items' user vectors, shrunk by ``shrink`` (less trust in
    similarities built on few common users), each item keeping its ``k`` nearest neighbors."""

    key = "item_knn"
    description = "item-based kNN, cosine similarity with shrinkage"
    defaults = {"k": 100, "shrink": 10.0}
    grid = [{"k": k, "shrink": s} for s in (20.0, 0.0) for k in (200, 50)]  # the smaller k derive from the larger

    def derive(self, params: dict) -> "ItemKNN | None":
        k = int(params.get("k", self.params["k"]))
        if float(params.get("shrink", self.params["shrink"])) != float(self.params["shrink"]) or k > self.params["k"]:
            return None
        out = ItemKNN(k=k, shrink=self.params["shrink"])
        out.W_, out.n_items, out.profile = _keep_top_per_column(self.W_, k), self.n_items, self.profile
        return out

    def _fit(self, train: History, ctx: FitContext) -> None:
        k, shrink = int(self.params["k"]), float(self.params["shrink"])
        if k < 1 or shrink < 0:
            raise ModelError(f"item_knn needs k >= 1 and shrink >= 0, got k={k}, shrink={shrink}")
        X = train.matrix()
        G = (X.T @ X).tocsr()
        norms = np.sqrt(G.diagonal()).astype(np.float32)
        n = train.n_items
        idx_blocks, val_blocks = [], []
        for start in range(0, n, 1024):
            stop = min(n, start + 1024)
            block = G[start:stop].toarray().astype(np.float32)
            block /= norms[start:stop, None] * norms[None, :] + shrink + 1e-9
            block[np.arange(stop - start), np.arange(start, stop)] = 0.0
            idx, val = _top_per_row(block, k)
            idx_blocks.append(idx)
            val_blocks.append(val)
        self.W_ = _sparse_from_rows(idx_blocks, val_blocks, n)


@MODELS.register("ease")
class EASE(_ItemItem):
    """EASE: a closed-form linear item-to-item model with L2 weight ``lam`` (see the module docstring)."""

    key = "ease"
    description = "EASE, closed-form linear item-item model (Steck 2019)"
    defaults = {"lam": 250.0, "min_support": 5, "max_neighbors": 512}
    grid = [{"lam": lam} for lam in (250.0, 500.0, 1000.0)]
    ordered_grid = True  # stronger regularization only while it helps: usually two fits, not three

    def _fit(self, train: History, ctx: FitContext) -> None:
        from scipy.linalg import lapack

        lam, support, top = float(self.params["lam"]), int(self.params["min_support"]), self.params["max_neighbors"]
        if lam <= 0 or support < 1:
            raise ModelError(f"ease needs lam > 0 and min_support >= 1, got lam={lam}, min_support={support}")
        X = train.matrix()
        keep = np.flatnonzero(np.bincount(train.items, minlength=train.n_items) >= support)
        if len(keep) < 2:
            raise ModelError(f"ease: fewer than 2 items have {support}+ training interactions; lower min_support")
        Xk = X[:, keep]
        G = (Xk.T @ Xk).toarray().astype(np.float32)
        G[np.diag_indices_from(G)] += lam
        c, info = lapack.spotrf(G, lower=False, overwrite_a=True)
        if info == 0:
            P, info = lapack.spotri(c, lower=False, overwrite_c=True)
        if info != 0:
            raise ModelError(f"ease: the regularized Gram matrix could not be inverted (LAPACK info {info}); "
                             "raise lam")
        self._store(P, keep, train.n_items, top)

    def _store(self, P: np.ndarray, keep: np.ndarray, n: int, top: Any) -> None:
        """``W_`` in the full item space from ``P`` (upper triangle valid): ``B = -P / diag(P)`` with a zero
        diagonal, built a block of target columns at a time, each target keeping its ``top`` largest |weights|."""
        m = P.shape[0]
        top = m if top in (None, 0) else int(top)
        diag = np.diag(P).copy()
        rows = np.arange(m)[:, None]
        idx_blocks, val_blocks = [], []
        for start in range(0, m, 1024):
            cols = np.arange(start, min(m, start + 1024))
            block = np.where(rows <= cols[None, :], P[:, cols], P[cols, :].T) / -diag[cols][None, :]
            block[cols, cols - start] = 0.0
            idx, val = _top_per_row(np.ascontiguousarray(block.T), top, by_abs=True)  # rows: targets
            idx_blocks.append(keep[idx])
            val_blocks.append(val)
        self.W_ = _sparse_from_rows(idx_blocks, val_blocks, n, targets=keep)
