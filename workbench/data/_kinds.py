"""What a column is, cheaply: its kind (as :func:`workbench.data.column_summary` names it) and
whether it is an identifier rather than a feature. Shared by model comparison and drift monitoring."""

from __future__ import annotations

import numpy as np
import pandas as pd


def id_name(name: str) -> bool:
    """Whether a column name reads like an identifier (``id``, ``customer_id``, ``rownames``, ``userID``)."""
    n = name.strip().lower()
    return (n in {"id", "rownames", "row_id", "rowid", "index", "uuid", "key"} or n.startswith("unnamed")
            or n.endswith(("_id", " id", "-id", "_key", "_uuid")) or name.endswith("ID"))


def id_like(s: pd.Series, name: str) -> str | None:
    """Why ``s`` looks like an identifier rather than a feature (a unique value per row plus a row
    number, an ID-like name or text), or None."""
    n = len(s)
    if n < 20 or s.isna().any():
        return None
    if s.nunique() != n:
        return None
    if pd.api.types.is_integer_dtype(s) and (s.is_monotonic_increasing or s.is_monotonic_decreasing):
        return "unique, monotonic integers (a row number)"
    if id_name(name):
        return "a unique value per row and an ID-like name"
    if not pd.api.types.is_numeric_dtype(s):
        return "a unique text value per row (an identifier)"
    return None


def column_kind(s: pd.Series, special: str | None = None) -> str:
    """The kind :func:`column_summary` gives ``s`` (numeric, boolean, categorical, datetime, mixed or
    empty) without its statistics: one missing-value pass and one distinct count."""
    if not len(s) or s.isna().all():
        return "empty"
    if special:
        return special
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "datetime"
    is_num = pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
    if _at_most_two_values(s, is_num):
        return "boolean"
    return "numeric" if is_num else "categorical"


def _at_most_two_values(s: pd.Series, is_num: bool) -> bool:
    """Whether ``s`` holds at most two distinct non-missing values, without counting them all."""
    if is_num:
        v = s.to_numpy(dtype="float64", na_value=np.nan)
        v = v[~np.isnan(v)]
        lo, hi = v.min(), v.max()
        return bool(((v == lo) | (v == hi)).all())
    head = s.dropna().head(10_000)
    first = head.unique()[:3]
    return len(first) <= 2 and bool(s.dropna().isin(first).all())
