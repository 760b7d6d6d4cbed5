"""Factor and content recommenders: PureSVD, implicit ALS, TF-IDF content.

All three score a user from their history alone, by folding it in: PureSVD projects the profile on the
item factors (``p V Vᵀ``); ALS solves the user's least-squares step against the fixed item factors
(the step ALS itself alternates); the content model averages the TF-IDF vectors of the user's items
(liked ones, weighted by the profile) and ranks items by cosine similarity. So a new interaction
changes the next recommendations at once, with no refit, and the saved model is the item side only.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ModelError
from ._base import MODELS, FitContext, Recommender, checked, checked_csr, csr_arrays, single_threaded_blas
from ._history import History


@MODELS.register("svd")
class PureSVD(Recommender):
    """PureSVD (Cremonesi et al. 2010): truncated SVD of the binary user × item matrix; a user's
    scores are their profile projected on the top ``factors`` item factors."""

    key = "svd"
    description = "PureSVD, truncated SVD of the interaction matrix (fold-in scoring)"
    defaults = {"factors": 64}
    grid = [{"factors": f} for f in (128, 64, 32)]  # largest first: the others are its leading factors

    def _fit(self, train: History, ctx: FitContext) -> None:
        from sklearn.utils.extmath import randomized_svd

        f = int(self.params["factors"])
        X = train.matrix()
        if f < 1 or min(X.shape) < 2:
            raise ModelError(f"svd needs factors >= 1 and at least 2 users and items, got factors={f}, data {X.shape}")
        if f >= min(X.shape):  # small data: as many factors as it has
            f = self.params["factors"] = min(X.shape) - 1
        _, _, vt = randomized_svd(X, f, n_iter=5, random_state=ctx.seed)
        self.V_ = np.ascontiguousarray(vt.T, dtype=np.float32)

    def derive(self, params: dict) -> "PureSVD | None":
        f = int(params.get("factors", self.params["factors"]))
        if set(params) - {"factors"} or f > self.V_.shape[1]:
            return None
        out = PureSVD(factors=f)
        out.V_, out.n_items, out.profile = np.ascontiguousarray(self.V_[:, :f]), self.n_items, self.profile
        return out

    def score(self, hist: History) -> np.ndarray:
        P = hist.matrix(self.profile)
        return np.asarray((P @ self.V_) @ self.V_.T, dtype=np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"V": self.V_}

    def set_arrays(self, arrays: dict[str, np.ndarray], n_items: int) -> None:
        self.n_items = n_items
        self.V_ = checked(arrays, "V", "f", 2, (n_items, None)).astype(np.float32)


@MODELS.register("als")
class ALS(Recommender):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) fitted with the ``implicit`` package;
    confidence ``1 + alpha * weight``; users are folded in against the item factors when scored."""

    key = "als"
    description = "implicit-feedback ALS (the implicit package), fold-in scoring"
    defaults = {"factors": 64, "regularization": 0.1, "alpha": 2.0, "iterations": 15}
    grid = [{"factors": 64, "regularization": r, "alpha": a} for r, a in ((0.1, 10.0), (0.1, 2.0), (1.0, 10.0))]

    def _fit(self, train: History, ctx: FitContext) -> None:
        from threadpoolctl import threadpool_limits

        try:
            from implicit.cpu.als import AlternatingLeastSquares
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise ModelError("als needs the implicit package: pip install implicit") from e
        p = self.params
        if int(p["factors"]) < 1 or float(p["regularization"]) < 0 or float(p["alpha"]) <= 0:
            raise ModelError(f"als needs factors >= 1, regularization >= 0 and alpha > 0, got {p}")
        with warnings.catch_warnings(), threadpool_limits(1, "blas"):
            warnings.simplefilter("ignore")
            model = AlternatingLeastSquares(factors=int(p["factors"]), regularization=float(p["regularization"]),
                                            alpha=float(p["alpha"]), iterations=int(p["iterations"]),
                                            random_state=ctx.seed, num_threads=max(1, ctx.threads),
                                            calculate_training_loss=False)
            model.fit(train.matrix(), show_progress=False)
        self.Y_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)

    def score(self, hist: History) -> np.ndarray:
        return self.user_factors(hist) @ self.Y_.T

    def user_factors(self, hist: History) -> np.ndarray:
        """Each row's least-squares user factors given the item factors (the ALS user step)."""
        with single_threaded_blas():  # many small solves: threads only add overhead
            return self._user_factors(hist)

    def _gram(self) -> tuple[np.ndarray, np.ndarray]:
        """The item factors (float64) and ``YᵀY + λI``, computed once per fitted model."""
        cached = getattr(self, "_gram_", None)
        if cached is None or cached[0] is not self.Y_:
            Y = self.Y_.astype(np.float64)
            cached = self._gram_ = (self.Y_, Y, Y.T @ Y + float(self.params["regularization"]) * np.eye(Y.shape[1]))
        return cached[1], cached[2]

    def _user_factors(self, hist: History) -> np.ndarray:
        Y, base = self._gram()
        alpha = float(self.params["alpha"])
        w = hist.weights(self.profile).astype(np.float64)
        out = np.zeros((hist.n_rows, Y.shape[1]))
        for r in range(hist.n_rows):
            a, b = hist.indptr[r], hist.indptr[r + 1]
            if a == b:
                continue
            Yu, c = Y[hist.items[a:b]], alpha * w[a:b]
            out[r] = np.linalg.solve(base + (Yu.T * c) @ Yu, Yu.T @ (1.0 + c))
        return out.astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"Y": self.Y_}

    def set_arrays(self, arrays: dict[str, np.ndarray], n_items: int) -> None:
        self.n_items = n_items
        self.Y_ = checked(arrays, "Y", "f", 2, (n_items, None)).astype(np.float32)


