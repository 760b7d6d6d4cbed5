"""Exploration out of core on a Dask cluster given by address (``scheduler``): a real LocalCluster of two
worker processes on 127.0.0.1 scans the same chunks of files as the local worker processes, so every
table comes out identical; an unreachable address fails in one line before the scan."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import telco_with_holes

import workbench.explore._scale as scale_module
from workbench.errors import ParameterError
from workbench.explore import Exploration


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """About 106,000 rows (Telco with holes, 15 times), hive-partitioned by internet service: 3 files."""
    df, _ = telco_with_holes()
    big = pd.concat([df] * 15, ignore_index=True)
    root = tmp_path_factory.mktemp("telco") / "dataset"
    pq.write_to_dataset(pa.Table.from_pandas(big, preserve_index=False), root, partition_cols=["internet_service"])
    return root


def _tables(eda: Exploration) -> tuple:
    eda.target_analysis()  # the target pass: rates by group over every row
    return eda.summary_table, eda.overview_stats(), eda.missing().parts[-1], dict(eda.scale.tables)


def test_the_scan_on_a_local_cluster_gives_the_local_workers_tables(folder, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(scale_module, "cpu_count", lambda: 2)  # two chunks of files, as on the two-worker cluster
    here = Exploration(str(folder), target="churn", engine="dask", max_rows_for_heavy_stats=3000, seed=3)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster:
        there = Exploration(str(folder), target="churn", engine="dask", max_rows_for_heavy_stats=3000, seed=3,
                            scheduler=cluster.scheduler_address)
        tables = _tables(there)
    mine = _tables(here)
    assert here.scale.rows == there.scale.rows > 100_000
    pd.testing.assert_frame_equal(mine[0], tables[0], check_exact=True)
    assert {**mine[1], "memory_mb": 0} == {**tables[1], "memory_mb": 0}
    assert mine[2].equals(tables[2])
    assert mine[3].keys() == tables[3].keys() and len(mine[3]) > 5
    for column, table in mine[3].items():
        pd.testing.assert_frame_equal(table, tables[3][column], check_exact=True)
    pd.testing.assert_frame_equal(here.sample[0], there.sample[0], check_exact=True)


def test_an_unreachable_scheduler_fails_in_one_line_before_the_scan(folder, monkeypatch):
    def no_scan(*a, **k):
        raise AssertionError("scanned")

    monkeypatch.setattr(scale_module, "scan_files", no_scan)
    with pytest.raises(ParameterError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9 .*set scheduler to ''"):
        Exploration(str(folder), target="churn", engine="sketch", scheduler="tcp://127.0.0.1:9")
    with pytest.raises(ParameterError, match="scheduler scans a Parquet dataset out of core"):
        Exploration(str(folder), target="churn", engine="pandas", scheduler="tcp://127.0.0.1:9")
