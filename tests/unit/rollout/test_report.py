"""The rollout report on logs with planted differences: each verdict, its command, the recorded values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench import rollout
from workbench.errors import DatasetError, ParameterError
from workbench.rollout import RolloutReport


def report(log, labels, **kwargs) -> RolloutReport:
    return RolloutReport(log, labels, id_column="customer", label_column="churn", **kwargs)


def test_a_planted_better_challenger_is_promoted(make_log, tmp_path):
    r = report(*make_log(champion_noise=1.0, challenger_noise=0.3))
    h = r.headline()
    assert h["verdict"] == "promote" and h["metric_delta"] < -0.05 and h["p_value"] < 0.05
    assert (h["n_champion"], h["n_challenger"]) == (2058, 1942) and h["n_champion"] + h["n_challenger"] == 4000
    assert h["srm_p"] == pytest.approx(0.0666, abs=1e-4)
    assert r.result.commands == ["workbench models alias churn champion 2"]
    t = r.table.set_index("variant")
    assert t.loc["challenger", "value"] < t.loc["champion", "value"]  # log-loss, lower is better
    assert t.loc["challenger", "roc_auc"] > t.loc["champion", "roc_auc"] and t.loc["champion", "auc_low"] < \
        t.loc["champion", "roc_auc"] < t.loc["champion", "auc_high"]
    assert h["metric_delta"] == pytest.approx(t.loc["challenger", "value"] - t.loc["champion", "value"])
    path = rollout.save(r, tmp_path / "out")
    saved = pd.read_csv(path)
    assert saved["variant"].tolist() == ["champion", "challenger"]
    assert {"value", "low", "high", "roc_auc", "error_rate", "latency_p99_ms"} <= set(saved.columns)
    days = pd.read_csv(tmp_path / "out" / "rollout_days.csv")
    assert len(days) == 14 and days["n_champion"].iloc[-1] + days["n_challenger"].iloc[-1] == 4000
    assert days["p_value"].is_monotonic_decreasing  # always valid: it never rises


def test_a_planted_worse_challenger_is_rolled_back(make_log):
    r = report(*make_log(champion_noise=0.3, challenger_noise=1.0))
    assert r.result.decision == "roll back" and r.headline()["metric_delta"] > 0.05
    assert r.result.commands[0] == "workbench models alias churn challenger 1"
    assert "significantly worse" in r.result.reasons[0]


def test_two_identical_models_keep_collecting_with_an_estimate(make_log):
    r = report(*make_log())
    v = r.result
    assert v.decision == "keep collecting" and v.commands == []
    assert v.samples_needed is None or v.samples_needed > 10_000
    assert r.headline()["p_value"] > 0.5


def test_a_sample_ratio_mismatch_allows_no_other_verdict(make_log):
    # the challenger is far better, but 10% of its lines were lost: the comparison cannot be trusted
    r = report(*make_log(champion_noise=1.0, challenger_noise=0.3, drop_challenger=0.1))
    h = r.headline()
    assert h["verdict"] == "investigate the assignment" and h["srm_p"] < 0.001
    assert r.result.commands == [] and "SAMPLE RATIO MISMATCH" in r.result.reasons[0]
    assert "SAMPLE RATIO MISMATCH" in repr(r.srm())


@pytest.mark.parametrize("kwargs, what", [(dict(errors=(0.0, 0.03)), "error rate"),
                                          (dict(latency=(20.0, 30.0)), "p99 latency")])
def test_a_breached_guardrail_rolls_back_a_better_challenger(make_log, kwargs, what):
    r = report(*make_log(champion_noise=1.0, challenger_noise=0.3, **kwargs))
    assert r.result.decision == "roll back" and r.result.reasons[0].startswith(f"guardrail {what}")
    # a looser limit lets the better challenger through
    loose = {"error_rate": 0.05} if what == "error rate" else {"p99_latency": 1.0}
    assert report(*make_log(champion_noise=1.0, challenger_noise=0.3, **kwargs), guardrails=loose).result.decision == \
        "promote"


def test_shadow_mode_is_paired(make_log):
    log, labels = make_log(mode="shadow", champion_noise=1.0, challenger_noise=0.3)
    r = report(log, labels)
    assert r.mode == "shadow" and r.srm_result is None
    h = r.headline()
    assert h["verdict"] == "promote" and h["srm_p"] is None and h["n_champion"] == h["n_challenger"] == 4000
    s = r.shadow()
    text = s.parts[0].to_string()
    assert "request pairs" in text and "4,000 (4,000 labelled)" in text and "DeLong p" in text
    # the paired estimate is the mean per-request difference (checked by hand on the lines)
    lines = r.requests.lines
    va = r.values[(lines["variant"] == "champion").to_numpy()]
    vb = r.values[(lines["variant"] == "shadow").to_numpy()]
    order_a = lines.loc[lines["variant"] == "champion", "request_id"].to_numpy()
    order_b = lines.loc[lines["variant"] == "shadow", "request_id"].to_numpy()
    assert (order_a == order_b).all()
    assert h["metric_delta"] == pytest.approx(float(np.mean(vb - va)), abs=1e-12)
    assert r.looks["estimate"].iloc[-1] == pytest.approx(float(np.mean(vb - va)), abs=1e-12)


def test_a_non_inferiority_margin_promotes_an_equal_challenger(make_log):
    log, labels = make_log(mode="shadow", champion_noise=0.5, challenger_noise=0.5, seed=2)
    assert report(log, labels).result.decision == "keep collecting"
    r = report(log, labels, margin=0.05)
    assert r.result.decision == "promote" and "not worse by more than the margin 0.05" in r.result.reasons[0]


def test_every_section_displays_without_failures(make_log):
    r = report(*make_log(champion_noise=1.0, challenger_noise=0.5))
    parts = [r.overview(), r.srm(), r.guardrails(), r.variants(), r.shadow(), r.sequential(), r.validity(),
             r.verdict()]
    assert r.failures == [] and not any("could not be computed" in repr(p) for p in parts)
    assert "no shadow lines in this log" in repr(parts[4])
    assert "mSPRT flags" in repr(parts[6]) and "PROMOTE" in repr(parts[7])
    assert repr(parts[7].parts[1]) == "workbench models alias churn champion 2"
    assert "<pre" in parts[7].parts[1]._repr_html_()
    fig = parts[5].parts[0]
    assert [t.name for t in fig.data][:2] == ["always-valid confidence sequence", "estimate"]


def test_bad_arguments_fail_before_any_statistic(make_log):
    log, labels = make_log(n=200)
    with pytest.raises(ParameterError, match="ROC-AUC is not a mean over requests"):
        report(log, labels, metric="roc_auc")
    with pytest.raises(ParameterError, match="alpha must be a number in \\(0, 1\\)"):
        report(log, labels, alpha=0)
    with pytest.raises(DatasetError, match="mode 'shadow' needs shadow lines"):
        report(log, labels, mode="shadow")
    with pytest.raises(ParameterError, match="unknown guardrail 'latency'"):
        report(log, labels, guardrails={"latency": 1})
    with pytest.raises(DatasetError, match="no logged request has a label"):
        report(log, labels.assign(customer=labels["customer"] + "x"))
    with pytest.raises(DatasetError, match="values the model does not predict: \\['0', '1'\\]"):
        report(log, labels.assign(churn=np.arange(len(labels)) % 2))


def test_accuracy_and_brier_are_per_request_means(make_log):
    log, labels = make_log(n=400)
    r = report(log, labels, metric="accuracy")
    lines = r.requests.lines
    y = lines["key"].map(dict(zip(labels["customer"], labels["churn"])))
    champ = lines["variant"] == "champion"
    assert r.table.set_index("variant").loc["champion", "value"] == pytest.approx(
        float((lines.loc[champ, "prediction"] == y[champ]).mean()))
    b = report(log, labels, metric="brier")
    expected = ((lines["proba_Yes"] - (y == "Yes")) ** 2)[champ].mean()
    assert b.table.set_index("variant").loc["champion", "value"] == pytest.approx(float(expected))
    assert not math.isnan(b.table["low"].iloc[0])


def _records(n: int, outputs, variants, versions, seed: int = 0) -> list[dict]:
    t0 = pd.Timestamp("2024-06-01", tz="UTC")
    return [{"ts": (t0 + pd.Timedelta(hours=i * 240 / n)).strftime("%Y-%m-%dT%H:%M:%SZ"), "model": "m",
             "latency_ms": 10.0, "input": {"customer": f"c{i}"}, "output": outputs[i], "request_id": f"{i:08x}",
             "variant": variants[i], "version": versions[i]} for i in range(n)]


def test_a_regression_rollout_tests_squared_errors_and_shows_rmse(tmp_path, write_log):
    rng = np.random.default_rng(0)
    n = 3000
    y = rng.normal(100, 20, n)
    to_b = rng.random(n) < 0.5
    to_b[0] = True  # the experiment starts at the first challenger line
    pred = y + rng.normal(0, np.where(to_b, 5.0, 8.0))  # the challenger errs less
    write_log(tmp_path / "m", _records(n, [{"prediction": float(p), "error": None} for p in pred],
                                       np.where(to_b, "challenger", "champion"), np.where(to_b, "m:2", "m:1")))
    labels = pd.DataFrame({"customer": [f"c{i}" for i in range(n)], "y": y})
    r = RolloutReport(tmp_path / "m", labels, id_column="customer", label_column="y")
    assert r.requests.task == "regression" and r.metric.key == "rmse"
    t = r.table.set_index("variant")
    rmse = {v: float(np.sqrt(np.mean((pred - y)[m] ** 2))) for v, m in (("champion", ~to_b), ("challenger", to_b))}
    assert t.loc["champion", "value"] == pytest.approx(rmse["champion"])
    sq = ((pred - y)[~to_b]) ** 2  # the interval: the root of the mean squared error's normal interval
    half = 1.959963984540054 * sq.std(ddof=1) / np.sqrt(len(sq))
    assert (t.loc["champion", "low"], t.loc["champion", "high"]) == pytest.approx(
        (np.sqrt(sq.mean() - half), np.sqrt(sq.mean() + half)), rel=1e-9)
    assert r.headline()["metric_delta"] == pytest.approx(rmse["challenger"] - rmse["champion"])
    # the sequential test compares mean squared errors
    assert r.looks["estimate"].iloc[-1] == pytest.approx(np.mean((pred - y)[to_b] ** 2) - np.mean((pred - y)[~to_b] ** 2))
    assert r.result.decision == "promote" and r.result.commands == ["workbench models alias m champion 2"]
    mae = RolloutReport(tmp_path / "m", labels, id_column="customer", label_column="y", metric="mae", challenger_share=0.5)
    assert mae.table.set_index("variant").loc["challenger", "value"] == pytest.approx(np.mean(np.abs(pred - y)[to_b]))


def test_a_multiclass_shadow_scores_the_true_class(tmp_path, write_log):
    rng = np.random.default_rng(1)
    n = 600
    classes = ["a", "b", "c"]
    y = rng.choice(classes, n)
    proba = [rng.dirichlet([1, 1, 1], n) for _ in range(2)]
    outs = [[{"prediction": classes[int(np.argmax(p[i]))], **{f"proba_{c}": float(p[i, j]) for j, c in enumerate(classes)},
              "error": None} for i in range(n)] for p in proba]
    records = []
    for side, (variant, version) in enumerate((("champion", "m:1"), ("shadow", "m:2"))):
        records += _records(n, outs[side], [variant] * n, [version] * n)
    write_log(tmp_path / "m", records)
    labels = pd.DataFrame({"customer": [f"c{i}" for i in range(n)], "y": y})
    r = RolloutReport(tmp_path / "m", labels, id_column="customer", label_column="y")
    assert r.requests.task == "multiclass" and r.mode == "shadow" and r.requests.classes == classes
    true = np.array([classes.index(v) for v in y])
    ll = [-np.log(p[np.arange(n), true]) for p in proba]
    assert r.table.set_index("variant").loc["champion", "value"] == pytest.approx(ll[0].mean())
    assert r.metric_delta() == pytest.approx((ll[1] - ll[0]).mean())
    agree = np.mean(np.argmax(proba[0], 1) == np.argmax(proba[1], 1))
    assert r.shadow_result["agreement"] == pytest.approx(agree)
    brier = RolloutReport(tmp_path / "m", labels, id_column="customer", label_column="y", metric="brier")
    hot = np.eye(3)[true]
    assert brier.table.set_index("variant").loc["shadow", "value"] == pytest.approx(((proba[1] - hot) ** 2).sum(1).mean())


def test_labels_for_one_side_only_keep_collecting(make_log):
    log, labels = make_log(n=400)
    r = report(log, labels)
    champions = set(r.requests.of("champion")["key"])
    r = report(log, labels[labels["customer"].isin(champions)])  # the challenger's labels have not arrived
    assert r.result.decision == "keep collecting" and "too few labelled requests on one side" in r.result.reasons[0]
    assert r.table.set_index("variant").loc["challenger", "labelled"] == 0
