"""Request logs written the way ``workbench serve`` writes them, with planted differences, for the rollout tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.rollout._simulate import assign_variant


def write_lines(folder: Path, records: list[dict]) -> Path:
    """One ``requests-YYYYMMDD.jsonl`` file per day of the records' ``ts``."""
    folder.mkdir(parents=True, exist_ok=True)
    by_day: dict[str, list[str]] = {}
    for r in records:
        by_day.setdefault(r["ts"][:10].replace("-", ""), []).append(json.dumps(r))
    for day, lines in by_day.items():
        (folder / f"requests-{day}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def classification_log(folder: Path, n: int = 4000, *, mode: str = "ab", champion_noise: float = 1.0,
                       challenger_noise: float = 1.0, share: float = 0.5, days: int = 14, drop_challenger: float = 0.0,
                       errors: tuple[float, float] = (0.0, 0.0), latency: tuple[float, float] = (20.0, 20.0),
                       versions: tuple[str, str] = ("churn:1", "churn:2"), seed: int = 0) -> tuple[Path, pd.DataFrame]:
    """A binary churn model's log: true probabilities p ~ Beta(2, 5), labels ~ Bernoulli(p); each model
    predicts logit(p) + N(0, noise): the smaller the noise, the better the model. Returns the log folder
    and the labels table (customer, churn)."""
    rng = np.random.default_rng(seed)
    keys = [f"c{i:05d}" for i in range(n)]
    p = rng.beta(2, 5, n)
    y = np.where(rng.random(n) < p, "Yes", "No")
    logit = np.log(p / (1 - p))
    proba = [1 / (1 + np.exp(-(logit + rng.normal(0, s, n)))) for s in (champion_noise, challenger_noise)]
    to_b = assign_variant(keys, share, "churn") if mode == "ab" else np.zeros(n, dtype=bool)
    ts = pd.Timestamp("2024-06-01", tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, n)), unit="s")
    records = []
    for i in range(n):
        sides = [("challenger", 1)] if to_b[i] else [("champion", 0)] + ([("shadow", 1)] if mode == "shadow" else [])
        for variant, m in sides:
            if variant == "challenger" and rng.random() < drop_challenger:
                continue  # a logging bug in one arm: the SRM check must notice
            failed = rng.random() < errors[m]
            out = {"prediction": None, "proba_No": None, "proba_Yes": None, "error": "boom"} if failed else \
                {"prediction": "Yes" if proba[m][i] >= 0.5 else "No", "proba_No": float(1 - proba[m][i]),
                 "proba_Yes": float(proba[m][i]), "error": None}
            records.append({"ts": ts[i].strftime("%Y-%m-%dT%H:%M:%S.000Z"), "model": "churn",
                            "latency_ms": float(latency[m] * np.exp(rng.normal(0, 0.3))),
                            "input": {"customer": keys[i], "tenure": int(rng.integers(0, 72))}, "output": out,
                            "request_id": f"{i:016x}", "variant": variant, "version": versions[m]})
    return write_lines(folder / "churn", records), pd.DataFrame({"customer": keys, "churn": y})


@pytest.fixture
def make_log(tmp_path):
    def make(**kwargs) -> tuple[Path, pd.DataFrame]:
        return classification_log(tmp_path / f"log{len(list(tmp_path.iterdir()))}", **kwargs)
    return make


@pytest.fixture
def write_log():
    """``write_log(folder, records)``: the records as a served name's daily JSON-lines files."""
    return write_lines
