"""A saved recommender behind the common ``predict``, plus real-time profile updates.

``predict(users)`` gives one row per recommended item: the user, ``rank``, the item (and its label,
e.g. the title), ``score``, ``cold_start`` and ``error``. Seen items are never recommended. A user the
model does not know gets the popularity fallback with ``cold_start=True`` (never an error row); so
does a known user with no interactions. ``cold_start`` is also true for users with at most
``cold_start_max`` interactions (the hybrid blends content and popularity in for them).

Real time: ``update(user, item, rating)`` appends an interaction to the user's profile (their history)
and the very next ``recommend``/``predict`` uses it, with no refit: item-kNN and EASE score
``profile @ W``, the factor and content models fold the profile in. ``profile(user)`` returns the
profile as plain JSON-ready data and ``set_profile(user, profile)`` replaces it, so a server with
several workers can keep profiles in a shared store (Redis) and load them per request.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..evaluation import full
from ..models import ModelCard, Predictor
from ._base import single_threaded_blas
from ._history import History
from ._metrics import exclude_seen, top_k
from ._saved import read_parts


def _count(details: dict, key: str, default: int, most: int, folder: Any, least: int = 0) -> int:
    """A whole-number setting of the card's details (absent: ``default``), refused by name otherwise."""
    value = details.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= most:
        raise ModelError(f"{Path(folder) / 'model.json'}: details.{key} must be a whole number from {least} to {most}, "
                         f"got {value!r:.40}; refusing the model")
    return value