@MODELS.register("content")
class Content(Recommender):
    """Content-based: TF-IDF of the item text (``item_text_cols``); a user's profile is the weighted
    mean of the vectors of the items in their history; items ranked by cosine similarity to it."""

    key = "content"
    description = "TF-IDF on item text, user profile = weighted mean of their items"
    defaults = {"min_df": 1, "ngram_max": 1}
    collaborative = False

    def _fit(self, train: History, ctx: FitContext) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if ctx.item_text is None:
            raise ModelError("content needs item text: set item_text_cols (e.g. [title, genres]) and, if the text "
                             "is not in the interactions table, items (a table with the item column and the text)")
        if len(ctx.item_text) != train.n_items:
            raise ModelError(f"content: {len(ctx.item_text)} item texts for {train.n_items} items")
        vec = TfidfVectorizer(min_df=int(self.params["min_df"]), ngram_range=(1, int(self.params["ngram_max"])),
                              sublinear_tf=True, dtype=np.float32)
        try:
            T = vec.fit_transform([t or "" for t in ctx.item_text])
        except ValueError as e:  # empty vocabulary
            raise ModelError(f"content: the item text has no usable words ({e}); check item_text_cols") from None
        self.T_ = T.tocsr().astype(np.float32)

    def score(self, hist: History) -> np.ndarray:
        Q = np.asarray((hist.matrix(self.profile) @ self.T_).todense(), dtype=np.float32)
        norms = np.linalg.norm(Q, axis=1, keepdims=True)
        Q = np.divide(Q, norms, out=np.zeros_like(Q), where=norms > 0)
        return np.ascontiguousarray((self.T_ @ Q.T).T, dtype=np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {**csr_arrays("T", self.T_), "T_shape": np.asarray(self.T_.shape, dtype=np.int64)}

    def set_arrays(self, arrays: dict[str, np.ndarray], n_items: int) -> None:
        self.n_items = n_items
        shape = checked(arrays, "T_shape", "i", 1, (2,))
        if int(shape[0]) != n_items or not 0 < int(shape[1]) <= 10_000_000:
            raise ModelError(f"model.npz: content matrix shape {tuple(shape)} does not fit {n_items} items")
        self.T_ = checked_csr(arrays, "T", (n_items, int(shape[1])))
