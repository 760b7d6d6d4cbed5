"""Figures and example tables of a recommender comparison, in the shared figure style.

Leaderboard with 95% CIs, metric-vs-k curves, cold start vs warm, popularity bias (where in the
popularity ranking each model's recommendations fall, against the held-out items users actually liked),
and example recommendations next to the user's recent history. Each takes the parts it draws (the
leaderboard, the per-model results, the task); :class:`~workbench.recsys.Comparison` offers them as
its sections.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..evaluation import figure_layout, full
from ._metrics import METRIC_LABELS
from ._outcomes import Result
from ._task import RecTask


def leaderboard_figure(leaderboard: pd.DataFrame, task: RecTask, metric: str = "ndcg") -> go.Figure:
    """Test ``metric``@k per model, mean with its 95% bootstrap CI, best first."""
    lb = leaderboard[leaderboard["status"] == "ok"]
    c = f"{metric}@{task.k}" if metric != "mrr" else "mrr"
    fig = go.Figure(go.Bar(y=lb.index.tolist(), x=lb[c], orientation="h", text=[f"{v:.3f}" for v in lb[c]],
                           textposition="auto",
                           error_x=dict(type="data", symmetric=False, array=lb[f"{c}_hi"] - lb[c],
                                        arrayminus=lb[c] - lb[f"{c}_lo"])))
    label = f"{METRIC_LABELS[metric]}@{task.k}" if metric != "mrr" else "MRR"
    fig.update_layout(**figure_layout(title=f"Test {label} over {task.test.n} users (mean, 95% CI)",
                                      xaxis_title=label, height=max(320, 40 * len(lb) + 120)))
    fig.update_layout(yaxis_autorange="reversed")
    return fig


def metric_curves_figure(results: dict[str, Result], task: RecTask,
                         metrics: tuple[str, ...] = ("ndcg", "recall", "precision")) -> go.Figure:
    """Mean test metric against the cut-off k (1..max_k), one line per model, one panel per metric."""
    from plotly.subplots import make_subplots

    fig = make_subplots(1, len(metrics), subplot_titles=[f"{METRIC_LABELS[m]}@k" for m in metrics])
    ks = np.arange(1, task.max_k + 1)
    colors = _colors(list(results))
    for j, m in enumerate(metrics):
        for name, res in results.items():
            fig.add_trace(go.Scatter(x=ks, y=res.metrics[m].mean(0), mode="lines", name=name, legendgroup=name,
                                     showlegend=j == 0, line=dict(color=colors[name])), 1, j + 1)
        fig.update_xaxes(title_text="k", row=1, col=j + 1)
    fig.update_layout(**figure_layout(title="Metrics against the cut-off k (test users)", height=400))
    return fig


def cold_start_figure(table: pd.DataFrame, k: int) -> go.Figure:
    """NDCG@k per model on warm users and the cold-start slices (grouped bars) from the numeric
    cold-start table (one row per model, one column per slice)."""
    fig = go.Figure([go.Bar(name=col.split(",")[0], x=table.index.tolist(), y=table[col]) for col in table.columns])
    fig.update_layout(**figure_layout(title=f"NDCG@{k}: warm vs cold-start users", barmode="group",
                                      yaxis_title=f"NDCG@{k}"))
    return fig


def popularity_bias_figure(results: dict[str, Result], task: RecTask, bins: int = 10) -> go.Figure:
    """Share of recommended items per item-popularity decile (most popular 10% of items first), per model,
    against the share of the held-out items users liked: a popularity-biased model sits above it on the
    left (a decile a model never recommends is a gap in its line)."""
    k = task.k
    pop = task.popularity
    order = np.argsort(-pop, kind="stable")
    decile = np.empty(len(pop), dtype=np.int64)
    decile[order] = np.arange(len(pop)) * bins // len(pop)
    labels = [f"{100 * i // bins}-{100 * (i + 1) // bins}%" for i in range(bins)]
    fig = go.Figure()
    liked = np.bincount(decile[task.test.targets.items], minlength=bins)
    fig.add_trace(go.Scatter(x=labels, y=_shares(liked), name="held-out liked items", mode="lines+markers",
                             line=dict(color="black", dash="dash")))
    colors = _colors(list(results))
    for name, res in results.items():
        counts = np.bincount(decile[res.top[:, :k].ravel()], minlength=bins)
        fig.add_trace(go.Scatter(x=labels, y=_shares(counts), name=name, mode="lines+markers",
                                 line=dict(color=colors[name])))
    fig.update_layout(**figure_layout(title=f"Popularity bias: where the top-{k} items fall in the popularity ranking",
                                      xaxis_title="items by training popularity (most popular first)",
                                      yaxis_title="share of items", yaxis_type="log"))
    return fig


def _shares(counts: np.ndarray) -> np.ndarray:
    """Shares of the total, with empty bins as gaps (a log axis has no zero)."""
    shares = counts / max(1, counts.sum())
    return np.where(counts > 0, shares, np.nan)


def _colors(names: list[str]) -> dict[str, str]:
    import plotly.express as px

    palette = px.colors.qualitative.Plotly
    return {n: palette[i % len(palette)] for i, n in enumerate(names)}


def _describe(task: RecTask, items: np.ndarray) -> list[str]:
    data = task.data
    label = data.label_col()
    ids = data.item_ids[items]
    if label is None:
        return [str(i) for i in ids]
    extra = [c for c in data.item_text_cols[1:2]]
    text = data.item_info[label].to_numpy()[items]
    more = [""] * len(items) if not extra else [f" ({v})" if isinstance(v, str) and v else ""
                                                  for v in data.item_info[extra[0]].to_numpy()[items]]
    return [f"{t}{m}" for t, m in zip(text, more)]


def _pad(values: list, n: int) -> list:
    return list(values) + [""] * (n - len(values))


def example_recommendations(task: RecTask, name: str, res: Result, n_users: int = 3, n_history: int = 8
                            ) -> pd.DataFrame:
    """For ``n_users`` test users (seeded pick): their latest training interactions (newest first, with
    the rating) next to model ``name``'s top-k (its result ``res``), ✓ where the held-out data shows
    the user liked it."""
    rng = np.random.default_rng(task.seed)
    rows = rng.choice(task.test.n, size=min(n_users, task.test.n), replace=False)
    frames = []
    for r in rows:
        items, ratings = task.test.history.row(int(r))
        hist_items, hist_ratings = items[::-1][:n_history], ratings[::-1][:n_history]
        top = res.top[r, :task.k]
        a, b = task.test.targets.indptr[r], task.test.targets.indptr[r + 1]
        liked = set(task.test.targets.items[a:b].tolist())
        n = max(len(top), len(hist_items))
        frames.append(pd.DataFrame({
            "user": [task.data.user_ids[task.test.targets.users[r]]] * n, "#": np.arange(1, n + 1),
            "recent history (newest first)": _pad(_describe(task, hist_items), n),
            "rating": _pad(["" if v != v else f"{v:g}" for v in hist_ratings], n),
            f"recommended by {name}": _pad(_describe(task, top), n),
            "liked in held-out data": _pad(["✓" if i in liked else "" for i in top.tolist()], n)}))
    return full(pd.concat(frames).set_index(["user", "#"]))
