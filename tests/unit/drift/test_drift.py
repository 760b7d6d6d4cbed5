"""Drift monitoring on real data: Telco halves with planted shifts are caught exactly, splits without
drift flag nothing, statistics match their reference implementations, schema differences are
findings, and bad input is a clear error before any work."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from support import CallRecorder

from workbench import drift
from workbench.data import TELCO_PLANTED_SHIFT, load_dataset, plant_shift
from workbench.drift import DriftReport, Thresholds
from workbench.drift._column_drift import TABLE_COLUMNS, compare_columns
from workbench.drift._stats import benjamini_hochberg, categorical_stats, numeric_stats
from workbench.errors import DatasetError, ParameterError
from workbench.evaluation import Note, Panel, auc_interval, rank_auc

SHIFTED = {"monthly_charges", "tenure", "contract"}
SECTIONS = ("overview", "findings", "summary", "distributions", "multivariate", "target_drift", "prediction_drift",
            "performance")


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    return load_dataset("telco_churn").frame


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return load_dataset("telco_churn_reference").frame


@pytest.fixture(scope="module")
def planted(reference) -> DriftReport:
    return DriftReport(reference, load_dataset("telco_churn_drifted").frame, target="churn")


def kinds_of(df: pd.DataFrame) -> dict[str, str]:
    from workbench.data import column_kind

    return {c: column_kind(df[c]) for c in df.columns if c not in ("rownames", "churn")}


def drifted(results) -> set[str]:
    return {c.column for c in results if c.drifted}


def disjoint_samples(telco: pd.DataFrame, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    idx = np.random.default_rng(seed).permutation(len(telco))
    return telco.iloc[np.sort(idx[:n])], telco.iloc[np.sort(idx[n:2 * n])]


def texts(result) -> str:
    parts = result.parts if isinstance(result, Panel) else [result]
    return " | ".join(p.text for p in parts if isinstance(p, Note))


# ----------------------------------------------------------------------------- the goals, on real data


def test_planted_telco_shift_flags_the_three_columns_and_nothing_else(planted):
    assert drifted(planted.results) == SHIFTED
    tests = {c.column: c.test for c in planted.results if c.drifted}
    assert tests == {"monthly_charges": "wasserstein", "tenure": "wasserstein", "contract": "jensen_shannon"}
    assert [c.column for c in planted.results[:3]] and set(c.column for c in planted.results[:3]) == SHIFTED
    h = planted.headline()
    assert (h["n_drifted"], h["n_columns"], h["dataset_drift"], h["target_drift"]) == (3, 19, True, False)
    assert h["drift_share"] == pytest.approx(3 / 19)
    dom = planted.domain_result
    assert dom.drifted and dom.auc > 0.9 and dom.ci_low > 0.5
    top = set(dom.importance["column"].head(3))
    assert {"monthly_charges", "tenure"} <= top  # and total_charges: its relation to them broke


def test_no_drift_halves_at_3500_rows_flag_nothing(reference):
    report = DriftReport(reference, load_dataset("telco_churn_current").frame, target="churn")
    assert drifted(report.results) == set()
    assert all(c.test in ("wasserstein", "jensen_shannon") for c in report.results)  # large-sample regime
    h = report.headline()
    assert (h["n_drifted"], h["dataset_drift"], h["target_drift"]) == (0, False, False)
    assert report.domain_result.ci_low < 0.5 < report.domain_result.ci_high


@pytest.mark.parametrize("n", [1000, 3500])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_drift_random_splits_flag_nothing(telco, n, seed):
    a, b = disjoint_samples(telco, n, seed)
    results = compare_columns(a, b, kinds_of(telco), Thresholds())
    assert drifted(results) == set()
    regime = {"ks", "chi2"} if n == 1000 else {"wasserstein", "jensen_shannon"}
    assert {c.test for c in results} == regime


def test_false_alarms_stay_near_the_level_thanks_to_the_correction(telco):
    """Over 60 no-drift splits at 1,000 rows, few flag any column (the family-wise level is 5%);
    without the Benjamini-Hochberg correction most would (as Evidently's uncorrected tests do)."""
    kinds, t = kinds_of(telco), Thresholds()
    corrected = uncorrected = 0
    for seed in range(60):
        results = compare_columns(*disjoint_samples(telco, 1000, 100 + seed), kinds, t)
        corrected += bool(drifted(results))
        uncorrected += any(c.p_value < t.p_value for c in results)
    assert corrected <= 6
    assert uncorrected >= 20


def test_planted_shift_is_caught_by_the_tests_on_1000_rows(telco):
    a, b = disjoint_samples(telco, 1000, 7)
    results = compare_columns(a, plant_shift(b, TELCO_PLANTED_SHIFT, seed=0), kinds_of(telco), Thresholds())
    assert drifted(results) == SHIFTED
    assert {c.test for c in results if c.drifted} == {"ks", "chi2"}


def test_every_section_renders_and_the_csv_has_the_documented_columns(planted, tmp_path):
    import plotly.graph_objects as go

    kinds = lambda panel: [type(p).__name__ for p in panel.parts]  # noqa: E731
    shapes = {name: kinds(getattr(planted, name)()) for name in SECTIONS if name != "performance"}
    assert shapes == {"overview": ["DataFrame", "Note"], "findings": ["DataFrame"],
                      "summary": ["Note", "DataFrame", "Figure"], "distributions": ["Figure"],
                      "multivariate": ["Note", "Note", "Figure"], "target_drift": ["DataFrame", "Figure"],
                      "prediction_drift": ["Note", "Note", "Note"]}
    over = planted.overview().parts[0]["value"]
    assert over["compared columns"] == "19 (boolean: 6, numeric: 3, categorical: 10)" and over["target"] == "churn"
    assert over["reference"] == "reference: 3,522 rows x 21 columns (a DataFrame)" and over["model"] == "none"
    assert planted.findings().parts[0]["column"].tolist() == ["churn", "rownames"]
    summary = planted.summary().parts
    assert summary[0].text.startswith("3 of 19 compared columns drifted (16%): monthly_charges, contract, tenure.")
    table = summary[1]
    assert len(table) == 19 and set(table.index[table["drifted"] == "DRIFT"]) == SHIFTED
    assert table.loc["monthly_charges", ["kind", "test", "threshold"]].tolist() == ["numeric", "wasserstein", "0.1"]
    assert table.loc["contract", ["kind", "test", "threshold"]].tolist() == ["categorical", "jensen_shannon", "0.05"]
    dist = planted.distributions().parts[0]
    assert isinstance(dist, go.Figure) and [d.name for d in dist.data] == ["reference", "current"] * 3
    assert set(planted.multivariate().parts[2].data[0].y[:2]) == {"monthly_charges", "tenure"}
    target = planted.target_drift().parts[0]
    assert target.index.tolist() == ["churn"] and target.loc["churn", "drifted"] == ""
    assert "no model given" in texts(planted.prediction_drift())
    perf = planted.performance()
    assert isinstance(perf, Note) and perf.text.startswith("no model given: performance not measured")
    assert planted.failures == []
    path = drift.save(planted, tmp_path)
    assert path == tmp_path / "drift.csv"
    table = pd.read_csv(path)
    assert list(table.columns) == TABLE_COLUMNS
    assert set(table.loc[table["drifted"], "column"]) == SHIFTED
    assert set(table["role"]) == {"feature", "target"} and len(table) == 20
    assert "Dataset drift: YES" in texts(planted.summary())


def test_record_and_log_send_the_verdict(planted, monkeypatch):
    from workbench.drift import _outputs

    recorded = {}
    monkeypatch.setattr(_outputs, "record_value", lambda name, value: recorded.__setitem__(name, value))
    assert drift.record(planted) == recorded == planted.headline()
    assert (recorded["n_drifted"], recorded["n_columns"], recorded["dataset_drift"]) == (3, 19, True)

    t = CallRecorder()
    drift.log(t, planted)
    assert [c[0] for c in t.calls] == ["log_table", "summary", "log_figure"]
    name, table = t.calls[0][1]
    assert name == "drift" and set(table.loc[table["drifted"], "column"]) == SHIFTED
    assert t.calls[1][1][0] == planted.headline() and t.calls[2][1][0] == "drifted_columns"
    assert {tr.name for tr in t.calls[2][1][1].data} >= {"reference", "current"}


# ----------------------------------------------------------------------------- statistics against references


def test_numeric_statistics_match_scipy(telco):
    a, b = disjoint_samples(telco, 1500, 3)
    x, y = a["monthly_charges"], b["monthly_charges"] * 1.05
    got = numeric_stats(x, y)
    ref = stats.ks_2samp(x, y)
    assert got["ks"] == pytest.approx(ref.statistic) and got["ks_p"] == pytest.approx(ref.pvalue, rel=1e-6)
    assert got["wasserstein"] == pytest.approx(stats.wasserstein_distance(x, y) / np.std(x))
    ties = numeric_stats(a["tenure"], b["tenure"])  # integers: many ties
    assert ties["ks"] == pytest.approx(stats.ks_2samp(a["tenure"], b["tenure"]).statistic)
    big = numeric_stats(pd.Series(np.arange(20000.0)), pd.Series(np.arange(20000.0) + 500))
    assert big["ks"] == pytest.approx(0.025) and big["ks_p"] < 1e-4  # asymptotic p-value above 10,000 values
    assert big["out_of_range"] == pytest.approx(500 / 20000)


def test_categorical_statistics_match_scipy(telco):
    a, b = disjoint_samples(telco, 2000, 4)
    got = categorical_stats(a["payment_method"], b["payment_method"])
    table = pd.crosstab(pd.concat([a["payment_method"], b["payment_method"]]),
                        np.r_[np.zeros(len(a)), np.ones(len(b))]).to_numpy().T
    ref = stats.chi2_contingency(table)
    assert got["chi2"] == pytest.approx(ref.statistic) and got["chi2_p"] == pytest.approx(ref.pvalue)
    assert got["jensen_shannon"] == pytest.approx(jensenshannon(table[0] / table[0].sum(), table[1] / table[1].sum()))
    new = categorical_stats(pd.Series(["a", "b"] * 50), pd.Series(["a", "b", "c", "c"] * 25 + [None] * 4))
    assert new["new_share"] == pytest.approx(0.5) and new["new_values"] == ["c"]


def test_auc_interval_and_benjamini_hochberg():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(400), np.ones(400)]
    s = rng.normal(size=800) + 0.5 * y
    auc, lo, hi = auc_interval(y, s)
    assert auc == pytest.approx(rank_auc(y, s)) and lo < auc < hi
    boot = [rank_auc(y[i], s[i]) for i in (rng.integers(0, 800, 800) for _ in range(300))]
    assert hi - lo == pytest.approx(np.percentile(boot, 97.5) - np.percentile(boot, 2.5), rel=0.25)
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.5])
    assert np.allclose(benjamini_hochberg(p)[[0, 1, 2, 4]], stats.false_discovery_control(p[[0, 1, 2, 4]]))
    assert np.isnan(benjamini_hochberg(p)[3])


