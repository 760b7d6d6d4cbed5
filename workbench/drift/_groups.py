"""Prediction drift per sensitive group: the model's predictions on reference and current compared within
each group of each ``sensitive`` column (the same tests as the overall prediction drift, p-values adjusted
within each group), so a shift that hits one group only is not averaged away."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from ..errors import DatasetError
from ._column_drift import ColumnDrift, compare_columns, results_table

MIN_GROUP_ROWS = 30
"""A group is compared when it has at least this many rows with predictions on each side."""


def check_sensitive(reference: pd.DataFrame, current: pd.DataFrame, sensitive: Any) -> list[str]:
    """The sensitive column names, each present in both tables (a clear error naming the columns otherwise)."""
    if sensitive in (None, "", [], ()):
        return []
    cols = [sensitive] if isinstance(sensitive, str) else sensitive
    if not isinstance(cols, (list, tuple)) or not all(isinstance(c, str) and c for c in cols):
        raise DatasetError(f"sensitive must be a list of column names (sensitive={sensitive!r}); "
                           "e.g. sensitive=['female', 'senior_citizen']")
    for role, frame in (("reference", reference), ("current", current)):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise DatasetError(f"sensitive column(s) {', '.join(map(repr, missing))} not in the {role} table "
                               f"(sensitive={list(cols)!r}); columns: {', '.join(map(str, frame.columns))}; "
                               "fix: name columns of both tables, or sensitive=[]")
    return list(dict.fromkeys(cols))


def group_drift(ref_raw: pd.DataFrame, cur_raw: pd.DataFrame, ref_pred: pd.DataFrame, cur_pred: pd.DataFrame,
                kinds: dict[str, str], sensitive: Sequence[str], thresholds: Any) -> pd.DataFrame:
    """One row per (sensitive column, group, prediction column): rows on each side and the drift verdict.
    Predictions are aligned with their table's rows by position."""
    rows = []
    for col in sensitive:
        r_groups, c_groups = ref_raw[col].astype(str).to_numpy(), cur_raw[col].astype(str).to_numpy()
        for value in sorted(set(r_groups) | set(c_groups)):
            r, c = ref_pred[r_groups == value], cur_pred[c_groups == value]
            if min(len(r), len(c)) < MIN_GROUP_ROWS:
                rows.append({"feature": col, "group": value, "rows_reference": len(r), "rows_current": len(c),
                             "column": "", "why": f"fewer than {MIN_GROUP_ROWS} rows on a side: not compared"})
                continue
            res: list[ColumnDrift] = compare_columns(r, c, kinds, thresholds, role="prediction")
            for _, t in results_table(res).iterrows():
                rows.append({"feature": col, "group": value, "rows_reference": len(r), "rows_current": len(c),
                             "column": t["column"], "test": t["test"], "score": t["score"],
                             "p_adjusted": t["p_adjusted"], "drifted": bool(t["drifted"]), "why": t["reason"]})
    return pd.DataFrame(rows)
