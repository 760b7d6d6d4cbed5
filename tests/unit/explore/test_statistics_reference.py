"""The exploration's one-pass statistics against naive references on real data: pairwise-complete
correlations from matrix products, ranks and bins from the summary's sort order, leakage scores from
one bincount, Cramér's V with missing values, memory and missing patterns from the summary's work,
and figures built without plotly's validation still valid and identical."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from support import telco_with_holes

from workbench.data import missing_patterns, overview
from workbench.evaluation import rank_auc
from workbench.explore import Exploration
from workbench.explore._relations import (
    average_ranks,
    bin_codes,
    cramers_v_matrix,
    numeric_correlation,
    pairwise_pearson,
    single_column_scores,
    sorted_bin_codes,
    target_info,
    target_vector,
)


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    """Telco churn with holes: 5% missing in several columns, 3% missing target, a constant-ish column."""
    df, rng = telco_with_holes()
    df["charges_copy"] = df["monthly_charges"] * 2 + 1                      # perfectly correlated
    df["leak"] = np.where(df["churn"] == "Yes", 1.0, 0.0) + rng.normal(0, 0.2, len(df))
    return df


@pytest.fixture(scope="module")
def eda(telco) -> Exploration:
    return Exploration(telco, target="churn", max_rows_for_heavy_stats=0)


NUMERIC = ["tenure", "monthly_charges", "total_charges", "senior_citizen", "charges_copy", "leak"]


def test_pairwise_pearson_matches_pandas_with_missing_values(telco):
    df = telco[NUMERIC].astype(float)
    ours = pairwise_pearson([df[c].to_numpy() for c in NUMERIC])
    assert np.allclose(ours, df.corr().to_numpy(), atol=1e-12, equal_nan=True)
    # a column constant on the rows it shares with another: NaN there, as pandas says
    flat = pd.DataFrame({"a": [1.0, 2.0, 3.0, np.nan, np.nan], "b": [np.nan, np.nan, 5.0, 6.0, 7.0],
                         "c": [1.0, 1.0, 1.0, 2.0, 3.0]})
    ref = flat.corr().to_numpy()
    assert np.array_equal(np.isnan(pairwise_pearson([flat[c].to_numpy() for c in flat])), np.isnan(ref))


def test_spearman_from_the_summary_order_matches_pandas_ranks(telco, eda):
    orders = eda._all_rows("order", eda.df)
    assert set(orders) >= {"monthly_charges", "total_charges"}  # the sorted (not counted) columns
    ranked = pd.DataFrame({c: telco[c].astype(float).rank() for c in NUMERIC})  # own non-missing values
    for given in (orders, None):
        ours = numeric_correlation(eda.df, NUMERIC, "spearman", orders=given)
        assert np.allclose(ours.to_numpy(), ranked.corr().to_numpy(), atol=1e-12, equal_nan=True)
    for c in NUMERIC:
        v = telco[c].to_numpy(dtype=float, na_value=np.nan)
        assert np.allclose(average_ranks(v, orders.get(c)), ranked[c].to_numpy(), equal_nan=True), c


def test_bins_from_the_sort_order_match_comparisons(telco, eda):
    v = telco["monthly_charges"].to_numpy(dtype=float, na_value=np.nan)
    edges = np.unique(np.nanquantile(v, np.linspace(0, 1, 51)))
    ref = np.searchsorted(edges[1:-1], v, side="right")
    ok = ~np.isnan(v)
    assert np.array_equal(bin_codes(v, edges)[ok], ref[ok])
    assert np.array_equal(sorted_bin_codes(v, edges, eda._extras["order"]["monthly_charges"])[ok], ref[ok])
    assert np.array_equal(eda._extras["quantiles"]["monthly_charges"], np.nanquantile(v, np.linspace(0, 1, 51)))


def _naive_scores(df: pd.DataFrame, target: str, columns: list[str], edges: dict, seed: int) -> dict:
    """Row by row: the kept rows, their random halves, group means fitted on one half, AUC on the other."""
    keep = df[target].notna().to_numpy()
    sub = df[keep]
    y = target_vector(sub[target], target_info(df[target]))
    fit = np.random.default_rng(seed).random(len(sub)) < 0.5
    out = {}
    for c in columns:
        if c in edges:
            v = sub[c].to_numpy(dtype=float, na_value=np.nan)
            g = np.where(np.isnan(v), -1, np.searchsorted(np.unique(edges[c])[1:-1], v, side="right"))
        else:
            g = pd.factorize(sub[c])[0]
        prior = y[fit].mean()
        means = pd.Series(y[fit]).groupby(g[fit]).agg(["sum", "count"])
        fitted = (means["sum"] + prior) / (means["count"] + 1)
        score = pd.Series(g[~fit]).map(fitted).fillna(prior).to_numpy()
        out[c] = rank_auc(y[~fit], score)
    return out


def test_leakage_scores_match_a_naive_reference(telco, eda):
    kinds = eda.kinds
    cols = ["tenure", "monthly_charges", "total_charges", "contract", "payment_method", "leak"]
    sub = {c: kinds[c] for c in cols + ["churn"]}
    info = eda.target_info
    edges = {c: eda._extras["quantiles"][c] for c in cols if c in eda._extras["quantiles"]}
    ref = _naive_scores(eda.df, "churn", cols, edges, seed=4)
    fast = single_column_scores(eda.df, sub, "churn", info, seed=4, edges=edges,
                                factorized=eda._all_rows("factorized", eda.df), orders=eda._all_rows("order", eda.df))
    got = dict(zip(fast["column"], fast["score"]))
    assert set(fast["metric"]) == {"AUC"} and got.keys() == ref.keys()
    for c in cols:
        assert got[c] == pytest.approx(ref[c], abs=1e-12), c
    assert got["leak"] > 0.98 > max(v for c, v in got.items() if c != "leak")
    leaks = set(eda.alerts_table().query("alert == 'leakage suspect'")["column"])
    assert leaks == {"leak"}


def test_cramers_v_with_missing_values_matches_a_crosstab(telco, eda):
    cols = ["contract", "payment_method", "internet_service"]
    got = cramers_v_matrix(eda.df, cols, factorized=eda._all_rows("factorized", eda.df))
    assert np.allclose(got.to_numpy(), cramers_v_matrix(eda.df, cols).to_numpy())
    for a in cols:
        for b in cols:
            if a == b:
                continue
            t = pd.crosstab(telco[a], telco[b]).to_numpy(dtype=float)  # rows missing either value dropped
            n = t.sum()
            chi2 = ((t - t.sum(1, keepdims=True) * t.sum(0, keepdims=True) / n) ** 2
                    / (t.sum(1, keepdims=True) * t.sum(0, keepdims=True) / n)).sum()
            r, k = t.shape
            phi2c = max(0.0, chi2 / n - (r - 1) * (k - 1) / (n - 1))
            d = min(r - (r - 1) ** 2 / (n - 1) - 1, k - (k - 1) ** 2 / (n - 1) - 1)
            assert got.loc[a, b] == pytest.approx(np.sqrt(phi2c / d), rel=1e-12), (a, b)


def test_memory_and_missing_patterns_from_the_summary_match_pandas(telco, eda):
    frame = eda.df.astype({c: object for c in ("contract", "payment_method", "churn")})
    assert (frame["contract"].dtype, frame["contract"].isna().sum()) == (object, telco["contract"].isna().sum())
    o = overview(frame, eda.summary_table, eda._extras["factorized"])
    assert o["memory_mb"] * 2 ** 20 == frame.memory_usage(deep=True, index=False).sum()
    masks = eda._extras["missing"]
    assert set(masks) == {c for c in telco.columns if telco[c].isna().any()}
    pd.testing.assert_frame_equal(missing_patterns(eda.df, masks=masks), missing_patterns(eda.df))


def test_figures_are_valid_plotly_and_checked_after(eda):
    figs = [eda.distributions().parts[0], eda.correlations(), eda.associations().parts[0], eda.missing().parts[0],
            eda.target_analysis().parts[1]] + [p for p in eda.column_parts("contract") if isinstance(p, go.Figure)]
    assert len(figs) == 7
    for fig in figs:
        validated = go.Figure(fig.to_dict())  # plotly's own validation: raises on an invalid property
        assert json.loads(validated.to_json()) == json.loads(fig.to_json())
    fig = figs[0]
    fig.update_layout(title="renamed")  # shorthand expanded: updates are validated again
    assert fig.layout.title.text == "renamed"
    with pytest.raises(ValueError):
        fig.update_layout(no_such_property=1)


def test_duplicate_rows_hashed_among_candidates_match_pandas(telco):
    from workbench.data import column_summary, prepare_frame
    from workbench.data._profile import duplicate_rows

    df = pd.concat([telco, telco.sample(40, random_state=1), telco.iloc[:3]], ignore_index=True)
    df.loc[len(telco) + 5, "total_charges"] = np.nan  # a copy that differs only in a missing value
    frame, special, _ = prepare_frame(df)
    extras: dict = {}
    summary = column_summary(frame, special, extras=extras)
    assert duplicate_rows(frame, summary, extras["factorized"]) == df.duplicated().sum() == 42
    assert duplicate_rows(frame.iloc[:len(telco)], column_summary(frame.iloc[:len(telco)]), {}) == 0
