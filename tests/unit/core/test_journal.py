import json
import math

import nbformat
import numpy as np
import pytest

from workbench.core.journal import MIME, _to_scalar, read_records


def test_scalars_are_converted():
    assert _to_scalar("a", np.float32(0.5)) == 0.5
    assert isinstance(_to_scalar("a", np.int64(3)), int)
    assert _to_scalar("a", "catboost") == "catboost"
    assert _to_scalar("a", float("nan")) is None
    assert _to_scalar("a", True) is True


def test_non_scalars_and_bad_names_are_rejected():
    with pytest.raises(TypeError, match="number or a string"):
        _to_scalar("a", [1, 2])
    with pytest.raises(ValueError, match="non-empty"):
        _to_scalar("", 1)


def test_read_records_last_wins_and_ignores_other_outputs():
    nb = nbformat.v4.new_notebook()
    c1 = nbformat.v4.new_code_cell("")
    c1.outputs = [nbformat.v4.new_output("display_data", data={MIME: {"name": "auc", "value": 0.7}, "text/plain": "x"}),
                  nbformat.v4.new_output("stream", text="hello")]
    c2 = nbformat.v4.new_code_cell("")
    c2.outputs = [nbformat.v4.new_output("display_data", data={MIME: {"name": "auc", "value": 0.8}}),
                  nbformat.v4.new_output("display_data", data={MIME: {"name": "model", "value": "rf"}})]
    nb.cells = [nbformat.v4.new_markdown_cell("x"), c1, c2]
    assert read_records(nb) == {"auc": 0.8, "model": "rf"}
    assert not math.isnan(read_records(nb)["auc"])


def test_every_kind_written_in_a_headless_kernel_is_read_back_by_its_reader(tmp_path, monkeypatch):
    """Writers (record, record_curve, Tracker) and readers (:class:`Journal`) of one journal agree on every kind."""
    import pandas as pd
    import plotly.graph_objects as go

    from workbench.core import context, journal
    from workbench.core.tracking import Tracker

    ctx = context.RunContext(run_id="r1", run_dir=str(tmp_path / "run"), notebook="nb", work_dir=str(tmp_path))
    monkeypatch.setenv(context.ENV, str(ctx.write()))
    monkeypatch.setattr(journal, "_display", lambda data: None)
    journal.record("auc", 0.5)
    journal.record("auc", np.float64(0.75))
    journal.record_curve("roc", [0, 1], [0, 1], "fpr", "tpr")
    t = Tracker()
    t.log({"loss": 1.0}, step=0)
    t.log({"loss": 0.5}, step=1)
    t.log_table("board / 1", pd.DataFrame({"m": ["a"], "auc": [0.75]}))
    t.log_figure("fig", go.Figure(go.Bar(x=["a"], y=[1])))
    t.log_artifact(tmp_path / "model", name="model")
    t.summary({"best": "a"})
    t.summary({"n": 2})
    with open(ctx.journal, "a") as f:
        f.write('{"kind": "record", "name": "torn"')  # a kernel killed mid-line
    j = journal.Journal.read(ctx.journal)
    assert j.records() == {"auc": 0.75}
    assert j.curves() == {"roc": {"x": [0.0, 1.0], "y": [0.0, 1.0], "xlabel": "fpr", "ylabel": "tpr"}}
    assert j.history() == [(0, {"loss": 1.0}), (1, {"loss": 0.5})]
    assert j.summary() == {"best": "a", "n": 2}
    (table, fig) = j.files(journal.TABLE, journal.FIGURE)
    assert table[:2] == ("table", "board / 1") and pd.read_json(__import__("io").StringIO(table[2]),
                                                                 orient="split")["auc"].tolist() == [0.75]
    assert fig[:2] == ("figure", "fig") and '"type":"bar"' in fig[2].replace(" ", "")
    assert j.artifacts() == [("model", "model", (tmp_path / "model").resolve())]
    assert {e["kind"] for e in j.entries} == set(journal.KINDS)
    assert j.map(lambda e: {**e, "name": "x"} if e["kind"] == "record" else e).records() == {"x": 0.75}


def test_journal_refuses_unknown_kinds_and_reads_side_files_only_beside_it(tmp_path):
    from workbench.core.journal import TABLE, Journal, append

    with pytest.raises(ValueError, match="journal entry kind must be one of record, curve"):
        append("metric", name="x")
    (tmp_path / "secret.txt").write_text("outside")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "secret.txt").write_text("inside")
    (tmp_path / "work" / "journal.jsonl").write_text(json.dumps({"kind": TABLE, "name": "t", "path": "../secret.txt"}))
    assert Journal.read(tmp_path / "work" / "journal.jsonl").files(TABLE) == [("table", "t", "inside")]
    assert Journal.read(tmp_path / "missing.jsonl").entries == ()
