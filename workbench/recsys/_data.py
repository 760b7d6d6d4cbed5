"""Interaction tables: validated, cleaned and coded before any fitting.

:func:`prepare_interactions` turns any table of (user, item[, rating][, time]) rows into
:class:`Interactions`: integer codes for users and items, ratings as floats (or implicit feedback),
times as numbers, item text for the content model. Every problem is a clear error in seconds, before a
model is fitted: a missing column (the columns present are listed), non-numeric ratings or unreadable
times (examples shown), a relevance threshold no rating reaches, nothing left after filtering. What is
repaired is reported: rows with a missing user or item dropped, duplicate (user, item) pairs merged,
users and items with too few interactions dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import DatasetError
from ..evaluation import full


@dataclass
class Interactions:
    """A cleaned interactions table; users and items are integer codes (``user_ids[code]`` is the id).

    ``rating`` is NaN everywhere for implicit feedback (then every interaction is relevant); ``time``
    is None without a time column. ``item_info`` holds one row per item code: its id and text columns.
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    time: np.ndarray | None
    user_ids: np.ndarray
    item_ids: np.ndarray
    user_col: str
    item_col: str
    rating_col: str | None
    time_col: str | None
    relevance_threshold: float | None
    item_info: pd.DataFrame
    item_text_cols: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dataset: str = ""
    fingerprint: str = ""

    @property
    def n(self) -> int:
        return int(len(self.user))

    @property
    def n_users(self) -> int:
        return int(len(self.user_ids))

    @property
    def n_items(self) -> int:
        return int(len(self.item_ids))

    @property
    def implicit(self) -> bool:
        return self.rating_col is None

    @property
    def relevant(self) -> np.ndarray:
        """Which interactions count as relevant (rating ≥ threshold; all of them for implicit feedback)."""
        if self.relevance_threshold is None or self.implicit:
            return np.ones(self.n, dtype=bool)
        return self.rating >= self.relevance_threshold

    def item_text(self) -> list[str] | None:
        """One text per item code (the ``item_text_cols`` joined), or None without text columns."""
        if not self.item_text_cols:
            return None
        parts = [self.item_info[c].map(_text).to_numpy(dtype=object) for c in self.item_text_cols]
        return [" ".join(p for p in row if p) for row in zip(*parts)]

    def label_col(self) -> str | None:
        """The first item text column (a title), shown next to item ids."""
        return self.item_text_cols[0] if self.item_text_cols else None

    def summary(self) -> pd.DataFrame:
        """What the recommenders will see, as a small table for the report."""
        density = self.n / max(1, self.n_users * self.n_items)
        rows = [("dataset", f"{self.dataset} (fingerprint {self.fingerprint})" if self.fingerprint else self.dataset),
                ("interactions", f"{self.n:,} ({density:.2%} of the user × item matrix)"),
                ("users", f"{self.n_users:,} ({self.user_col})"), ("items", f"{self.n_items:,} ({self.item_col})"),
                ("feedback", "implicit (every interaction is relevant)" if self.implicit else
                 f"explicit ({self.rating_col}); relevant = rating ≥ {self.relevance_threshold:g} "
                 f"({self.relevant.mean():.0%} of interactions)"),
                ("time", self.time_col or "none: the holdout is a seeded random split per user"),
                ("item text", ", ".join(self.item_text_cols) or "none (the content model needs item_text_cols)")]
        rows += [("note", n) for n in self.notes]
        return full(pd.DataFrame(rows, columns=["", "value"]).set_index(""))


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, float) and v == int(v):
        v = int(v)
    return str(v).replace("|", " ").strip()


# ----------------------------------------------------------------------------------- validation steps
def _frame(data: Any) -> tuple[pd.DataFrame, str, str]:
    if isinstance(data, pd.DataFrame):
        from ..data import frame_fingerprint

        return data, "table", frame_fingerprint(data)
    if hasattr(data, "frame") and isinstance(data.frame, pd.DataFrame):
        return data.frame, str(getattr(data, "name", "table")), str(getattr(data, "fingerprint", ""))
    if isinstance(data, (str, Path)):
        from ..data import load_dataset

        ds = load_dataset(data)
        return ds.frame, ds.name, ds.fingerprint
    raise DatasetError(f"interactions must be a DataFrame, a workbench Dataset or a dataset name/path, got "
                       f"{type(data).__name__}")


def _check_columns(df: pd.DataFrame, roles: dict[str, str | None]) -> None:
    named = {role: col for role, col in roles.items() if col}
    missing = [f"{role} {col!r}" for role, col in named.items() if col not in df.columns]
    if missing:
        raise DatasetError(f"the interactions table lacks the {' and '.join(missing)} column(s); columns present: "
                           f"{', '.join(map(str, df.columns))}; fix: set user_col, item_col, rating_col, time_col "
                           "to names from that list ('' for no rating or no time column)")
    cols = list(named.values())
    if len(set(cols)) != len(cols):
        raise DatasetError(f"the user, item, rating and time columns must differ, got {named}")


