"""Data-quality alerts for :mod:`workbench.explore`, computed from the column summary."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data._profile import similar_names
from ._relations import TargetInfo, single_column_scores

ALERT_COLUMNS = ["column", "alert", "severity", "detail"]


@dataclass(frozen=True)
class AlertThresholds:
    """When an alert fires. Fractions are of the non-missing values unless said otherwise.

    Attributes
    ----------
    near_constant : top value share at or above which a column is near-constant.
    id_unique : unique share at or above which a text or integer column looks like an ID.
    high_cardinality : distinct values above which a categorical column is high-cardinality.
    missing : missing share (of all rows) at or above which missingness is heavy.
    skew : absolute sample skewness at or above which a numeric column is strongly skewed.
    leakage_auc, leakage_accuracy, leakage_r2 : held-out single-column score at or above which
        a column is a leakage suspect (binary, multiclass, numeric target).
    min_rows : fewer rows than this and the ID, near-constant and skew alerts stay quiet.
    """

    near_constant: float = 0.99
    id_unique: float = 0.95
    high_cardinality: int = 50
    missing: float = 0.2
    skew: float = 2.0
    leakage_auc: float = 0.98
    leakage_accuracy: float = 0.99
    leakage_r2: float = 0.98
    min_rows: int = 20


def _alert(rows: list, column: str, alert: str, severity: str, detail: str) -> None:
    rows.append({"column": column, "alert": alert, "severity": severity, "detail": detail})


def duplicate_columns(df: pd.DataFrame, summary: pd.DataFrame) -> list[tuple[str, str]]:
    """Pairs (first, copy) of columns with identical values; candidates share dtype, missing count
    and number of distinct values, then are compared in full."""
    groups: dict[tuple, list[str]] = {}
    for c, row in summary.iterrows():
        if row["kind"] == "empty":
            continue
        groups.setdefault((str(df[c].dtype), int(row["missing"]), int(row["n_unique"])), []).append(c)
    pairs = []
    for cols in groups.values():
        matched: set[str] = set()
        for i, a in enumerate(cols):
            if a in matched:
                continue
            for b in cols[i + 1:]:
                if b not in matched and df[a].equals(df[b]):
                    pairs.append((a, b))
                    matched.add(b)
    return pairs


def compute_alerts(df: pd.DataFrame, summary: pd.DataFrame, *, rows: int | None = None, target: str | None = None,
                   target_info: TargetInfo | None = None, heavy: pd.DataFrame | None = None, seed: int = 0,
                   thresholds: AlertThresholds | None = None, reuse: dict[str, dict] | None = None) -> pd.DataFrame:
    """Alerts as a table (column, alert, severity, detail), warnings first.

    Cheap alerts use ``summary`` (all rows); the leakage check scores each column against the
    target on ``heavy`` (the seeded sample, or all rows when small), reusing what the summary kept:
    ``reuse`` = bin ``edges``, ``factorized`` columns, sort ``orders`` (see :func:`single_column_scores`).
    """
    t = thresholds or AlertThresholds()
    n = len(df) if rows is None else rows  # rows: of the whole table when ``df`` is a sample of it
    rows: list[dict] = []
    for c, r in summary.iterrows():
        kind, nu, miss = r["kind"], int(r["n_unique"]), float(r["missing_fraction"])
        if kind == "empty":
            _alert(rows, c, "all missing", "warning", "every value is missing: drop the column")
            continue
        if nu == 1:
            _alert(rows, c, "constant", "warning", f"a single value ({r['top']!r}) in every non-missing row")
        elif n >= t.min_rows and r["top_fraction"] >= t.near_constant:
            _alert(rows, c, "near-constant", "info",
                   f"{r['top_fraction']:.2%} of non-missing values are {r['top']!r}")
        if miss >= t.missing:
            _alert(rows, c, "missing", "warning" if miss >= 0.5 else "info", f"{miss:.1%} of rows are missing")
        integer_like = kind == "numeric" and "int" in str(r["dtype"]).lower()
        if n >= t.min_rows and nu > 1 and r["unique_fraction"] >= t.id_unique and (
                kind in ("categorical", "mixed") or integer_like):
            _alert(rows, c, "id-like", "warning",
                   f"{r['unique_fraction']:.1%} of values are distinct ({nu:,}): an identifier, not a feature")
        elif kind in ("categorical", "mixed") and nu > t.high_cardinality:
            _alert(rows, c, "high cardinality", "info", f"{nu:,} distinct values: group rare ones before encoding")
        skew = r.get("skew")
        if kind == "numeric" and n >= t.min_rows and pd.notna(skew) and abs(skew) >= t.skew:
            _alert(rows, c, "skewed", "info", f"skewness {skew:.2f}: consider a log or rank transform")
        if kind == "numeric" and pd.notna(r.get("n_infinite")) and r["n_infinite"] > 0:
            _alert(rows, c, "infinite values", "warning", f"{int(r['n_infinite']):,} values are ±inf")
        if kind == "mixed":
            _alert(rows, c, "mixed types", "warning", "values of different Python types: analysed as text")
    for a, b in duplicate_columns(df, summary):
        _alert(rows, b, "duplicate column", "warning", f"identical to {a!r}")
    for a, b in similar_names(list(df.columns)):
        _alert(rows, b, "similar name", "info", f"name looks like {a!r} (case, spaces or unicode form differ)")
    if target is not None and target_info is not None and target_info.kind in ("binary", "multiclass", "numeric"):
        kinds = summary["kind"].to_dict()
        scores = single_column_scores(heavy if heavy is not None else df, kinds, target, target_info, seed=seed,
                                      **(reuse or {}))
        limit = {"AUC": t.leakage_auc, "accuracy": t.leakage_accuracy, "R²": t.leakage_r2}
        base = 0.0
        if target_info.kind == "multiclass":
            base = float(df[target].value_counts(normalize=True).iloc[0])
        for _, s in scores.iterrows():
            score = s["score"]
            if np.isfinite(score) and score >= limit[s["metric"]] and not (s["metric"] == "accuracy" and base >= score):
                _alert(rows, s["column"], "leakage suspect", "warning",
                       f"alone predicts {target!r} with held-out {s['metric']} {score:.3f}: "
                       "check it is known before the outcome")
    out = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    order = {"warning": 0, "info": 1}
    return out.sort_values("severity", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
