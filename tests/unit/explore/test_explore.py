"""EDA building blocks: statistics against reference implementations, alerts that fire where they
should and nowhere else, and every section surviving awkward tables with a clear message."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench.data import column_summary, heavy_sample, load_dataset, missing_patterns, prepare_frame
from workbench.errors import DatasetError
from workbench.evaluation import Note, Panel
from workbench.evaluation import rank_auc as auc
from workbench.explore import Exploration
from workbench.explore._relations import cramers_v_matrix, grouped_auc, target_info, wilson_interval

SECTIONS = ("overview", "alerts", "summaries", "missing", "distributions", "correlations", "associations",
            "target_analysis")


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    return load_dataset("telco_churn").frame


@pytest.fixture(scope="module")
def telco_eda(telco) -> Exploration:
    return Exploration(telco, target="churn")


def alert_set(eda: Exploration) -> set[tuple[str, str]]:
    return set(zip(eda.alerts_table()["column"], eda.alerts_table()["alert"]))


def run_all(eda: Exploration) -> dict:
    out = {name: getattr(eda, name)() for name in SECTIONS}
    out["explorer"] = eda.explorer(interactive=False)
    assert eda.failures == [], eda.failures
    return out


def texts(result) -> str:
    parts = result.parts if isinstance(result, Panel) else [result]
    return " | ".join(p.text for p in parts if isinstance(p, Note))


# ----------------------------------------------------------------------------- real data


def test_telco_headline(telco_eda):
    h = telco_eda.headline()
    assert (h["rows"], h["columns"], h["duplicate_rows"]) == (7043, 21, 0)
    assert h["missing_fraction"] == pytest.approx(11 / (7043 * 21), rel=1e-3)
    assert h["target_rate"] == pytest.approx(1869 / 7043, abs=1e-5)
    assert telco_eda.target_info.positive == "Yes"


def test_record_sends_the_headline_to_the_run(telco_eda, monkeypatch):
    from workbench import explore
    from workbench.explore import _outputs

    recorded = {}
    monkeypatch.setattr(_outputs, "record_value", lambda name, value: recorded.__setitem__(name, value))
    assert explore.record(telco_eda) == recorded
    assert list(recorded) == ["rows", "columns", "missing_fraction", "duplicate_rows", "alerts", "target_rate"]
    assert (recorded["rows"], recorded["columns"], recorded["alerts"]) == (7043, 21, 1)
    assert recorded["target_rate"] == pytest.approx(1869 / 7043, abs=1e-5)


def test_telco_alerts_only_the_row_index(telco_eda):
    # rownames is the customer index; nothing else in this clean table deserves an alert
    assert alert_set(telco_eda) == {("rownames", "id-like")}


def test_telco_summary_matches_pandas(telco, telco_eda):
    s = telco_eda.summary_table
    tc = telco["total_charges"]
    row = s.loc["total_charges"]
    assert row["kind"] == "numeric" and row["missing"] == 11 and row["n_unique"] == tc.nunique()
    for ours, ref in (("mean", tc.mean()), ("std", tc.std()), ("p25", tc.quantile(0.25)), ("p50", tc.median()),
                      ("p75", tc.quantile(0.75)), ("min", tc.min()), ("max", tc.max()), ("skew", tc.skew())):
        assert row[ours] == pytest.approx(ref, rel=1e-9), ours
    tenure = telco["tenure"]  # integers in a small range: the counting path
    for ours, ref in (("mean", tenure.mean()), ("std", tenure.std()), ("p25", tenure.quantile(0.25)),
                      ("p50", tenure.median()), ("p75", tenure.quantile(0.75)), ("skew", tenure.skew())):
        assert s.loc["tenure", ours] == pytest.approx(ref, rel=1e-9), ours
    assert s.loc["tenure", "n_unique"] == tenure.nunique() and s.loc["tenure", "top"] == tenure.mode()[0]
    assert s.loc["tenure", "top_count"] == (tenure == tenure.mode()[0]).sum()
    assert telco_eda._deciles("tenure") == pytest.approx(tenure.quantile(np.linspace(0, 1, 11)).to_numpy())
    assert telco_eda._deciles("total_charges") == pytest.approx(tc.quantile(np.linspace(0, 1, 11)).to_numpy())
    assert s.loc["contract", "kind"] == "categorical" and s.loc["contract", "n_unique"] == 3
    assert s.loc["contract", "top"] == telco["contract"].value_counts().index[0]
    assert s.loc["female", "kind"] == "boolean"


def test_telco_target_rates_with_intervals(telco, telco_eda):
    t = telco_eda._target_table("contract").set_index("group")
    ref = (telco["churn"] == "Yes").groupby(telco["contract"]).mean()
    for g, rate in ref.items():
        assert t.loc[g, "rate"] == pytest.approx(rate)
        assert t.loc[g, "low"] < rate < t.loc[g, "high"]
    # month-to-month customers churn far more than two-year ones, and the intervals do not overlap
    assert t.loc["Month-to-month", "low"] > t.loc["Two year", "high"]
    bins = telco_eda._target_table("tenure")
    assert bins["rows"].sum() == 7043 and len(bins) >= 8
    assert bins["rate"].iloc[0] > bins["rate"].iloc[-1]  # new customers churn more


def test_leakage_suspects_fire_on_leaky_columns_only(telco):
    df = telco.copy()
    rng = np.random.default_rng(0)
    y = (df["churn"] == "Yes").to_numpy()
    df["churn_code"] = np.where(y, "C", "S")                                # a relabelled target
    df["refund_amount"] = y * 100 + rng.normal(0, 1, len(df))               # numeric, known after churn
    df["customer_id"] = [f"id-{i:05d}" for i in range(len(df))]            # unique: predicts nothing new
    eda = Exploration(df, target="churn")
    leaks = set(eda.alerts_table().query("alert == 'leakage suspect'")["column"])
    assert leaks == {"churn_code", "refund_amount"}
    assert ("customer_id", "id-like") in alert_set(eda)


# ----------------------------------------------------------------------------- alerts on synthetic frames


@pytest.fixture(scope="module")
def quality_frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 2000
    normal = rng.normal(0, 1, n)
    return pd.DataFrame({
        "normal": normal,
        "lognormal": rng.lognormal(0, 1.2, n),
        "constant": 7,
        "near_constant": np.where(np.arange(n) < 5, "b", "a"),
        "mostly_missing": np.where(rng.random(n) < 0.7, np.nan, 1.0) + rng.normal(0, 1, n),
        "some_missing": np.where(rng.random(n) < 0.05, np.nan, normal),
        "empty": np.nan,
        "code": [f"X{i}" for i in range(n)],
        "city": rng.choice([f"city{i}" for i in range(80)], n),
        "color": rng.choice(["red", "green", "blue"], n),
        "normal_copy": normal,
        "Café": rng.integers(0, 5, n),
        "Cafe\u0301 ": rng.integers(0, 5, n),   # same name in another unicode form, plus a space
    })


def test_alerts_fire_where_they_should(quality_frame):
    got = alert_set(Exploration(quality_frame))
    expected = {("lognormal", "skewed"), ("constant", "constant"), ("near_constant", "near-constant"),
                ("mostly_missing", "missing"), ("empty", "all missing"), ("code", "id-like"),
                ("city", "high cardinality"), ("normal_copy", "duplicate column"), ("Cafe\u0301 ", "similar name")}
    assert got == expected


def test_alert_thresholds_are_adjustable(quality_frame):
    from workbench.explore import AlertThresholds

    eda = Exploration(quality_frame, thresholds=AlertThresholds(missing=0.01, skew=100, high_cardinality=1000))
    got = alert_set(eda)
    assert ("some_missing", "missing") in got and ("lognormal", "skewed") not in got
    assert ("city", "high cardinality") not in got


def test_small_tables_do_not_raise_statistical_alerts():
    df = pd.DataFrame({"id": ["a", "b", "c"], "x": [1.0, 1.0, 100.0]})
    assert alert_set(Exploration(df)) == set()


# ----------------------------------------------------------------------------- building blocks


def test_cramers_v_extremes():
    rng = np.random.default_rng(0)
    a = rng.choice(list("abcd"), 5000)
    df = pd.DataFrame({"a": a, "same": pd.Series(a).map({"a": 1, "b": 2, "c": 3, "d": 4}).astype(str),
                       "indep": rng.choice(list("xyz"), 5000)})
    v = cramers_v_matrix(df, ["a", "same", "indep"])
    assert v.loc["a", "same"] == pytest.approx(1.0)
    assert v.loc["a", "indep"] < 0.03
    assert np.allclose(v.to_numpy(), v.to_numpy().T)


def test_wilson_and_auc_match_references():
    from scipy.stats import binomtest, norm

    lo, hi = wilson_interval(np.array([5]), np.array([10]))
    assert (lo[0], hi[0]) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    # at several p, the edges included, against scipy's Wilson interval (the same z)
    k = np.array([0, 1, 2, 5, 9, 10, 0, 3, 50, 97, 100, 81])
    n = np.array([10, 10, 10, 10, 10, 10, 100, 100, 100, 100, 100, 263])
    z = norm.ppf(0.975)
    lo, hi = wilson_interval(k, n, z=z)
    ref = np.array([tuple(binomtest(int(a), int(b)).proportion_ci(0.95, method="wilson")) for a, b in zip(k, n)])
    np.testing.assert_allclose(lo, ref[:, 0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(hi, ref[:, 1], rtol=1e-9, atol=1e-12)
    assert lo[0] == pytest.approx(0.0, abs=1e-12) and hi[5] == pytest.approx(1.0, abs=1e-12)  # never past 0 or 1
    assert hi[0] == pytest.approx(0.2775, abs=1e-4) and lo[-1] == pytest.approx(0.2553, abs=1e-4)  # Newcombe 1998
    assert (lo >= -1e-12).all() and (hi <= 1 + 1e-12).all()
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = np.round(y + rng.normal(0, 1, 500), 1)  # ties included
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s))
    groups, inv = np.unique(s, return_inverse=True)
    pos = np.bincount(inv, weights=y)
    neg = np.bincount(inv) - pos
    assert grouped_auc(groups, pos, neg) == pytest.approx(roc_auc_score(y, s))


def test_heavy_sample_is_seeded_and_described():
    df = pd.DataFrame({"x": np.arange(1000)})
    a, info = heavy_sample(df, 100, seed=3)
    b, _ = heavy_sample(df, 100, seed=3)
    c, _ = heavy_sample(df, 100, seed=4)
    assert len(a) == 100 and a.equals(b) and not a.equals(c)
    assert info.sampled and info.fraction == 0.1
    assert "10.0%" in info.describe() and "seed 3" in info.describe()
    full, info2 = heavy_sample(df, 5000, seed=0)
    assert full is df and not info2.sampled


def test_large_table_samples_heavy_stats_but_not_cheap_ones():
    rng = np.random.default_rng(0)
    n = 50_000
    df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n), "c": rng.choice(list("abc"), n),
                       "d": rng.choice(list("pq"), n), "y": rng.integers(0, 2, n)})
    eda = Exploration(df, target="y", max_rows_for_heavy_stats=5000, seed=7)
    note = texts(eda.overview())
    assert "5,000 of 50,000 rows (10.0%, seed 7)" in note
    assert "5,000 sampled rows, seed 7" in eda.correlations().layout.title.text
    assert eda._target_table("c")["rows"].sum() == n
    assert eda.headline()["rows"] == n


def test_missing_patterns_count_every_row():
    df = pd.DataFrame({"a": [1, None, None, 4, None], "b": [None, None, 3, 4, 5], "c": [1, 2, 3, 4, 5]})
    p = missing_patterns(df)
    assert p["rows"].sum() == 5
    assert dict(zip(p["missing columns"], p["rows"])) == {"a": 2, "b": 1, "a, b": 1, "(none)": 1}


def test_prepare_frame_reads_awkward_columns():
    df = pd.DataFrame({"mixed": [1, "two", 3.0, None], "nums": pd.Series([1, 2, None, 4], dtype=object),
                       "dates": ["2024-01-01", "2024-02-15", None, "2024-03-31"],
                       "dup": [1, 2, 3, 4], "dup2": [5, 6, 7, 8]})
    df.columns = ["mixed", "nums", "dates", "dup", "dup"]
    out, special, notes = prepare_frame(df)
    assert list(out.columns) == ["mixed", "nums", "dates", "dup", "dup (2)"]
    assert special == {"mixed": "mixed"} and out["mixed"].tolist()[:3] == ["1", "two", "3.0"]
    assert pd.api.types.is_float_dtype(out["nums"]) and pd.api.types.is_datetime64_any_dtype(out["dates"])
    assert any("appears more than once" in n for n in notes) and any("date strings" in n for n in notes)
    s = column_summary(out, special)
    assert s.loc["mixed", "kind"] == "mixed" and s.loc["dates", "kind"] == "datetime"
    assert df.columns.tolist()[-1] == "dup"  # input untouched


def test_target_kinds():
    assert target_info(pd.Series([0, 1, 1], name="y")).positive == 1
    assert target_info(pd.Series(["no", "yes"], name="y")).positive == "yes"
    assert target_info(pd.Series(["cat", "dog", "dog"], name="y")).positive == "cat"  # the rarer
    assert target_info(pd.Series(list("abcab"), name="y")).kind == "multiclass"
    assert target_info(pd.Series(np.linspace(0, 1, 50), name="y")).kind == "numeric"
    assert target_info(pd.Series([np.nan, np.nan], name="y")).kind == "empty"
    assert target_info(pd.Series([3, 3], name="y")).kind == "constant"


def test_figures_are_pre_binned_and_small():
    n = 300_000
    df = pd.DataFrame({"x": np.random.default_rng(0).normal(size=n), "y": np.arange(n) % 2})
    eda = Exploration(df, target="y")
    fig = eda.distributions().parts[0]
    assert len(fig.to_json()) < 20_000
    assert sum(fig.data[0].y) == n


def test_bad_input_is_a_clear_error():
    with pytest.raises(DatasetError, match="target column 'nope' not in the table; columns: a"):
        Exploration(pd.DataFrame({"a": [1]}), target="nope")
    with pytest.raises(DatasetError, match="empty"):
        Exploration(pd.DataFrame({"a": []}))
    with pytest.raises(DatasetError, match="DataFrame"):
        Exploration([1, 2, 3])


# ----------------------------------------------------------------------------- edge cases: never a crash


def edge_frame() -> pd.DataFrame:
    n = 40
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "all_missing": [None] * n,
        "constant": ["same"] * n,
        "mixed": [1, "a", 2.5, None] * (n // 4),
        "when": pd.date_range("2024-01-01", periods=n, freq="D"),
        "when_tz": pd.date_range("2024-01-01", periods=n, freq="h", tz="Europe/Paris"),
        "duration": pd.to_timedelta(np.arange(n), unit="m"),
        "ünïcødé 列": rng.normal(size=n),
        "Name": rng.choice(["x", "y"], n),
        "name ": rng.choice(["x", "y"], n),
        "flag": rng.choice([True, False], n),
        "nested": [[1, 2], {"a": 1}, "text", None] * (n // 4),
        "inf": np.r_[np.inf, rng.normal(size=n - 1)],
        "y_multi": rng.choice(list("abc"), n),
        "y_num": rng.normal(size=n),
        "y_missing": np.nan,
        "y_const": 1,
    })
    return df


@pytest.mark.parametrize("target, expect", [
    (None, "no target given"),
    ("y_multi", "3 classes, not 2"),
    ("y_num", "Mean of y_num"),
    ("y_missing", "all missing"),
    ("y_const", "single value"),
    ("flag", None),
])
def test_edge_case_table_never_crashes(target, expect):
    eda = Exploration(edge_frame(), target=target)
    out = run_all(eda)
    if expect:
        assert expect in texts(out["target_analysis"])
    kinds = eda.kinds
    assert kinds["all_missing"] == "empty" and kinds["mixed"] == "mixed" and kinds["when"] == "datetime"
    assert kinds["when_tz"] == "datetime" and kinds["duration"] == "numeric" and kinds["nested"] == "mixed"
    got = alert_set(eda)
    assert {("all_missing", "all missing"), ("constant", "constant"), ("mixed", "mixed types"),
            ("name ", "similar name"), ("inf", "infinite values")} <= got
    json.dumps(eda.headline())


def test_single_row_table():
    df = pd.DataFrame({"a": [1.0], "b": ["x"], "y": [1]})
    eda = Exploration(df, target="y")
    out = run_all(eda)
    assert "a single row" in texts(out["overview"])
    assert "skipped" in texts(out["correlations"]) and "skipped" in texts(out["associations"])
    assert eda.headline()["rows"] == 1


def test_no_numeric_or_no_categorical_columns_skip_with_a_message():
    cats = Exploration(pd.DataFrame({"a": list("abab"), "b": list("xxyy")}))
    assert "correlations need at least 2" in texts(cats.correlations())
    nums = Exploration(pd.DataFrame({"a": [1.0, 2.5, 3.1], "b": [3.0, 1.0, 2.0]}))
    assert "associations need at least 2" in texts(nums.associations())
    assert "no missing values" in texts(nums.missing())
    assert "no alerts" in texts(nums.alerts())


def test_explorer_static_and_interactive(telco_eda):
    import ipywidgets as w

    static = telco_eda.explorer(interactive=False)
    acc = static.children[1]
    assert isinstance(acc, w.Accordion) and len(acc.children) == 21
    html = acc.children[list(telco_eda.df.columns).index("contract")].outputs[0]["data"]["text/html"]
    assert html.count("plotly-graph-div") == 2 and "Month-to-month" in html
    live = telco_eda.explorer(interactive=True)
    pick, out = live.children
    assert isinstance(pick, w.Dropdown) and list(pick.options) == list(telco_eda.df.columns)
    assert isinstance(out, w.Output)


def test_precomputed_histograms_match_numpy(telco_eda, telco):
    for col in ("total_charges", "tenure", "monthly_charges"):
        v = telco[col].dropna().to_numpy(dtype=float)
        for bins in (40, 50):
            counts, edges = telco_eda._hist(col, bins)
            ref, ref_edges = np.histogram(v, bins=bins, range=(v.min(), v.max()))
            assert np.array_equal(counts, ref) and np.allclose(edges, ref_edges), (col, bins)


def test_duplicate_rows_are_counted_on_all_columns():
    df = pd.DataFrame({"a": ["x", "y", "x", "x"], "b": [1.0, 2.0, 1.0, 1.5], "c": [None, "q", None, None]})
    assert Exploration(df).headline()["duplicate_rows"] == 1


def test_spearman_matches_pandas_on_complete_columns():
    from workbench.explore._relations import average_ranks, numeric_correlation

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.integers(0, 5, 300).astype(float), "b": rng.normal(size=300),
                       "c": rng.lognormal(size=300)})
    df["b"] += df["a"]
    ours = numeric_correlation(df, ["a", "b", "c"], "spearman")
    assert np.allclose(ours.to_numpy(), df.corr(method="spearman").to_numpy())
    assert np.allclose(numeric_correlation(df, ["a", "b"], "pearson").to_numpy(), df[["a", "b"]].corr().to_numpy())
    v = np.array([3.0, np.nan, 1.0, 3.0, 2.0])
    assert np.allclose(average_ranks(v), pd.Series(v).rank().to_numpy(), equal_nan=True)


@pytest.mark.parametrize("kind", ["numeric", "multiclass"])
def test_leakage_check_for_numeric_and_multiclass_targets(kind):
    rng = np.random.default_rng(0)
    n = 3000
    if kind == "numeric":
        y = rng.normal(size=n)
        leak = y * 2 + rng.normal(0, 0.01, n)
    else:
        y = rng.choice(["low", "mid", "high"], n)
        leak = pd.Series(y).map({"low": "L", "mid": "M", "high": "H"}).to_numpy()
    df = pd.DataFrame({"y": y, "leak": leak, "noise": rng.normal(size=n), "cat": rng.choice(list("abc"), n)})
    leaks = set(Exploration(df, target="y").alerts_table().query("alert == 'leakage suspect'")["column"])
    assert leaks == {"leak"}


def test_dataset_target_is_the_default_and_bad_arguments_raise():
    ds = load_dataset("telco_churn", target="churn")
    assert Exploration(ds).target == "churn" and Exploration(ds, target="").target is None
    eda = Exploration(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [2.0, 1.0, 0.5]}))
    with pytest.raises(DatasetError, match="spearman"):
        eda.correlations(method="kendall")
    assert eda.failures == []