def _examples(values: pd.Series, n: int = 3) -> str:
    return ", ".join(repr(v) for v in values.drop_duplicates().head(n).tolist())


def _ratings(df: pd.DataFrame, col: str, notes: list[str]) -> pd.DataFrame:
    raw = df[col]
    if pd.api.types.is_bool_dtype(raw):
        raw = raw.astype(float)
    num = pd.to_numeric(raw, errors="coerce")
    bad = num.isna() & raw.notna()
    if bad.any():
        raise DatasetError(f"rating column {col!r} must be numeric; {int(bad.sum())} value(s) are not, e.g. "
                           f"{_examples(raw[bad])}; fix: clean those values, or rating_col='' for implicit "
                           "feedback (every interaction counts as relevant)")
    if not np.isfinite(num.dropna().to_numpy(dtype=float)).all():
        raise DatasetError(f"rating column {col!r} holds infinite values; fix: clean them")
    if num.isna().any():
        notes.append(f"{int(num.isna().sum())} row(s) without a rating dropped")
    return df.assign(**{col: num}).loc[num.notna()]


def _times(df: pd.DataFrame, col: str, notes: list[str]) -> pd.DataFrame:
    raw = df[col]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        t = raw.astype(float)
    else:
        parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
        bad = parsed.isna() & raw.notna()
        if bad.any():
            raise DatasetError(f"time column {col!r} must hold numbers or dates; {int(bad.sum())} value(s) are "
                               f"neither, e.g. {_examples(raw[bad])}; fix: clean them, or time_col='' for a "
                               "seeded random split")
        t = pd.Series(parsed.to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9, index=raw.index)
        t[parsed.isna()] = np.nan
    if t.isna().any():
        notes.append(f"{int(t.isna().sum())} row(s) without a time dropped")
    return df.assign(**{col: t}).loc[t.notna()]


def _merge_duplicates(df: pd.DataFrame, user: str, item: str, rating: str | None, time: str | None,
                      notes: list[str]) -> pd.DataFrame:
    dup = df.duplicated([user, item], keep=False)
    if not dup.any():
        return df
    agg: dict[str, Any] = {}
    if rating:
        agg[rating] = "mean"
    if time:
        agg[time] = "max"
    n_rows, n_pairs = int(dup.sum()), int(df.loc[dup, [user, item]].drop_duplicates().shape[0])
    out = (df.groupby([user, item], sort=False, as_index=False).agg(agg) if agg
           else df.drop_duplicates([user, item]))
    how = "; ".join(filter(None, ["ratings averaged" if rating else "", "the latest time kept" if time else ""]))
    notes.append(f"{n_rows - n_pairs} duplicate (user, item) row(s) merged ({n_rows} rows into {n_pairs} pairs"
                 + (f"; {how})" if how else ")"))
    return out


def _filter_counts(df: pd.DataFrame, user: str, item: str, min_user: int, min_item: int,
                   notes: list[str]) -> pd.DataFrame:
    """Drop items with fewer than ``min_item`` and users with fewer than ``min_user`` interactions,
    repeating until both hold (a k-core)."""
    dropped_u: set = set()
    dropped_i: set = set()
    for _ in range(50):
        ic = df[item].map(df[item].value_counts())
        small_i = ic < min_item
        dropped_i.update(df.loc[small_i, item].unique().tolist())
        df = df.loc[~small_i]
        uc = df[user].map(df[user].value_counts())
        small_u = uc < min_user
        dropped_u.update(df.loc[small_u, user].unique().tolist())
        df = df.loc[~small_u]
        if not small_i.any() and not small_u.any():
            break
    if dropped_u:
        notes.append(f"{len(dropped_u)} user(s) with fewer than {min_user} interaction(s) dropped")
    if dropped_i:
        notes.append(f"{len(dropped_i)} item(s) with fewer than {min_item} interaction(s) dropped")
    return df


def _ids(values: pd.Series) -> np.ndarray:
    """Ids as numbers when they are integral numbers, else as text (both store without pickle)."""
    if pd.api.types.is_integer_dtype(values):
        return values.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(values) and np.all(np.mod(values.to_numpy(dtype=float), 1) == 0):
        return values.to_numpy(dtype=np.int64)
    return values.astype(str).to_numpy(dtype=str)


