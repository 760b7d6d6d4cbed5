"""Feature columns: which columns are features (ID-like and empty ones dropped), and their types.

Training and scoring both go through :func:`coerce_frame`, so a model sees the same types from a
registry frame, a CSV or a Parquet file.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from ..data import id_like
from ..errors import DatasetError


def coerce_frame(df: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """The feature columns in a fixed order: numerics as float, categoricals as ``str`` objects with
    missing values kept as NaN. Training and scoring both go through it, so a model sees the same
    types from a registry frame, a CSV or a Parquet file."""
    out = {}
    for c in numeric:
        out[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    for c in categorical:
        s = df[c]
        mask = s.isna().to_numpy()
        if pd.api.types.is_float_dtype(s) and np.all(np.mod(s.dropna().to_numpy(dtype=float), 1) == 0):
            s = s.astype("Int64")  # 1.0 read from a CSV with gaps is the category "1", as in training
        vals = np.where(mask, np.nan, s.astype(str).to_numpy(dtype=object)).astype(object)
        out[c] = pd.Series(vals, index=df.index, dtype=object)
    return pd.DataFrame(out, index=df.index, columns=[*numeric, *categorical])


def feature_columns(df: pd.DataFrame, target: str, name: str) -> tuple[list[str], list[str], dict[str, str]]:
    """Numeric and categorical feature columns, and the dropped ones with the reason."""
    dropped: dict[str, str] = {}
    numeric: list[str] = []
    categorical: list[str] = []
    for c in df.columns:
        if c == target:
            continue
        s = df[c]
        if s.isna().all():
            dropped[c] = "all values missing"
            continue
        why = id_like(s, str(c))
        if why:
            dropped[c] = f"ID-like: {why}"
            continue
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            categorical.append(c)
        else:
            numeric.append(c)
    for c, why in dropped.items():
        warnings.warn(f"column {c!r} dropped ({why})", UserWarning, stacklevel=4)
    if not numeric and not categorical:
        raise DatasetError(f"no usable feature columns in {name!r} besides the target {target!r} "
                           f"(dropped: {dropped or 'none'}); fix: check the file")
    return numeric, categorical, dropped
