"""The offline rollout: two saved models replayed over a labelled table, logged like ``workbench serve``."""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from workbench.errors import DatasetError, ParameterError
from workbench.rollout import RolloutReport, simulate
from workbench.rollout._log import read_requests
from workbench.rollout._simulate import assign_variant


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A logistic regression and a majority-class dummy on part of the Telco table; the rest is the replay."""
    from workbench import tabular
    from workbench.data import load_dataset

    data = load_dataset("telco_churn")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(data.frame.iloc[:1500], "churn", positive_label="Yes", models=["logreg", "dummy"],
                                    folds=2, seed=0)
        comparison = tabular.compare_models(task)
        folder = tmp_path_factory.mktemp("models")
        dirs = [tabular.save(tabular.fit_best(task, comparison, name), folder / name) for name in ("logreg", "dummy")]
    return dirs[0], dirs[1], data.frame.iloc[1500:2100].reset_index(drop=True)


def read(folder) -> list[dict]:
    return [json.loads(x) for f in sorted(folder.glob("requests-*.jsonl")) for x in f.read_text().splitlines()]


def test_an_ab_replay_is_logged_like_the_server(models, tmp_path):
    champ, chall, rows = models
    sim = simulate(champ, chall, rows, tmp_path, id_column="rownames", label_column="churn", days=5,
                   challenger_share=0.3)
    assert sorted(p.name for p in sim.log.iterdir()) == [f"requests-2024060{d}.jsonl" for d in range(1, 6)]
    lines = read(sim.log)
    assert len(lines) == sim.n_requests == 600 and sim.lines["champion"] + sim.lines["challenger"] == 600
    first = lines[0]
    assert list(first) == ["ts", "model", "latency_ms", "input", "output", "request_id", "variant", "version"]
    assert "churn" not in first["input"] and "rownames" in first["input"]  # the label is never sent
    assert {"prediction", "proba_No", "proba_Yes", "error"} <= set(first["output"]) and \
        "rownames" not in first["output"]
    # the assignment is the salted hash of the key, nothing else
    by_key = {line["input"]["rownames"]: line["variant"] for line in lines}
    expected = {k: int.from_bytes(hashlib.sha256(f"churn:{k}".encode()).digest()[:8], "big") / 2**64 < 0.3
                for k in rows["rownames"]}
    assert by_key == {k: "challenger" if v else "champion" for k, v in expected.items()}
    # the dummy gives every challenger request the same answer; the logistic regression does not
    assert len({line["output"]["prediction"] for line in lines if line["variant"] == "challenger"}) == 1
    assert len({line["output"]["prediction"] for line in lines if line["variant"] == "champion"}) == 2
    assert {line["version"] for line in lines if line["variant"] == "challenger"} == {"churn:2"}
    labels = pd.read_csv(sim.labels)
    assert labels.columns.tolist() == ["rownames", "churn"] and len(labels) == 600


def test_shadow_and_both_pair_every_champion_request(models, tmp_path):
    champ, chall, rows = models
    shadow = read(simulate(champ, chall, rows, tmp_path / "s", id_column="rownames", label_column="churn",
                           mode="shadow").log)
    assert len(shadow) == 1200 and {v["variant"] for v in shadow} == {"champion", "shadow"}
    pairs = pd.DataFrame(shadow).groupby("request_id")["variant"].apply(sorted)
    assert (pairs.map(tuple) == ("champion", "shadow")).all()
    both = simulate(champ, chall, rows, tmp_path / "b", id_column="rownames", label_column="churn", mode="both")
    assert both.lines["shadow"] == both.lines["champion"] and both.lines["champion"] + both.lines["challenger"] == 600


def test_a_replay_is_reproducible_and_the_assignment_sticky(models, tmp_path):
    champ, chall, rows = models
    a = simulate(champ, chall, rows, tmp_path / "a", id_column="rownames", label_column="churn", seed=1)
    b = simulate(champ, chall, rows, tmp_path / "b", id_column="rownames", label_column="churn", seed=1)
    assert [f.read_bytes() for f in sorted(a.log.iterdir())] == [f.read_bytes() for f in sorted(b.log.iterdir())]
    c = read(simulate(champ, chall, rows, tmp_path / "c", id_column="rownames", label_column="churn", seed=2).log)
    assert {x["input"]["rownames"]: x["variant"] for x in c} == {x["input"]["rownames"]: x["variant"] for x in read(a.log)}
    # rerunning into the same folder replaces the log; compressed files hold the same lines
    again = simulate(champ, chall, rows, tmp_path / "a", id_column="rownames", label_column="churn", seed=1,
                     compress=True)
    assert sorted(p.name for p in again.log.iterdir())[0] == "requests-20240601.jsonl.gz"
    assert len(list(again.log.iterdir())) == 14
    packed = read_requests(again.log, id_column="rownames").lines
    plain = read_requests(b.log, id_column="rownames").lines
    pd.testing.assert_frame_equal(packed, plain)


def test_the_report_reads_a_replay(models, tmp_path):
    champ, chall, rows = models
    sim = simulate(champ, chall, rows, tmp_path, id_column="rownames", label_column="churn", mode="both")
    r = RolloutReport(sim.log, sim.labels, id_column="rownames", label_column="churn")
    h = r.headline()
    assert h["n_champion"] + h["n_challenger"] == 600 and h["srm_p"] > 0.001
    assert r.requests.versions == {"champion": "churn:1", "challenger": "churn:2", "shadow": "churn:2"}
    t = r.table.set_index("variant")
    assert t.loc["challenger", "roc_auc"] == pytest.approx(0.5)  # a constant score ranks nothing
    assert t.loc["champion", "roc_auc"] > 0.75


def test_assign_variant_is_a_stable_share():
    keys = list(range(20000))
    got = assign_variant(keys, 0.1, "salt")
    assert abs(got.mean() - 0.1) < 3 * np.sqrt(0.1 * 0.9 / 20000)
    assert (assign_variant(keys[::-1], 0.1, "salt")[::-1] == got).all()  # order does not matter
    assert (assign_variant(keys, 0.1, "other") != got).any()  # the salt reshuffles
    assert not assign_variant(keys, 0.0).any() and assign_variant(keys, 1.0).all()


def test_bad_simulation_input(models, tmp_path):
    champ, chall, rows = models
    with pytest.raises(ParameterError, match="mode must be one of ab, shadow, both"):
        simulate(champ, chall, rows, tmp_path, id_column="rownames", label_column="churn", mode="canary")
    with pytest.raises(DatasetError, match="id_column 'rownames' must be unique"):
        simulate(champ, chall, pd.concat([rows, rows]), tmp_path, id_column="rownames", label_column="churn")
    with pytest.raises(DatasetError, match="label_column 'label' is not a column"):
        simulate(champ, chall, rows, tmp_path, id_column="rownames", label_column="label")
