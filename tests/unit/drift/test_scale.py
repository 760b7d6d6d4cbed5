"""Drift from out-of-core aggregates (KLL sketches, exact counts) flags what the exact in-memory path flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.data._aggregates import profile_dataset
from workbench.drift._column_drift import compare_columns
from workbench.drift._config import Thresholds
from workbench.drift._scale import compare_profiles, profile_table


def _table(n: int, seed: int, shifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "stable": rng.normal(0, 1, n),
        "moved": rng.normal(0.4 if shifted else 0.0, 1, n),
        "skewed": rng.exponential(2.0, n),
        "holes": rng.normal(5, 2, n),
        "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.3, 0.3, 0.4] if shifted else [0.5, 0.3, 0.2]),
        "region": rng.choice(["n", "s", "e", "w"], n),
        "count": rng.poisson(3, n).astype("int64"),
    })
    if shifted:
        frame.loc[rng.random(n) < 0.1, "holes"] = np.nan
    return frame


def _write(frame: pd.DataFrame, folder, parts: int = 4) -> None:
    folder.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), parts)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[chunk], preserve_index=False), folder / f"part-{i}.parquet")


def test_sketched_drift_flags_the_same_columns_as_the_exact_path(tmp_path):
    ref, cur = _table(120_000, 1, False), _table(100_000, 2, True)
    _write(ref, tmp_path / "ref")
    _write(cur, tmp_path / "cur")
    kinds = {"stable": "numeric", "moved": "numeric", "skewed": "numeric", "holes": "numeric", "plan": "categorical",
             "region": "categorical", "count": "numeric"}
    exact = {c.column: c for c in compare_columns(ref, cur, kinds, Thresholds())}
    sketched = {c.column: c for c in compare_profiles(profile_dataset(tmp_path / "ref"), profile_dataset(tmp_path / "cur"))}
    assert {k for k, c in exact.items() if c.drifted} == {"moved", "plan", "holes"}
    assert {k for k, c in sketched.items() if c.drifted} == {k for k, c in exact.items() if c.drifted}
    for col in ("stable", "moved", "skewed"):
        bound = sketched[col].ks_error
        assert 0 < bound < 0.02
        assert abs(sketched[col].statistic - exact[col].statistic) <= bound
        assert abs(sketched[col].score - exact[col].score) < 0.02
    for col in ("plan", "region"):  # category counts are exact
        assert sketched[col].statistic == exact[col].statistic
    assert sketched["holes"].missing_current == exact["holes"].missing_current
    assert (profile_table(list(sketched.values()))["ks_error"] > 0).sum() == 5


def test_a_ks_distance_within_the_sketch_error_counts_as_none(tmp_path):
    """Identical data: the sketched KS is not exactly 0, but after subtracting the bound its p-value is 1."""
    frame = _table(50_000, 3, False)
    _write(frame, tmp_path / "a")
    profile = profile_dataset(tmp_path / "a")
    other = profile_dataset(tmp_path / "a")
    results = {c.column: c for c in compare_profiles(profile, other)}
    assert not any(c.drifted for c in results.values())
    assert results["stable"].p_value == 1.0


def test_drift_report_engine_dask_on_parquet_datasets_matches_pandas(tmp_path):
    from workbench.drift import DriftReport

    ref, cur = _table(60_000, 4, False), _table(60_000, 5, True)
    _write(ref, tmp_path / "ref")
    _write(cur, tmp_path / "cur")
    exact = DriftReport(str(tmp_path / "ref"), str(tmp_path / "cur"), engine="pandas", domain_rows=0)
    scaled = DriftReport(str(tmp_path / "ref"), str(tmp_path / "cur"), engine="dask", max_rows=20_000, domain_rows=2000)
    assert scaled.profiles is not None and exact.profiles is None
    assert len(scaled.reference.raw) < 30_000  # the sample, for the schema, the classifier and the figures
    flagged = {c.column for c in exact.results if c.drifted}
    assert flagged == {"moved", "plan", "holes"}
    assert {c.column for c in scaled.results if c.drifted} == flagged
    table = scaled.table()
    assert set(table["n_reference"][table["column"].isin(["stable", "plan"])]) == {60_000}  # every row, not the sample
    assert (table["ks_error"] > 0).any()


def test_summary_table_from_aggregates_matches_pandas(tmp_path):
    from workbench.data._aggregates import summary_table

    frame = _table(40_000, 6, True)
    _write(frame, tmp_path / "d")
    table = summary_table(profile_dataset(tmp_path / "d")).set_index("column")
    assert table.loc["holes", "missing_share"] == frame["holes"].isna().mean()
    assert table.loc["moved", "mean"] == pytest.approx(frame["moved"].mean(), rel=1e-9)
    assert table.loc["moved", "std"] == pytest.approx(frame["moved"].std(ddof=0), rel=1e-6)
    assert table.loc["skewed", "max"] == frame["skewed"].max()
    rank = (frame["skewed"] <= table.loc["skewed", "median"]).mean()
    assert abs(rank - 0.5) <= table.loc["skewed", "rank_error"]
    assert table.loc["plan", "distinct"] == 3 and table.loc["plan", "top"].startswith("pro (")
