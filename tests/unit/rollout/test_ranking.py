"""Recommenders: hit@k of logged recommendations against the interactions that followed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.errors import DatasetError
from workbench.rollout import RolloutReport
from workbench.rollout._outcomes import hit_at_k
from workbench.rollout._simulate import assign_variant

DAY = pd.Timedelta(days=1)
T0 = pd.Timestamp("2024-06-01", tz="UTC")


def served(items: list[str]) -> list[dict]:
    """Items the way ``workbench serve`` logs them."""
    return [{"rank": i + 1, "item": it, "score": 1.0 - i / 10} for i, it in enumerate(items)]


INTERACTIONS = pd.DataFrame({"user": ["u1", "u2", "u3", "u4", "u9"], "item": ["b", "d", "g", "z", "x"],
                             "ts": [T0 + 2 * DAY, T0 + 10 * DAY, T0 + DAY, T0 - DAY, T0 + 12 * DAY]})


def test_hit_at_k_by_hand():
    users = ["u1", "u2", "u3", "u1", "u4"]
    ts = [T0, T0, T0, T0 + 20 * DAY, T0]
    items = [served(["a", "b", "c"]), ["d", "e"], served(["f"]), served(["a"]), served(["z"])]
    got = hit_at_k(users, ts, items, INTERACTIONS, user_column="user", item_column="item", time_column="ts",
                   window=7 * DAY)
    # u1: b two days later (hit); u2: d after the window; u3: another item; u1 again: its window is still open
    # (the interactions end on day 12) and nothing hit yet; u4: the interaction came before the request
    np.testing.assert_array_equal(got, [1.0, 0.0, 0.0, np.nan, 0.0])
    top1 = hit_at_k(users, ts, items, INTERACTIONS, user_column="user", item_column="item", time_column="ts",
                    window=7 * DAY, k=1)
    assert top1[0] == 0.0  # b was second: not in the top 1
    wide = hit_at_k(users, ts, items, INTERACTIONS, user_column="user", item_column="item", time_column="ts",
                    window=10 * DAY)
    assert wide[1] == 1.0


def test_a_recommender_rollout(tmp_path, write_log):
    rng = np.random.default_rng(0)
    users = [f"u{i}" for i in range(3000)]
    to_b = assign_variant(users, 0.5, "recs")
    records, inter = [], []
    for i, u in enumerate(users):
        t = T0 + pd.Timedelta(seconds=float(i) * 86400 * 10 / len(users))
        variant = "challenger" if to_b[i] else "champion"
        recs = [f"{u}-{j}" for j in range(5)]
        # the challenger's recommendations are taken up more often: 30% vs 20% of users
        if rng.random() < (0.3 if to_b[i] else 0.2):
            inter.append((u, recs[int(rng.integers(0, 5))], t + DAY))
        records.append({"ts": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "model": "recs", "latency_ms": 3.0,
                        "input": {"user": u, "k": 5}, "output": {"items": served(recs), "cold_start": False},
                        "request_id": f"{i:08x}", "variant": variant, "version": f"recs:{2 if to_b[i] else 1}"})
    inter.append(("nobody", "x", T0 + 30 * DAY))  # the interactions run long enough to close every window
    write_log(tmp_path / "recs", records)
    labels = pd.DataFrame(inter, columns=["user", "item", "ts"])
    r = RolloutReport(tmp_path / "recs", labels, id_column="user", label_column="item", window_days=7)
    assert r.requests.task == "ranking" and r.metric.key == "hit_rate"
    t = r.table.set_index("variant")
    hits_b = labels[labels["user"].isin(np.array(users)[to_b])].shape[0]
    assert t.loc["challenger", "value"] == pytest.approx(hits_b / to_b.sum())
    assert t.loc["challenger", "value"] > t.loc["champion", "value"]
    assert r.result.decision == "promote" and r.result.commands == ["workbench models alias recs champion 2"]
    assert r.headline()["metric_delta"] == pytest.approx(t.loc["challenger", "value"] - t.loc["champion", "value"])
    with pytest.raises(DatasetError, match="none of the log's users \\('user'\\) appears in the interactions"):
        RolloutReport(tmp_path / "recs", labels.assign(user="someone"), id_column="user", label_column="item")
