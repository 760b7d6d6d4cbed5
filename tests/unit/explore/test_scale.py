"""Exploration out of core (``engine``): on a real table that fits in memory, written as a hive-partitioned
Parquet dataset, the scan over record batches gives the in-memory numbers (exact statistics exactly,
sketched ones within the KLL sketch's stated rank error), and bad input fails in one line before the scan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import telco_with_holes

import workbench.data._scan as scan_module
import workbench.data._scan_table as table_module
import workbench.explore._scale as scale_module
from workbench.errors import DatasetError, ParameterError
from workbench.explore import Exploration


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    """Telco churn with holes, a date column, duplicated rows and a leaking column."""
    df, rng = telco_with_holes()
    df["signup"] = (pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, len(df)), "D")).strftime("%Y-%m-%d")
    df["leak"] = np.where(df["churn"] == "Yes", 1.0, 0.0) + rng.normal(0, 0.2, len(df))
    return pd.concat([df, df.iloc[:25]], ignore_index=True)  # 25 duplicated rows


@pytest.fixture(scope="module")
def folder(telco, tmp_path_factory):
    root = tmp_path_factory.mktemp("telco") / "dataset"
    pq.write_to_dataset(pa.Table.from_pandas(telco, preserve_index=False), root, partition_cols=["internet_service"])
    return root


@pytest.fixture(scope="module")
def pair(folder):
    """The same dataset in memory and out of core, read in batches of 700 rows, row hashes in 8 buckets."""
    mp = pytest.MonkeyPatch()
    mp.setattr(scale_module, "BATCH_ROWS", 700)
    mp.setattr(table_module, "BUCKET_ROWS", 1000)
    try:
        mem = Exploration(str(folder), target="churn", engine="pandas")
        big = Exploration(str(folder), target="churn", engine="sketch", max_rows_for_heavy_stats=3000, seed=3)
        big.summary_table, big.target_analysis(), big.overview_stats()  # the scan, the target pass
    finally:
        mp.undo()
    assert mem.scale is None and big.scale is not None
    return mem, big


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (np.isnan(a) and np.isnan(b)) or abs(a - b) <= 1e-9 * max(1.0, abs(a))
    return (pd.isna(a) and pd.isna(b)) if not isinstance(a, (str, pd.Timestamp)) and pd.isna(a) else a == b


def test_out_of_core_gives_the_in_memory_numbers_on_a_partitioned_real_table(pair, telco):
    mem, big = pair
    a, b = mem.summary_table, big.summary_table
    assert list(a.index) == list(b.index) and list(a.columns) == list(b.columns)
    diffs = [(c, s, a.loc[c, s], b.loc[c, s]) for c in a.index for s in a.columns if not _same(a.loc[c, s], b.loc[c, s])]
    assert diffs == []
    assert b.loc["signup", "kind"] == "datetime" and b.loc["monthly_charges", "missing"] > 300
    assert mem.overview_stats() == big.overview_stats()
    assert big.overview_stats()["duplicate_rows"] == 25 and big.overview_stats()["rows"] == len(telco)
    assert mem.missing().parts[-1].equals(big.missing().parts[-1])  # missing patterns, same order
    for key in ("deciles", "quantiles"):
        assert all(np.allclose(v, big._extras[key][c], rtol=1e-12) for c, v in mem._extras[key].items())
    for c, hists in mem._extras["hist"].items():
        for bins, (counts, edges) in hists.items():
            assert np.array_equal(counts, big._extras["hist"][c][bins][0]) and np.allclose(edges, big._extras["hist"][c][bins][1])
    for c in mem._features():
        pd.testing.assert_frame_equal(mem._target_table(c), big._target_table(c), rtol=1e-9)
    assert mem.headline() == big.headline()
    # the hive key is a column, unquoted, with the original's frequencies
    assert big.scale.scan.counts["internet_service"].to_dict() == telco["internet_service"].value_counts().to_dict()


def test_heavy_statistics_use_the_stated_seeded_sample(pair):
    _, big = pair
    sample, info = big.sample
    assert info.sampled and info.n_rows == 7068 and info.n_sample == len(sample) and abs(len(sample) - 3000) < 200
    assert f"{info.n_sample:,} of 7,068 rows" in info.describe()
    assert {(r.column, r.alert) for r in big.alerts_table().itertuples()} >= {("leak", "leakage suspect"),
                                                                               ("rownames", "id-like")}
    assert "Out of core (engine sketch)" in big.overview().parts[-1].text
    assert f"{info.n_sample:,} sampled rows" in big.correlations().layout.title.text


def test_columns_beyond_exact_counts_are_within_the_sketch_rank_error(folder, telco, monkeypatch):
    monkeypatch.setattr(scan_module, "EXACT_VALUES", 100)  # monthly and total charges, rownames: sketched
    big = Exploration(str(folder), target="churn", engine="sketch")
    s, approx = big.summary_table, big.scale.scan.approx
    assert {"monthly_charges", "total_charges", "rownames"} <= set(approx) and "tenure" not in approx
    for c in ("monthly_charges", "total_charges", "leak"):
        x = np.sort(telco[c].dropna().to_numpy(float))
        n, eps = len(x), approx[c]
        assert s.loc[c, "mean"] == pytest.approx(x.mean(), rel=1e-9) and s.loc[c, "std"] == pytest.approx(x.std(ddof=1), rel=1e-9)
        for p in ("p25", "p50", "p75"):
            rank = np.searchsorted(x, s.loc[c, p], side="right") / n
            assert abs(rank - float(p[1:]) / 100) <= eps + 1 / n
        counts, edges = big._extras["hist"][c][40]
        truth, _ = np.histogram(x, bins=edges)
        assert np.abs(np.cumsum(counts) - np.cumsum(truth)).max() <= eps * n + 1
    assert s.loc["rownames", "n_unique"] == pytest.approx(7043, rel=0.05)  # KMV estimate
    assert "KLL sketch" in big.overview().parts[-1].text


def test_engine_dask_scans_files_in_worker_processes_with_the_same_result(pair, folder, monkeypatch):
    monkeypatch.setattr(scale_module, "cpu_count", lambda: 2)
    _, big = pair
    dask = Exploration(str(folder), target="churn", engine="dask", max_rows_for_heavy_stats=3000, seed=3)
    pd.testing.assert_frame_equal(big.summary_table, dask.summary_table, rtol=1e-12)
    a, b = dask.overview_stats(), big.overview_stats()
    assert {**a, "memory_mb": 0} == {**b, "memory_mb": 0} and a["memory_mb"] == pytest.approx(b["memory_mb"], rel=1e-3)
    assert dask.missing().parts[-1].equals(big.missing().parts[-1])  # batches of 700 rows there, whole files here
    pd.testing.assert_frame_equal(big.sample[0], dask.sample[0])  # seeded per file, whoever reads it
    assert "by parallel worker processes" in dask.overview().parts[-1].text


def test_engine_auto_goes_out_of_core_above_max_rows(folder):
    assert Exploration(str(folder), target="churn", max_rows=5000).scale is not None
    assert Exploration(str(folder), target="churn").scale is None
    assert Exploration(str(folder / "*" / "*.parquet"), target="", engine="sketch").summary_table.shape[0] == 23


def test_bad_input_fails_in_one_line_before_the_scan(folder, tmp_path, monkeypatch, telco):
    def no_scan(*a, **k):
        raise AssertionError("scanned")

    monkeypatch.setattr(scale_module, "scan_files", no_scan)
    with pytest.raises(ParameterError, match="engine must be one of auto, pandas, dask, sketch \\(engine='spark'\\)"):
        Exploration(str(folder), target="churn", engine="spark")
    with pytest.raises(DatasetError, match="target column 'churned' not in the table; columns: rownames, churn, "):
        Exploration(str(folder), target="churned", engine="sketch")
    with pytest.raises(DatasetError, match="not a file, a folder or a glob"):
        Exploration(str(tmp_path / "missing"), engine="sketch")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no .parquet or .csv files"):
        Exploration(str(tmp_path / "empty"), engine="sketch")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    telco.iloc[:10].to_parquet(mixed / "a.parquet")
    telco.iloc[:10].drop(columns=["tenure"]).to_parquet(mixed / "b.parquet")
    with pytest.raises(DatasetError, match="b.parquet' has other columns than .*a.parquet' \\(missing: tenure; extra: -\\)"):
        Exploration(str(mixed), engine="sketch")
    with pytest.raises(ParameterError, match="engine 'sketch' takes a Parquet dataset"):
        Exploration(telco, engine="sketch")
    with pytest.raises(ParameterError, match="max_rows must be an int >= 0"):
        Exploration(str(folder), max_rows=-1)