def _item_info(df: pd.DataFrame, item_col: str, item_ids: np.ndarray, items: Any,
               text_cols: Sequence[str]) -> pd.DataFrame:
    """One row per item code: the id and the text columns (from ``items`` or the interactions)."""
    info = pd.DataFrame({item_col: item_ids})
    if not text_cols:
        return info
    meta = None
    if items is not None and not (isinstance(items, str) and not items):
        meta, _, _ = _frame(items)
        if item_col not in meta.columns:
            raise DatasetError(f"the items table lacks the item column {item_col!r}; columns present: "
                               f"{', '.join(map(str, meta.columns))}")
    key = pd.Series(item_ids).astype(str)
    for c in text_cols:
        source = meta if meta is not None and c in meta.columns else df if c in df.columns else None
        if source is None:
            present = sorted(set(df.columns) | (set(meta.columns) if meta is not None else set()))
            raise DatasetError(f"item text column {c!r} is in neither the interactions nor the items table; "
                               f"columns present: {', '.join(map(str, present))}; fix: item_text_cols= names from that list")
        first = source.drop_duplicates(item_col).set_index(source.drop_duplicates(item_col)[item_col].astype(str))[c]
        info[c] = key.map(first).to_numpy()
    return info


def _as_list(cols: Any) -> list[str]:
    if cols is None or cols == "":
        return []
    if isinstance(cols, str):
        return [c.strip() for c in cols.split(",") if c.strip()]
    return [str(c) for c in cols]


def prepare_interactions(data: Any, user_col: str = "user", item_col: str = "item", rating_col: str | None = None,
                         time_col: str | None = None, *, items: Any = None, item_text_cols: Sequence[str] | None = None,
                         relevance_threshold: float | None = 4.0, min_user_interactions: int = 2,
                         min_item_interactions: int = 1) -> Interactions:
    """Validate, clean and code an interactions table; raise before any fitting on bad input.

    Parameters
    ----------
    data : a DataFrame, a :class:`workbench.data.Dataset`, or a registered name / CSV / Parquet path.
    user_col, item_col : the user and item id columns.
    rating_col : explicit ratings; ``None``/``""``: implicit feedback (every interaction is relevant).
    time_col : timestamps (numbers or dates); ``None``/``""``: no time (random holdout).
    items : optional item metadata (DataFrame or path) with ``item_col`` and the text columns.
    item_text_cols : item text for the content model (from ``items``, else from ``data``).
    relevance_threshold : ratings at or above it are relevant (explicit feedback).
    min_user_interactions, min_item_interactions : users and items with fewer are dropped (reported).
    """
    df, name, fingerprint = _frame(data)
    rating_col, time_col = rating_col or None, time_col or None
    text_cols = _as_list(item_text_cols)
    _check_columns(df, {"user": user_col, "item": item_col, "rating": rating_col, "time": time_col})
    if min_user_interactions < 1 or min_item_interactions < 1:
        raise DatasetError("min_user_interactions and min_item_interactions must be at least 1, got "
                           f"{min_user_interactions} and {min_item_interactions}")
    notes: list[str] = []
    raw = df
    keep = df[user_col].notna() & df[item_col].notna()
    if not keep.all():
        notes.append(f"{int((~keep).sum())} row(s) with a missing user or item dropped")
    df = df.loc[keep, [c for c in (user_col, item_col, rating_col, time_col) if c]]
    if rating_col:
        df = _ratings(df, rating_col, notes)
    if time_col:
        df = _times(df, time_col, notes)
    df = _merge_duplicates(df, user_col, item_col, rating_col, time_col, notes)
    df = _filter_counts(df, user_col, item_col, min_user_interactions, min_item_interactions, notes)
    if df.empty:
        raise DatasetError(f"no interactions left after cleaning {name!r} ({'; '.join(notes) or 'the table is empty'})"
                           "; fix: lower min_user_interactions / min_item_interactions or check the columns")
    threshold = None if not rating_col or relevance_threshold in (None, "") else float(relevance_threshold)
    if threshold is not None and not (df[rating_col] >= threshold).any():
        raise DatasetError(f"no rating reaches relevance_threshold {threshold:g} (ratings range "
                           f"{df[rating_col].min():g} to {df[rating_col].max():g}); fix: relevance_threshold= a value inside "
                           "that range")
    u_codes, u_ids = pd.factorize(df[user_col], sort=True)
    i_codes, i_ids = pd.factorize(df[item_col], sort=True)
    item_ids = _ids(pd.Series(i_ids))
    return Interactions(
        user=u_codes.astype(np.int32), item=i_codes.astype(np.int32),
        rating=(df[rating_col].to_numpy(dtype=np.float32) if rating_col else np.full(len(df), np.nan, np.float32)),
        time=df[time_col].to_numpy(dtype=np.float64) if time_col else None,
        user_ids=_ids(pd.Series(u_ids)), item_ids=item_ids, user_col=user_col, item_col=item_col,
        rating_col=rating_col, time_col=time_col, relevance_threshold=threshold,
        item_info=_item_info(raw, item_col, item_ids, items, text_cols), item_text_cols=text_cols, notes=notes,
        dataset=name, fingerprint=fingerprint)
