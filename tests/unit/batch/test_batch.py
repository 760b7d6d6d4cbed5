"""Batch scoring of partitioned Parquet datasets: per-partition outputs, hive keys, bad partitions, Dask."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import run_cli

import workbench
from workbench import tabular
from workbench.batch import find_partitions, score_dataset
from workbench.models import load
from workbench.tabular._fitted import TabularModel
from workbench.tabular._persist import save_model
from workbench.tabular._registry import build_model


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    return workbench.load_dataset("telco_churn").frame.iloc[:600].reset_index(drop=True)


@pytest.fixture(scope="module")
def model_dir(telco, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(telco, "churn", folds=2, models=["logistic_regression"])
        est = build_model("logistic_regression", task.numeric, task.categorical, seed=0)
        est.fit(task.X_train, task.y_train)
    ids = [c for c, why in task.dropped.items() if why.startswith("ID")]
    model = TabularModel(name="logistic_regression", estimator=est, numeric=task.numeric, categorical=task.categorical,
                         classes=task.classes, positive_label=task.positive_label, threshold=0.5, id_columns=ids,
                         meta={"categories": task.categories, "dtypes": task.dtypes})
    return save_model(model, tmp_path_factory.mktemp("m") / "model")


def _hive(telco: pd.DataFrame, root) -> dict[str, pd.DataFrame]:
    """Three hive partitions region=a/b/c of 200 rows each (the key column is not in the files)."""
    parts = {}
    for i, region in enumerate("abc"):
        frame = telco.iloc[i * 200:(i + 1) * 200].drop(columns=["churn"]).reset_index(drop=True)
        (root / f"region={region}").mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), root / f"region={region}" / "part-0.parquet",
                       row_group_size=70)
        parts[region] = frame
    return parts


def test_hive_dataset_scored_per_partition_in_order(telco, model_dir, tmp_path):
    parts = _hive(telco, tmp_path / "data")
    result = score_dataset(model_dir, tmp_path / "data", tmp_path / "out", partition_rows=64, progress=False)
    assert result.rows == 600 and not result.failed
    predictor = load(model_dir)
    for region, frame in parts.items():
        got = pd.read_parquet(tmp_path / "out" / f"region={region}" / "part-0.parquet")
        want = predictor.predict(frame)
        assert list(got.columns) == ["region", *want.columns]
        assert (got["region"] == region).all()
        pd.testing.assert_frame_equal(got.drop(columns="region"), want, check_dtype=False)
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_a_bad_partition_is_named_and_the_others_finish(telco, model_dir, tmp_path):
    _hive(telco, tmp_path / "data")
    (tmp_path / "data" / "region=d").mkdir()
    (tmp_path / "data" / "region=d" / "broken.parquet").write_bytes(b"not parquet at all")
    pq.write_table(pa.Table.from_pandas(telco.iloc[:50][["tenure", "contract"]]),
                   tmp_path / "data" / "region=e.parquet")
    result = score_dataset(model_dir, tmp_path / "data", tmp_path / "out", jobs=2, progress=False)
    assert set(result.failed) == {"region=d/broken.parquet", "region=e.parquet"}
    assert "missing" in result.failed["region=e.parquet"].lower() or "column" in result.failed["region=e.parquet"].lower()
    assert result.rows == 600 and len(result.written) == 3
    assert sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file()) == ["part-0.parquet"] * 3


def test_cli_batch_mode_exit_status_and_csv_glob(telco, model_dir, tmp_path):
    for i in range(2):
        telco.iloc[i * 100:(i + 1) * 100].to_csv(tmp_path / f"in{i}.csv", index=False)
    (tmp_path / "in2.csv").write_text("tenure\n1\n")
    proc = run_cli("predict", str(model_dir), str(tmp_path / "in*.csv"), "-o", str(tmp_path / "out"), "--jobs", "1",
                   cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "partition in2.csv" in proc.stderr
    got = pd.read_parquet(tmp_path / "out" / "in1.parquet")
    want = load(model_dir).predict(telco.iloc[100:200].reset_index(drop=True))
    assert list(got.columns) == list(want.columns) and got["prediction"].tolist() == want["prediction"].tolist()
    proba = [c for c in want.columns if c.startswith("proba_")]
    np.testing.assert_allclose(got[proba].to_numpy(), want[proba].to_numpy())


def test_find_partitions_glob_keeps_hive_names(tmp_path):
    (tmp_path / "d" / "day=1").mkdir(parents=True)
    (tmp_path / "d" / "day=1" / "x.parquet").write_bytes(b"")
    parts = find_partitions(str(tmp_path / "d" / "*" / "*.parquet"))
    assert [(p.name, p.keys) for p in parts] == [("day=1/x.parquet", {"day": "1"})]
    (tmp_path / "e" / "contract=Two%20year").mkdir(parents=True)  # as pyarrow writes a value with a space
    (tmp_path / "e" / "contract=Two%20year" / "x.parquet").write_bytes(b"")
    assert [(p.name, p.keys) for p in find_partitions(tmp_path / "e")] == [
        ("contract=Two%20year/x.parquet", {"contract": "Two year"})]


def test_dask_local_cluster_gives_identical_outputs(telco, model_dir, tmp_path):
    distributed = pytest.importorskip("distributed")
    big = pd.concat([telco.drop(columns=["churn"])] * 50, ignore_index=True)  # 30,000 rows in 3 files
    (tmp_path / "data").mkdir()
    for i in range(3):
        pq.write_table(pa.Table.from_pandas(big.iloc[i * 10_000:(i + 1) * 10_000], preserve_index=False),
                       tmp_path / "data" / f"p{i}.parquet")
    local = score_dataset(model_dir, tmp_path / "data", tmp_path / "local", jobs=1, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = score_dataset(model_dir, tmp_path / "data", tmp_path / "dask", scheduler=cluster.scheduler_address,
                               progress=False)
    assert local.rows == remote.rows == 30_000 and not remote.failed
    for i in range(3):
        a = pq.read_table(tmp_path / "local" / f"p{i}.parquet")
        b = pq.read_table(tmp_path / "dask" / f"p{i}.parquet")
        assert a.equals(b)


def test_tabular_partitions_are_scored_on_whole_arrays(telco, model_dir, tmp_path, monkeypatch):
    """A compiled pipeline scores each record batch on whole arrays: the DataFrame path is never taken."""
    from workbench.tabular._persist import TabularPredictor

    def no_frames(self, inputs):
        raise AssertionError("the DataFrame path was taken")

    parts = _hive(telco, tmp_path / "data")
    want = {r: load(model_dir).predict(f) for r, f in parts.items()}
    monkeypatch.setattr(TabularPredictor, "predict", no_frames)
    result = score_dataset(model_dir, tmp_path / "data", tmp_path / "out", partition_rows=64, progress=False)
    assert result.rows == 600 and not result.failed
    for region in parts:
        got = pd.read_parquet(tmp_path / "out" / f"region={region}" / "part-0.parquet")
        pd.testing.assert_frame_equal(got.drop(columns="region"), want[region], check_dtype=False, rtol=0, atol=1e-12)


def _files(telco: pd.DataFrame, root, n: int) -> None:
    """``n`` partitions of 100 rows each."""
    root.mkdir()
    for i in range(n):
        frame = telco.iloc[i * 100:(i + 1) * 100].drop(columns=["churn"])
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), root / f"p{i}.parquet")


def test_each_worker_loads_the_model_once_and_the_parent_not_at_all(telco, model_dir, tmp_path):
    """Workers stay warm across partitions: with 2 jobs and 6 partitions, at most two processes (neither of them
    this one) each loaded the model exactly once; with 1 job this process loads it once for the run (the
    check and the scoring share that load)."""
    import os

    from workbench.batch import _score

    _files(telco, tmp_path / "data", 6)
    before = _score._LOADS[0]
    result = score_dataset(model_dir, tmp_path / "data", tmp_path / "out", jobs=2, progress=False)
    assert result.rows == 600 and not result.failed
    assert 1 <= len(result.loads) <= 2 and os.getpid() not in result.loads
    assert set(result.loads.values()) == {1}
    assert _score._LOADS[0] == before
    local = score_dataset(model_dir, tmp_path / "data", tmp_path / "out1", jobs=1, progress=False)
    assert local.loads == {os.getpid(): before + 1}
    for i in range(6):
        assert pq.read_table(tmp_path / "out" / f"p{i}.parquet").equals(pq.read_table(tmp_path / "out1" / f"p{i}.parquet"))


def test_a_model_the_workers_cannot_load_stops_the_run(telco, model_dir, tmp_path):
    """A model file whose hash matches its card (the parent only checks hashes when workers score) but that
    does not load: the run stops with one error naming the file, nothing is written, no partition is tried."""
    import shutil

    from workbench.errors import ModelError
    from workbench.models import read_card, save_card

    broken = tmp_path / "model"
    shutil.copytree(model_dir, broken)
    (broken / "model.skops").write_bytes(b"PK\x03\x04 not a zip archive")
    save_card(broken, read_card(broken))  # the hashes recorded for the damaged file
    _files(telco, tmp_path / "data", 3)
    for jobs in (2, 1):
        with pytest.raises(ModelError, match="model.skops") as info:
            score_dataset(broken, tmp_path / "data", tmp_path / f"out{jobs}", jobs=jobs, progress=False)
        assert len(str(info.value).splitlines()) == 1
        assert not [p for p in (tmp_path / f"out{jobs}").rglob("*") if p.is_file()]


def test_text_features_read_as_dictionaries_give_the_frame_path_values(telco, model_dir, tmp_path, monkeypatch):
    """Only the model's columns are read and its text features as dictionaries; a batch the whole-array path
    declines (an infinite number) goes through the frame with the text decoded, and every output matches
    ``predict`` on the file's frame (a column the model does not use changes nothing)."""
    frame = telco.iloc[:300].drop(columns=["churn"]).reset_index(drop=True)
    frame["notes"] = "free text the model never reads"
    frame.loc[150, "monthly_charges"] = np.inf
    (tmp_path / "data").mkdir()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "data" / "p.parquet", row_group_size=70)
    predictor = load(model_dir)
    columns, encoded = predictor.arrow_columns(pq.read_schema(tmp_path / "data" / "p.parquet"))
    assert "notes" not in columns and encoded and set(encoded) <= set(predictor.model.categorical)
    from workbench.tabular._persist import TabularPredictor

    seen, frames = [], TabularPredictor.predict
    monkeypatch.setattr(TabularPredictor, "predict", lambda self, df: seen.append(df.dtypes) or frames(self, df))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = score_dataset(model_dir, tmp_path / "data", tmp_path / "out", partition_rows=100, progress=False)
        assert len(seen) == 1 and not any(isinstance(t, pd.CategoricalDtype) for t in seen[0])  # text, decoded
        want = pa.Table.from_pandas(predictor.predict(frame), preserve_index=False).to_pandas()  # as a file holds it
    assert result.rows == 300 and not result.failed
    got = pd.read_parquet(tmp_path / "out" / "p.parquet")
    assert got["error"].notna().sum() == 1
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=0, atol=1e-12)
    assert pq.ParquetFile(tmp_path / "out" / "p.parquet").metadata.num_row_groups == 3  # 100 rows per batch