# ----------------------------------------------------------------------------- data quality and schemas


def test_missing_values_and_new_categories_are_flagged_with_their_reason(reference):
    cur = load_dataset("telco_churn_current").frame
    cur = plant_shift(cur, {"total_charges": {"missing": 0.2}}, seed=1)
    cur.loc[cur.sample(frac=0.05, random_state=0).index, "payment_method"] = "Crypto"
    report = DriftReport(reference, cur, target="churn", domain_rows=0)
    flagged = {c.column: c for c in report.results if c.drifted}
    assert set(flagged) == {"total_charges", "payment_method"}
    assert "missing 0.3% -> 20." in flagged["total_charges"].reasons[0]
    assert "'Crypto'" in flagged["payment_method"].reasons[-1]
    assert flagged["payment_method"].new_category_share == pytest.approx(0.05, abs=0.002)
    assert "domain classifier skipped" in texts(report.multivariate())


def test_schema_differences_are_findings_not_crashes(reference):
    cur = load_dataset("telco_churn_current").frame.drop(columns=["tech_support"])
    cur["referral_code"] = "x"
    cur["monthly_charges"] = cur["monthly_charges"].astype(str).where(cur.index % 50 != 0, "n/a")
    cur["senior_citizen"] = cur["senior_citizen"].map({0: "no", 1: "yes"})
    report = DriftReport(reference, cur, target="churn", domain_rows=0)
    found = {(f["column"], f["finding"].split(":")[0]) for f in report.schema.findings}
    assert ("tech_support", "missing in current") in found
    assert ("referral_code", "only in current") in found
    assert ("monthly_charges", "type changed") in found and ("senior_citizen", "type changed") in found
    by = {c.column: c for c in report.results}
    assert by["monthly_charges"].missing_current == pytest.approx(1 / 50, abs=0.002)  # "n/a" counts as missing
    assert by["senior_citizen"].drifted and "never had" in by["senior_citizen"].reasons[-1]
    assert "tech_support" not in by and "referral_code" not in by
    assert report.failures == [] and not isinstance(report.findings(), Note)