class RecommenderPredictor(Predictor):
    """A loaded recommender (see the module docstring)."""

    def __init__(self, folder: str | Path, card: ModelCard):
        super().__init__(folder, card)
        users = card.input_schema
        if users.type != "users":
            raise ModelError(f"{Path(folder) / 'model.json'}: a recommender takes users (input_schema type 'users'), "
                             f"got {users.type or 'none'!r}")
        parts = read_parts(Path(folder), card)
        self.model, self.history, self.fallback, self.labels = parts.model, parts.history, parts.fallback, parts.labels
        self.user_ids, self.item_ids = parts.user_ids, parts.item_ids
        self.numeric_users = parts.user_ids.dtype.kind == "i"
        self._rows = {k: i for i, k in enumerate(parts.user_ids.tolist())}
        self._items = {k: i for i, k in enumerate(parts.item_ids.tolist())}
        self._profiles: dict[Any, tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()
        d = card.details
        self.k = _count(d, "k", 10, 10_000, folder, least=1)
        self.cold_start_max = _count(d, "cold_start_max", 5, 1_000_000, folder)
        self.user_col, self.item_col = users.user_col, users.item_col
        self.label_col = d.get("label_col") if self.labels is not None else None

    # ------------------------------------------------------------------------------------ ids
    def user_key(self, user: Any) -> Any:
        """The user id as the model stores it (numbers for numeric ids; text otherwise), or None if missing."""
        if user is None or (isinstance(user, float) and math.isnan(user)) or (isinstance(user, str) and not user.strip()):
            return None
        if isinstance(user, np.generic):
            user = user.item()
        if self.numeric_users:
            try:
                f = float(user)
                if math.isfinite(f) and f == int(f):
                    return int(f)
            except (TypeError, ValueError):
                pass
        return str(user).strip() if isinstance(user, str) else str(user)

    def _item_code(self, item: Any) -> int:
        key = item.item() if isinstance(item, np.generic) else item
        code = self._items.get(key)
        if code is None and isinstance(key, (str, float)) and self.item_ids.dtype.kind == "i":
            try:
                code = self._items.get(int(float(key)))
            except ValueError:
                code = None
        if code is None:
            code = self._items.get(str(key))
        if code is None:
            raise ModelError(f"item {item!r} is not in the model's catalog ({len(self.item_ids)} items); only items "
                             "seen in training can be recommended or used in a profile; fix: retrain with it")
        return int(code)

    # ------------------------------------------------------------------------------- profiles
    def _history_of(self, key: Any) -> tuple[np.ndarray, np.ndarray]:
        if key in self._profiles:
            return self._profiles[key]
        row = self._rows.get(key)
        if row is None:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        return self.history.row(row)

    def profile(self, user: Any) -> dict[str, Any]:
        """The user's interactions, oldest first, as JSON-ready data (``items``: ids, ``ratings``: numbers
        or None for implicit feedback)."""
        key = self.user_key(user)
        items, ratings = self._history_of(key)
        return {"user": key, "items": self.item_ids[items].tolist(),
                "ratings": [None if r != r else float(r) for r in ratings.tolist()]}

    def set_profile(self, user: Any, profile: dict[str, Any]) -> dict[str, Any]:
        """Replace the user's profile with ``profile`` (as :meth:`profile` returns it); returns it checked."""
        key = self.user_key(user)
        if key is None:
            raise ModelError("set_profile needs a user id")
        if not isinstance(profile, dict) or not isinstance(profile.get("items"), list):
            raise ModelError(f"a profile is an object with an 'items' list (and optional 'ratings'), got {profile!r}")
        items = np.asarray([self._item_code(i) for i in profile["items"]], dtype=np.int32)
        ratings = _ratings(profile.get("ratings"), len(items))
        _, last = np.unique(items[::-1], return_index=True)  # a repeated item keeps its latest position
        keep = np.sort(len(items) - 1 - last)
        with self._lock:
            self._profiles[key] = (items[keep], ratings[keep])
        return self.profile(key)

    def update(self, user: Any, item: Any, rating: float | None = None) -> dict[str, Any]:
        """Add ``(item, rating)`` as the user's newest interaction (a repeated item moves to the end with
        the new rating); the next recommendations use it at once. Returns the new profile."""
        key = self.user_key(user)
        if key is None:
            raise ModelError("update needs a user id")
        code = self._item_code(item)
        value = _ratings([rating], 1)[0]
        with self._lock:
            items, ratings = self._history_of(key)
            keep = items != code
            self._profiles[key] = (np.append(items[keep], np.int32(code)), np.append(ratings[keep], value))
        return self.profile(key)

    def reset(self, user: Any = None) -> None:
        """Forget real-time updates (of one user, or of everyone)."""
        with self._lock:
            if user is None:
                self._profiles.clear()
            else:
                self._profiles.pop(self.user_key(user), None)

    # ------------------------------------------------------------------------------ recommending
    def _histories(self, keys: Sequence[Any]) -> History:
        rows = [self._history_of(k) for k in keys]
        counts = np.array([len(r[0]) for r in rows], dtype=np.int64)
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        items = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int32)
        ratings = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.float32)
        return History(indptr, items, ratings, len(self.item_ids), self.history.threshold)

    def _top(self, keys: Sequence[Any], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        hist = self._histories(keys)
        if len(keys) <= 16:  # a request: BLAS threads cost more than the products they split
            with single_threaded_blas():
                scores = self.model.score(hist)
        else:
            scores = self.model.score(hist)
        empty = hist.counts() == 0
        scores[empty] = self.fallback
        masked = exclude_seen(scores, hist, self.fallback)
        top = top_k(masked, k)
        return top, np.take_along_axis(scores, top, 1), np.take_along_axis(masked, top, 1) > -np.inf

    def recommend(self, user: Any, k: int | None = None) -> pd.DataFrame:
        """The top-``k`` items for one user (see :meth:`predict`)."""
        return self.predict([user], k=k)

    def predict(self, inputs: Any, k: int | None = None) -> pd.DataFrame:
        """Top-``k`` recommendations for each user in ``inputs`` (ids, a Series, or a DataFrame with the
        training user column or a single column): one row per (user, rank)."""
        k = self.k if k is None else int(k)
        if k < 1:
            raise ModelError(f"k must be at least 1, got {k}")
        users = self._user_values(inputs)
        keys = [self.user_key(u) for u in users]
        frames = []
        for start in range(0, len(keys), 512):
            chunk = keys[start:start + 512]
            ok = [i for i, key in enumerate(chunk) if key is not None]
            top, scores, valid = self._top([chunk[i] for i in ok], k) if ok else (None, None, None)
            frames.append(self._frame(users[start:start + 512], chunk, ok, top, scores, valid))
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0] if frames else self._empty()

    @property
    def explains(self) -> bool:
        from ._why import explainable

        return explainable(self.model)

    def explain(self, inputs: Any, top: int = 3, k: int | None = None) -> pd.DataFrame:
        """:meth:`predict` plus why each item is recommended: the ``top`` history items contributing most to its
        score (``explain_<i>_item``: the item's label, or its id; ``explain_<i>_value``: its part of the score;
        empty for an item the history does not support, e.g. a fallback). See :mod:`._why`."""
        from ..models._explain import check_k
        from ._why import contributions, explainable, top_reasons

        top = check_k(top)
        if not explainable(self.model):
            raise ModelError(f"a {type(self.model).__name__} recommender's scores are not a sum over the user's history: "
                             "explanations cover item_knn, ease, svd and content")
        frame = self.predict(inputs, k=k)
        names = [n for i in range(1, top + 1) for n in (f"explain_{i}_item", f"explain_{i}_value")]
        cells: list[list] = [[None] * len(frame) for _ in names]
        shown = self.labels if self.labels is not None else self.item_ids
        ok = frame["error"].isna().to_numpy()
        for key in pd.unique(frame.loc[ok, self.user_col]):
            rows = np.flatnonzero(ok & (frame[self.user_col] == key).to_numpy())
            codes = np.array([self._item_code(v) for v in frame[self.item_col].to_numpy()[rows]], dtype=np.int64)
            h, contrib = contributions(self.model, self._histories([key]), codes)
            for r, reasons in zip(rows.tolist(), top_reasons(h, contrib, top)):
                for i, (code, value) in enumerate(reasons):
                    cells[2 * i][r] = _plain(shown[code])
                    cells[2 * i + 1][r] = value
        return frame.assign(**dict(zip(names, cells)))

    def explain_files(self, paths: Sequence[str], explain: Any) -> pd.DataFrame:
        """:meth:`predict_files` with the top ``explain`` history items behind each recommendation."""
        from ..data import load_dataset
        from ..models._explain import check_k

        top = check_k(explain)
        frames = [load_dataset(p).frame for p in paths]
        for p, f in zip(paths, frames):
            self._user_values(f, where=str(p))
        return self.explain(frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True), top)

    def summary(self, frame: pd.DataFrame) -> str:
        """One line for ``workbench predict``: users served, how many as cold start, errors."""
        ok = frame[frame["error"].isna()]
        users = ok[self.user_col].nunique()
        cold = ok.loc[ok["cold_start"].astype(bool), self.user_col].nunique()
        n_err = int(frame["error"].notna().sum())
        return (f"recommended {len(ok)} item(s) to {users} user(s) (top {self.k}; {cold} cold start, popularity "
                f"fallback for unknown users) with recommender model {self.card.name!r}; {n_err} with errors")

    def predict_files(self, paths: Sequence[str], k: int | None = None) -> pd.DataFrame:
        """Recommendations for the users in CSV/TSV/Parquet files (the training user column, or the only
        column), in file order."""
        from ..data import load_dataset

        frames = [load_dataset(p).frame for p in paths]
        for p, f in zip(paths, frames):
            self._user_values(f, where=str(p))
        return self.predict(frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True), k=k)

    def _user_values(self, inputs: Any, where: str = "the input") -> list:
        if isinstance(inputs, pd.DataFrame):
            cols = [str(c) for c in inputs.columns]
            if self.user_col in cols:
                return inputs[self.user_col].tolist()
            if len(cols) == 1:
                return inputs.iloc[:, 0].tolist()
            raise ModelError(f"{where} needs the user column {self.user_col!r} (the training data's) or a single "
                             f"column of user ids; columns present: {', '.join(cols)}")
        if isinstance(inputs, pd.Series):
            return inputs.tolist()
        if isinstance(inputs, (list, tuple, np.ndarray)):
            return list(inputs)
        return [inputs]

    def _columns(self) -> list[str]:
        return [self.user_col, "rank", self.item_col, *([self.label_col] if self.label_col else []), "score",
                "cold_start", "error"]

    def _empty(self) -> pd.DataFrame:
        return pd.DataFrame({c: [] for c in self._columns()})

    def _frame(self, users: list, keys: list, ok: list[int], top: Any, scores: Any, valid: Any) -> pd.DataFrame:
        k = 0 if top is None else top.shape[1]
        counts = np.array([len(self._history_of(keys[i])[0]) for i in ok], dtype=np.int64)
        flat = valid.ravel() if k else np.zeros(0, bool)
        pos = np.repeat(np.asarray(ok, dtype=np.int64), k)[flat]
        items = top.ravel()[flat] if k else np.zeros(0, np.int64)
        out = {self.user_col: np.asarray([keys[i] for i in pos], dtype=object),
               "rank": np.tile(np.arange(1, k + 1), len(ok))[flat], self.item_col: self.item_ids[items]}
        if self.label_col:
            out[self.label_col] = self.labels[items]
        out.update(score=scores.ravel()[flat].astype(np.float64) if k else np.zeros(0),
                   cold_start=np.repeat(counts <= self.cold_start_max, k)[flat], error=np.full(len(pos), None))
        bad = [i for i, key in enumerate(keys) if key is None]
        if not bad:
            return pd.DataFrame(out, copy=False)
        frame = pd.DataFrame(out).astype({"rank": "Int64", "cold_start": "boolean"})
        if self.item_ids.dtype.kind == "i":
            frame[self.item_col] = frame[self.item_col].astype("Int64")
        err = pd.DataFrame({self.user_col: [users[i] for i in bad], "error": ["missing user id"] * len(bad)})
        frame = pd.concat([frame.assign(_pos=pos), err.assign(_pos=bad)], ignore_index=True)
        return frame.sort_values("_pos", kind="stable").drop(columns="_pos").reset_index(drop=True)[self._columns()]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _ratings(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan, dtype=np.float32)
    if not isinstance(values, (list, tuple)) or len(values) != n:
        raise ModelError(f"ratings must be a list with one value per item ({n}), got {values!r}")
    out = np.full(n, np.nan, dtype=np.float32)
    for i, v in enumerate(values):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not math.isfinite(float(v)):
            raise ModelError(f"a rating must be a finite number or None, got {v!r}")
        out[i] = float(v)
    return out


