"""Reading a served name's log for the rollout: the rollout keys, older lines, versions, the window, labels."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench.data import read_request_log
from workbench.errors import DatasetError
from workbench.rollout._log import load_labels, read_requests


def line(i: int, variant: str | None = None, version: str | None = None, day: int = 1, rid: str | None = None,
         model: str = "churn", **out) -> dict:
    rec = {"ts": f"2024-06-{day:02d}T10:00:{i % 60:02d}Z", "model": model, "latency_ms": 5.0 + i,
           "input": {"customer": f"c{i}", "tenure": i},
           "output": {"prediction": "No", "proba_No": 0.8, "proba_Yes": 0.2, "error": None, **out}}
    extra = {"request_id": rid if rid is not None else f"{i:08x}", "variant": variant, "version": version}
    return {**rec, **{k: v for k, v in extra.items() if v is not None}} if variant else rec


def test_the_reader_keeps_the_rollout_keys_and_reads_older_lines_as_the_champion(tmp_path, write_log):
    # 1,200 older lines first: the keys appear only after the reader's first 1,000 records
    records = [line(i) for i in range(1200)] + [line(2000, "challenger", "churn:2", rid="ab12"),
                                                 line(2001, "shadow", "churn:2", rid="ab12")]
    write_log(tmp_path / "churn", records)
    meta = read_request_log(tmp_path / "churn").extra["meta"]
    assert {"request_id", "variant", "version"} <= set(meta.columns)
    assert meta["variant"].value_counts().to_dict() == {"champion": 1200, "challenger": 1, "shadow": 1}
    assert meta["request_id"].iloc[0] is None and meta["request_id"].iloc[-1] == "ab12"
    assert meta["version"].iloc[-2:].tolist() == ["churn:2", "churn:2"]


def test_a_log_of_older_lines_only_has_nothing_to_compare(tmp_path, write_log):
    write_log(tmp_path / "churn", [line(i) for i in range(5)])
    assert read_request_log(tmp_path / "churn").extra["meta"]["variant"].tolist() == ["champion"] * 5
    with pytest.raises(DatasetError, match="only champion lines: nothing to compare"):
        read_requests(tmp_path / "churn", id_column="customer")


def test_the_window_versions_and_unknown_variants(tmp_path, write_log):
    records = [line(i, "champion", "churn:1", day=1) for i in range(3)]  # before the experiment
    records += [line(10 + i, "champion", "churn:1", day=2) for i in range(4)]
    records += [line(20, "champion", "churn:0", day=2)]  # an older champion version, same window
    records += [line(5 + i, "challenger", "churn:2", day=2) for i in range(3)]  # the first at 10:00:05
    records += [line(40, "canary-x", "churn:9", day=3)]
    write_log(tmp_path / "churn", records)
    q = read_requests(tmp_path / "churn", id_column="customer")
    assert q.counts() == {"champion": 4, "challenger": 3} and q.versions == {"champion": "churn:1", "challenger": "churn:2"}
    assert q.task == "binary" and q.classes == ["No", "Yes"] and q.days == ["2024-06-02"]
    notes = " | ".join(q.notes)
    assert "1 line(s) with an unknown variant left out" in notes
    assert "1 champion line(s) of other versions left out (churn:0)" in notes
    assert "3 champion line(s) before the experiment began" in notes
    q0 = read_requests(tmp_path / "churn", id_column="customer", champion_version="churn:0")
    assert q0.counts()["champion"] == 1
    with pytest.raises(DatasetError, match="champion_version 'churn:7' has no champion lines.*churn:1, churn:0"):
        read_requests(tmp_path / "churn", id_column="customer", champion_version="churn:7")


def test_errors_request_ids_and_several_models(tmp_path, write_log):
    records = [line(3, "challenger", "churn:2", rid="r2", error="bad input"), line(4, "champion", "churn:1", rid="r1"),
               line(5, "champion", "churn:1", rid="r1")]
    records += [line(9, "challenger", "x:1", model="other")]
    write_log(tmp_path / "all", records)
    with pytest.raises(DatasetError, match="several served names \\(churn, other\\)"):
        read_requests(tmp_path / "all", id_column="customer")
    q = read_requests(tmp_path / "all", id_column="customer", model="churn")
    assert q.counts() == {"champion": 1, "challenger": 1}  # two rows of one request
    assert q.lines["error"].tolist() == [True, False, False]
    with pytest.raises(DatasetError, match="id_column 'user' is not among the logged inputs \\(customer, tenure\\)"):
        read_requests(tmp_path / "all", id_column="user", model="churn")
    with pytest.raises(DatasetError, match="holds no request log"):
        read_requests(tmp_path / "nothing", id_column="customer")


def test_labels_are_checked(tmp_path):
    frame = pd.DataFrame({"customer": ["c1", "c1", "c2"], "churn": ["Yes", "No", "No"]})
    with pytest.raises(DatasetError, match="2 rows sharing a key in 'customer'"):
        load_labels(frame, id_column="customer", label_column="churn", ranking=False)
    with pytest.raises(DatasetError, match="lacks 'label'"):
        load_labels(frame, id_column="customer", label_column="label", ranking=False)
    frame.to_csv(tmp_path / "labels.csv", index=False)
    got = load_labels(str(tmp_path / "labels.csv"), id_column="customer", label_column="churn", ranking=True,
                      time_column="churn")  # interactions may repeat a key
    assert len(got) == 3 and got["_key"].tolist() == ["c1", "c1", "c2"]


def test_json_and_csv_keys_join_whatever_their_types():
    from workbench.rollout._outcomes import key_text

    assert key_text(7) == key_text(7.0) == key_text("7") == "7" and key_text(None) is None
    assert json.loads(json.dumps({"k": 7}))["k"] == 7