@pytest.mark.parametrize("cur", [pd.DataFrame(columns=["tenure"]), pd.DataFrame({"tenure": [1]}).iloc[:0]])
def test_an_empty_current_table_is_a_clear_error(reference, cur):
    with pytest.raises(DatasetError, match="current table .* is empty .*nothing to compare"):
        DriftReport(reference, cur)


def test_a_header_only_csv_is_a_clear_error(reference, tmp_path):
    (tmp_path / "cur.csv").write_text("tenure,contract\n")
    with pytest.raises(DatasetError, match="header but no rows"):
        DriftReport(reference, str(tmp_path / "cur.csv"))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"threshold": {"wasserstien": 0.2}}, ParameterError, "unknown threshold 'wasserstien'; valid: p_value"),
    ({"threshold": {"p_value": 1.5}}, ParameterError, r"'p_value' must be in \(0, 1\)"),
    ({"threshold": 0.1}, ParameterError, "threshold must be a mapping"),
    ({"drift_share": 0}, ParameterError, "drift_share must be a number in"),
    ({"columns": ["tenure", "tenur"]}, DatasetError, "'tenur' in neither table; reference columns: rownames"),
    ({"columns": "tenure"}, ParameterError, "columns must be a list of column names"),
    ({"target": "Churn"}, DatasetError, "target column 'Churn' not in the reference"),
    ({"model": "no/such/folder"}, Exception, "model folder 'no/such/folder' not found"),
    ({"shift": {"tenure": {"scale": "x"}}}, DatasetError, "scale needs a number"),
])
def test_bad_arguments_fail_before_any_work(reference, kwargs, error, match):
    with pytest.raises(error, match=match):
        DriftReport(reference, "telco_churn_current", **kwargs)


def test_columns_and_max_rows_and_what_if_shift(reference):
    report = DriftReport(reference, "telco_churn_current", columns=["tenure", "contract"], max_rows=1000, seed=3,
                         shift={"tenure": {"add": 12}}, domain_rows=0)
    assert [c.column for c in report.results] == ["tenure", "contract"]
    assert drifted(report.results) == {"tenure"} and report.results[0].test == "ks"
    assert len(report.reference.raw) == 1000 and report.reference.rows == 3522 and report.reference.sampled
    overview = report.overview().parts[0].to_string()
    assert "seeded random sample of 1,000 rows" in overview and "planted into current" in overview


@pytest.mark.parametrize("n", [1, 5])
def test_a_tiny_current_table_is_compared_with_a_warning(reference, n):
    report = DriftReport(reference, load_dataset("telco_churn_current").frame.head(n), target="churn")
    for name in SECTIONS:
        getattr(report, name)()
    assert report.failures == [] and report.headline()["n_drifted"] == 0
    assert report.headline()["domain_auc"] is None
    assert f"only {n} row(s) on one side" in texts(report.overview())
    assert "too few rows" in texts(report.multivariate())
