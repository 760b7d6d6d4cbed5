"""What comparing a model yields: its tuning on validation (:class:`Tuned`) and its final fit and test
evaluation (:class:`Result`). :mod:`._compare` produces them, :mod:`._results` and :mod:`._figures` read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._base import Recommender


@dataclass
class Tuned:
    """A model tuned on validation: fitted on *fit* with its best settings, and the trials."""

    name: str
    model: Recommender
    val_ndcg: float
    trials: list[dict[str, Any]]
    seconds: float


@dataclass
class Result:
    """One model's final fit and test evaluation (per-user metrics at k = 1..max_k, top lists)."""

    name: str
    model: Recommender
    val_ndcg: float
    metrics: dict[str, np.ndarray]
    top: np.ndarray
    slices: dict[str, dict[str, np.ndarray]]
    fit_time: float
    tune_time: float
    ms_per_user: float
