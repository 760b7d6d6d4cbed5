"""Dates are compared like numbers (a shifted date column is flagged, a stable one is not)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.drift import DriftReport


def _frame(days_offset: int, seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01") + pd.Timedelta(days=days_offset)
    return pd.DataFrame({"signed": start + pd.to_timedelta(rng.integers(0, 90, n), unit="D"),
                         "stable": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 90, n), unit="D"),
                         "amount": rng.normal(50, 5, n)})


def test_a_shifted_date_column_is_tested_and_flagged():
    report = DriftReport(_frame(0, 1), _frame(120, 2), target=None)
    table = report.table().set_index("column")
    assert table.loc["signed", "kind"] == table.loc["stable", "kind"] == "datetime"
    assert table.loc["signed", "test"] == table.loc["stable", "test"] == "ks"  # 400 rows a side: the KS test decides
    assert table.loc["signed", "statistic"] == 1.0  # 120 days later: no overlap at all
    assert bool(table.loc["signed", "drifted"]) and not bool(table.loc["stable", "drifted"])
    assert not bool(table.loc["amount", "drifted"]) and table.loc["amount", "test"] == "ks"
    assert 0 < table.loc["stable", "p_adjusted"] <= 1 and table.loc["signed", "p_adjusted"] < 1e-10
