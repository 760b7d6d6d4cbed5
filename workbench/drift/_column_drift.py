"""Column-by-column drift: which test decides each column (by kind and sample size), the multiple-
testing correction, the missing-share and new-category checks, and the verdict with its reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core.parallel import parallel_map
from ._config import Thresholds
from ._stats import benjamini_hochberg, categorical_stats, missing_test, numeric_stats

NUMERIC_KINDS = ("numeric", "datetime")
TESTED_KINDS = ("numeric", "datetime", "boolean", "categorical", "mixed")
TABLE_COLUMNS = ["column", "role", "kind", "test", "statistic", "p_value", "p_adjusted", "score", "threshold",
                 "drifted", "reason", "psi", "missing_reference", "missing_current", "new_category_share",
                 "out_of_range_share", "n_reference", "n_current"]


@dataclass
class ColumnDrift:
    """The drift verdict of one column.

    ``test`` names what decided: ``ks`` or ``chi2`` (small samples: ``p_adjusted`` < threshold),
    ``wasserstein`` or ``jensen_shannon`` (large samples: ``score`` >= threshold, and the KS or
    chi-square test agrees), or ``missing_share`` when a side has no values. ``statistic`` is the KS
    or chi-square statistic, ``score`` the distance; ``psi`` is shown for every column.
    """

    column: str
    kind: str
    role: str = "feature"
    test: str = ""
    statistic: float = float("nan")
    p_value: float = float("nan")
    p_adjusted: float = float("nan")
    score: float = float("nan")
    threshold: float = float("nan")
    drifted: bool = False
    reasons: list[str] = field(default_factory=list)
    psi: float = float("nan")
    missing_reference: float = 0.0
    missing_current: float = 0.0
    missing_p: float = float("nan")
    new_category_share: float = float("nan")
    new_categories: list = field(default_factory=list)
    new_category_count: int = 0
    out_of_range_share: float = float("nan")
    n_reference: int = 0
    n_current: int = 0
    distance_threshold: float = float("nan")
    plot: dict[str, Any] | None = None

    @property
    def severity(self) -> float:
        """The distance relative to its threshold (1 = at the threshold): the summary's sort key."""
        s = self.score / self.distance_threshold if self.distance_threshold > 0 else 0.0
        return float(s) if np.isfinite(s) else 0.0

    def row(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in TABLE_COLUMNS if k != "reason"}
        out["reason"] = "; ".join(self.reasons)
        return out


def _raw(ref: pd.Series, cur: pd.Series, kind: str) -> dict[str, Any]:
    if kind not in TESTED_KINDS:
        return {}
    return numeric_stats(ref, cur) if kind in NUMERIC_KINDS else categorical_stats(ref, cur)


def _fill(c: ColumnDrift, raw: dict[str, Any], t: Thresholds) -> None:
    c.n_reference, c.n_current = raw.get("n_reference", 0), raw.get("n_current", 0)
    numeric = c.kind in NUMERIC_KINDS
    c.distance_threshold = t.wasserstein if numeric else t.jensen_shannon
    if "psi" not in raw:
        return
    c.statistic, c.p_value = (raw["ks"], raw["ks_p"]) if numeric else (raw["chi2"], raw["chi2_p"])
    c.score = raw["wasserstein"] if numeric else raw["jensen_shannon"]
    c.psi, c.plot = raw["psi"], raw["plot"]
    c.out_of_range_share = raw.get("out_of_range", float("nan"))
    if not numeric:
        c.new_category_share, c.new_categories = raw["new_share"], raw["new_values"]
        c.new_category_count = raw["new_count"]


def _decide_distribution(c: ColumnDrift, t: Thresholds) -> None:
    numeric = c.kind in NUMERIC_KINDS
    if np.isnan(c.p_value):
        c.test = "missing_share" if c.n_reference or c.n_current else "none"
        return
    small = min(c.n_reference, c.n_current) <= t.small_sample
    test_name = "ks" if numeric else "chi2"
    significant = c.p_adjusted < t.p_value
    if small:
        c.test, c.threshold = test_name, t.p_value
        if significant:
            c.drifted = True
            c.reasons.append(f"{'KS' if numeric else 'chi-square'} p={c.p_value:.2g} (adjusted {c.p_adjusted:.2g}) "
                             f"< {t.p_value:g}")
        return
    c.test, c.threshold = ("wasserstein" if numeric else "jensen_shannon"), c.distance_threshold
    if c.score >= c.threshold and significant:
        c.drifted = True
        what = "normalised Wasserstein" if numeric else "Jensen-Shannon"
        c.reasons.append(f"{what} {c.score:.3f} >= {c.threshold:g}")


def _decide_quality(c: ColumnDrift, t: Thresholds, bonferroni: float) -> None:
    delta = c.missing_current - c.missing_reference
    if abs(delta) >= t.missing_share and c.missing_p < bonferroni:
        c.drifted = True
        c.reasons.append(f"missing {c.missing_reference:.1%} -> {c.missing_current:.1%}")
    if c.new_category_share >= t.new_categories and c.new_category_count >= 5:
        c.drifted = True
        shown = ", ".join(repr(v) for v in c.new_categories[:3])
        c.reasons.append(f"{c.new_category_share:.1%} of rows hold categories the reference never had ({shown})")


def compare_columns(ref: pd.DataFrame, cur: pd.DataFrame, kinds: dict[str, str], thresholds: Thresholds,
                    role: str = "feature") -> list[ColumnDrift]:
    """The verdict of every column of ``kinds`` (present in both frames), sorted drifted first, then
    by distance relative to its threshold. p-values are adjusted over these columns together."""
    cols = list(kinds)
    heavy = max(len(ref), len(cur)) >= 50_000
    raws = parallel_map(lambda col: _raw(ref[col], cur[col], kinds[col]), cols, heavy=heavy)
    out: list[ColumnDrift] = []
    for col, raw in zip(cols, raws):
        c = ColumnDrift(column=col, kind=kinds[col], role=role)
        _fill(c, raw, thresholds)
        miss_r, miss_c = int(ref[col].isna().sum()), int(cur[col].isna().sum())
        c.missing_reference = miss_r / len(ref) if len(ref) else 0.0
        c.missing_current = miss_c / len(cur) if len(cur) else 0.0
        c.missing_p = missing_test(miss_r, len(ref), miss_c, len(cur))
        out.append(c)
    return decide_columns(out, thresholds)


def decide_columns(out: list, thresholds) -> list:
    """The decisions over all columns' tests: p-values adjusted (Benjamini-Hochberg), each column's drift and
    quality verdict, the drifted and most severe first."""
    adjusted = benjamini_hochberg(np.array([c.p_value for c in out]))
    for c, q in zip(out, adjusted):
        c.p_adjusted = float(q)
        _decide_distribution(c, thresholds)
        _decide_quality(c, thresholds, thresholds.p_value / max(len(out), 1))
    out.sort(key=lambda c: (not c.drifted, -c.severity, c.column))
    return out


def results_table(results: list[ColumnDrift]) -> pd.DataFrame:
    """One row per column in the order given, with the columns of ``artifacts/drift.csv``."""
    return pd.DataFrame([c.row() for c in results], columns=TABLE_COLUMNS)
