"""Drift out of core on a Dask cluster given by address (``scheduler``): a real LocalCluster of two worker
processes on 127.0.0.1 profiles the same groups of files as the serial path, merged in file order, so the
exact statistics come out identical; the KLL sketches compact at random (whichever path runs), so the
sketched KS statistics agree within their stated bound. An unreachable address fails in one line first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import workbench.data._aggregates as aggregates
from workbench.drift import DriftReport
from workbench.errors import ParameterError


def _table(n: int, seed: int, shifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "stable": rng.normal(0, 1, n), "moved": rng.normal(0.4 if shifted else 0.0, 1, n),
        "skewed": rng.exponential(2.0, n), "holes": rng.normal(5, 2, n),
        "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.3, 0.3, 0.4] if shifted else [0.5, 0.3, 0.2]),
        "region": rng.choice(["n", "s", "e", "w"], n), "count": rng.poisson(3, n).astype("int64")})
    if shifted:
        frame.loc[rng.random(n) < 0.1, "holes"] = np.nan
    return frame


def _write(frame: pd.DataFrame, folder, parts: int) -> None:
    folder.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), parts)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[chunk], preserve_index=False), folder / f"part-{i}.parquet")

EXACT = ("rows", "missing", "count", "total", "squares", "low", "high", "counts")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift")
    _write(_table(200_000, 11, False), root / "ref", parts=6)
    _write(_table(150_000, 12, True), root / "cur", parts=5)
    return str(root / "ref"), str(root / "cur")


def test_drift_on_a_local_cluster_gives_the_serial_statistics(data):
    distributed = pytest.importorskip("distributed")
    here = DriftReport(*data, engine="dask", max_rows=20_000, domain_rows=0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster:
        there = DriftReport(*data, engine="dask", max_rows=20_000, domain_rows=0, scheduler=cluster.scheduler_address)
    for mine, theirs in zip(here.profiles, there.profiles):
        assert mine.rows == theirs.rows and list(mine.columns) == list(theirs.columns)
        for name, a in mine.columns.items():
            b = theirs.columns[name]
            assert [getattr(a, f) for f in EXACT] == [getattr(b, f) for f in EXACT], name
    assert here.profiles[0].rows == 200_000 and here.profiles[1].rows == 150_000
    a, b = here.table().set_index("column"), there.table().set_index("column")
    assert {c.column for c in here.results if c.drifted} == {c.column for c in there.results if c.drifted} \
        == {"moved", "plan", "holes"}
    exact = ["statistic", "p_value", "score", "psi", "new_category_share", "drifted"]  # from category counts
    pd.testing.assert_frame_equal(a.loc[["plan", "region"], exact], b.loc[["plan", "region"], exact], check_exact=True)
    for col in ("stable", "moved", "skewed", "holes", "count"):  # each sketched KS within its bound of the truth
        assert abs(a.loc[col, "statistic"] - b.loc[col, "statistic"]) <= a.loc[col, "ks_error"] + b.loc[col, "ks_error"]
    for field in ("n_reference", "n_current", "missing_reference", "missing_current"):
        assert a[field].equals(b.loc[a.index, field]), field  # (rows ordered by score)
    pd.testing.assert_frame_equal(here.reference.raw, there.reference.raw, check_exact=True)  # the same sample


def test_an_unreachable_scheduler_fails_in_one_line_before_any_profile(data, monkeypatch):
    def no_profile(*a, **k):
        raise AssertionError("profiled")

    monkeypatch.setattr(aggregates, "profile_files", no_profile)
    with pytest.raises(ParameterError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9 .*set scheduler to ''"):
        DriftReport(*data, engine="dask", scheduler="tcp://127.0.0.1:9")
    with pytest.raises(ParameterError, match="scheduler profiles Parquet datasets out of core"):
        DriftReport(*data, engine="pandas", scheduler="tcp://127.0.0.1:9")
