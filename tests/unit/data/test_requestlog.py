"""The request-log format that ``workbench serve`` writes, read back as a table; planted shifts."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from workbench.data import load_dataset, log_files, plant_shift, read_request_log
from workbench.errors import DatasetError


def write_log(path, rows: list[dict], outputs: list[dict] | None = None, model: str = "churn", extra: str = "") -> None:
    lines = [json.dumps({"ts": f"2024-06-0{1 + i % 3}T12:00:0{i % 10}Z", "model": model, "latency_ms": 1.5 + i,
                         "input": r, "output": (outputs or [{}] * len(rows))[i]}) for i, r in enumerate(rows)]
    text = "\n".join(lines) + "\n" + extra
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def test_a_folder_of_rotating_files_with_a_torn_line_and_a_gzip(tmp_path):
    folder = tmp_path / "churn"
    folder.mkdir()
    write_log(folder / "requests-2024-06-01.jsonl", [{"tenure": 1, "contract": "One year"}, {"tenure": 5}],
              [{"prediction": "No", "proba_No": 0.9, "proba_Yes": 0.1}, {"prediction": "Yes", "proba_No": 0.2,
                                                                         "proba_Yes": 0.8}],
              extra='\n{"ts": "2024-06-01T12:00:09Z", "input": {"ten')
    write_log(folder / "requests-2024-06-02.jsonl.gz", [{"tenure": 7, "contract": "Two year", "new_col": True}],
              [{"prediction": "No", "proba_No": 0.7, "proba_Yes": 0.3}])
    (folder / "notes.txt").write_text("not a log")
    ds = load_dataset(str(folder))
    assert list(ds.frame.columns) == ["tenure", "contract", "new_col"] and len(ds.frame) == 3
    assert ds.frame["tenure"].tolist() == [1, 5, 7] and pd.isna(ds.frame.loc[1, "contract"])
    outputs, meta, log = ds.extra["outputs"], ds.extra["meta"], ds.extra["log"]
    assert outputs["proba_Yes"].tolist() == [0.1, 0.8, 0.3]
    assert str(meta["ts"].dtype).startswith("datetime64") and meta["latency_ms"].tolist() == [1.5, 2.5, 1.5]
    assert log["skipped_lines"] == 1 and "requests-2024-06-01.jsonl:4: not JSON" in log["skipped_examples"][0]
    assert log["models"] == {"churn": 3} and len(log["files"]) == 2
    assert log_files(str(tmp_path / "churn" / "*.jsonl*")) == log_files(folder)


def test_flattened_parquet_logs_read_the_same(tmp_path):
    df = pd.DataFrame({"ts": ["2024-06-01T00:00:00Z"] * 2, "model": "m", "latency_ms": [1.0, 2.0],
                       "input.tenure": [3, 4], "input.contract": ["One year", None], "output.prediction": ["No", "Yes"]})
    df.to_parquet(tmp_path / "log.parquet")
    ds = read_request_log(tmp_path / "log.parquet")
    assert list(ds.frame.columns) == ["tenure", "contract"] and ds.extra["outputs"]["prediction"].tolist() == ["No", "Yes"]
    pd.DataFrame({"tenure": [1]}).to_parquet(tmp_path / "plain.parquet")
    assert log_files(tmp_path / "plain.parquet") is None  # an ordinary table stays a table
    assert list(load_dataset(str(tmp_path / "plain.parquet")).frame.columns) == ["tenure"]


@pytest.mark.parametrize("content, match", [
    ("", "has no requests .*0 non-blank line"),
    ('{"input": 3}\nnot json\n', r"has no requests .*2 non-blank line.*no 'input' object"),
])
def test_a_log_without_requests_is_a_clear_error(tmp_path, content, match):
    (tmp_path / "r.jsonl").write_text(content)
    with pytest.raises(DatasetError, match=match):
        load_dataset(str(tmp_path / "r.jsonl"))


def test_a_folder_without_logs_says_what_it_expected(tmp_path):
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DatasetError, match="folder without request logs"):
        load_dataset(str(tmp_path))


def test_plant_shift_changes_exactly_what_it_says():
    df = pd.DataFrame({"x": np.arange(1000), "c": ["a", "b"] * 500, "y": np.linspace(0, 1, 1000)})
    out = plant_shift(df, {"x": {"add": 6}, "c": {"set": "z", "fraction": 0.3}, "y": {"missing": 0.1}}, seed=1)
    assert (out["x"] - df["x"]).eq(6).all() and (out["c"] == "z").sum() == 300
    assert out["y"].isna().sum() == 100 and df["y"].notna().all()  # the input is untouched
    with pytest.raises(DatasetError, match="cannot scale column 'c'"):
        plant_shift(df, {"c": {"scale": 2}})
    with pytest.raises(DatasetError, match="'nope'.*not a column"):
        plant_shift(df, {"nope": {"add": 1}})
    with pytest.raises(DatasetError, match="exactly one of"):
        plant_shift(df, {"x": {"add": 1, "scale": 2}})