def load_predictor(folder: Path, card: ModelCard) -> RecommenderPredictor:
    """Entry point of the ``recommender`` model kind."""
    return RecommenderPredictor(folder, card)


def latency_ms(predictor: RecommenderPredictor, users: Sequence[Any], k: int | None = None) -> dict[str, float]:
    """Single-user ``recommend`` latency over ``users`` (one call each, after one warm-up call): median
    and 95th percentile in milliseconds."""
    import time

    predictor.recommend(users[0], k=k)
    times = []
    for u in users:
        t0 = time.perf_counter()
        predictor.recommend(u, k=k)
        times.append(1000 * (time.perf_counter() - t0))
    return {"median_ms": float(np.median(times)), "p95_ms": float(np.percentile(times, 95)), "calls": len(times)}


def update_demo(predictor: RecommenderPredictor, user: Any = None, k: int | None = None) -> pd.DataFrame:
    """Real-time update, shown: ``user`` (default: the first known user) rates their current top
    recommendation 5 (or the top of the rating scale); the table holds the top-k before and right
    after, with the time the update and the new recommendations took. The update is undone afterwards."""
    import time

    user = predictor.user_ids[0] if user is None else user
    before = predictor.recommend(user, k=k)
    item = before[predictor.item_col].iloc[0]
    top_rating = predictor.history.ratings[np.isfinite(predictor.history.ratings)]
    rating = float(top_rating.max()) if len(top_rating) else None
    t0 = time.perf_counter()
    predictor.update(user, item, rating)
    after = predictor.recommend(user, k=k)
    ms = 1000 * (time.perf_counter() - t0)
    predictor.reset(user)
    show = predictor.label_col or predictor.item_col
    n = max(len(before), len(after))
    after_label = f"after rating {before[show].iloc[0]!s} {'' if rating is None else f'{rating:g}'} ({ms:.1f} ms, no refit)"
    return full(pd.DataFrame({"before": list(before[show]) + [""] * (n - len(before)),
                              after_label: list(after[show]) + [""] * (n - len(after))},
                             index=pd.RangeIndex(1, n + 1, name=f"user {user}: rank")))
