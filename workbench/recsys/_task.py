"""The evaluation protocol: per-user holdout, validation carved from train, cold-start slices.

:func:`prepare_task` splits each user's interactions: the last ``test_fraction`` (by time; a seeded
random share without a time column) is the test set, the last ``val_fraction`` of what remains is the
validation set used for tuning (models are tuned on *fit* = train minus validation, then refit on the
whole train split). A user's relevant items are the held-out ones rated at or above the threshold
(every held-out item for implicit feedback); users without any are not evaluated.

Cold start: users with at most ``cold_start_max`` training interactions form the cold-start slice.
Datasets such as MovieLens have none (every user rated 20+ movies), so a simulated slice is always
built as well: every warm evaluated user again, with the history cut to their most recent 1 to
``cold_start_max`` interactions (seeded). The models saw those users' full training histories, never
their held-out items, so the simulation is not optimistic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..data import per_group_holdout
from ..errors import DatasetError, ModelError
from ..evaluation import full
from ._base import MODELS, model_names, validate_models
from ._data import Interactions
from ._history import History, ProfileSpec
from ._metrics import Targets, make_targets


@dataclass
class Slice:
    """Evaluated users with the history the model sees for them, and their relevant held-out items."""

    name: str
    history: History
    targets: Targets

    @property
    def n(self) -> int:
        return self.targets.n


@dataclass
class RecTask:
    """A validated recommendation problem: histories, held-out targets, slices, models, settings."""

    data: Interactions
    train: History
    fit: History
    validation: Slice
    test: Slice
    cold_rows: np.ndarray
    simulated: Slice | None
    val_cold: Slice | None
    models: list[str]
    k: int = 10
    max_k: int = 50
    seed: int = 0
    test_fraction: float = 0.2
    val_fraction: float = 0.2
    cold_start_max: int = 5
    n_test: int = 0
    n_val: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def temporal(self) -> bool:
        return self.data.time is not None

    @property
    def popularity(self) -> np.ndarray:
        """Training users per item (ties in rankings go to the more popular item; novelty)."""
        return np.bincount(self.train.items, minlength=self.data.n_items).astype(np.float64)

    @property
    def fit_popularity(self) -> np.ndarray:
        """Users per item in *fit* (train minus validation): the tie-break while tuning."""
        return np.bincount(self.fit.items, minlength=self.data.n_items).astype(np.float64)

    @property
    def n_train_users(self) -> int:
        return int((self.train.counts() > 0).sum())

    def profile_grid(self) -> list[ProfileSpec]:
        """Profile settings tried on validation: recency only with times, dislikes only with ratings."""
        halves: list[float | None] = [None, 0.5, 0.2] if self.temporal else [None]
        negs = [1.0, 0.25, 0.0] if not self.data.implicit else [1.0]
        return [ProfileSpec(h, n) for h in halves for n in negs]

    def summary(self) -> pd.DataFrame:
        how = "temporal (each user's latest)" if self.temporal else f"random per user (seed {self.seed})"
        rows = [("split", f"{how} {self.test_fraction:.0%} held out for test; validation: the latest "
                          f"{self.val_fraction:.0%} of the rest (tuning), models refit on all of train"),
                ("train / validation / test", f"{len(self.train.items):,} / {self.n_val:,} / {self.n_test:,} "
                                              "interactions"),
                ("evaluated users", f"{self.test.n:,} with at least one relevant test item "
                                    f"(validation: {self.validation.n:,})"),
                ("cold-start users", f"{int(self.cold_rows.sum())} evaluated users with ≤ {self.cold_start_max} "
                                     "training interactions" + (f"; simulated: {self.simulated.n} warm users with "
                                     f"their history cut to its latest 1-{self.cold_start_max}"
                                     if self.simulated is not None else "")),
                ("ranking", f"all items a user has not interacted with (no sampled negatives); k = {self.k}"),
                ("models", ", ".join(self.models))]
        rows += [("note", n) for n in self.notes]
        return full(pd.DataFrame(rows, columns=["", "value"]).set_index(""))


def _history(d: Interactions, mask: np.ndarray) -> History:
    return History.from_codes(d.user[mask], d.item[mask], d.rating[mask], None if d.time is None else d.time[mask],
                              d.n_users, d.n_items, d.relevance_threshold)


def _simulated(name: str, hist: History, targets: Targets, cold_max: int, seed: int) -> Slice | None:
    """Warm users again, each history cut to its latest 1..cold_max interactions."""
    warm = np.flatnonzero(hist.counts()[targets.users] > cold_max)
    if not len(warm):
        return None
    keep = np.random.default_rng(seed).integers(1, cold_max + 1, len(warm))
    return Slice(name, hist.rows(targets.users[warm]).last(keep), targets.subset(warm))


def _check_models(models: Sequence[str] | str | None, data: Interactions) -> list[str]:
    from ._base import DEFAULT_MODELS

    names = validate_models(DEFAULT_MODELS if models is None else models)
    needs_text = [m for m in names if m in ("content", "hybrid")]
    if needs_text and not data.item_text_cols:
        raise ModelError(f"{' and '.join(needs_text)} need item text: set item_text_cols (e.g. [title, genres]), "
                         "or drop them from models")
    return names


def prepare_task(data: Interactions, models: Sequence[str] | str | None = None, *, k: int = 10,
                 test_fraction: float = 0.2, val_fraction: float = 0.2, seed: int = 0,
                 cold_start_max: int = 5) -> RecTask:
    """Split ``data`` for evaluation and check the model names; raise before any fitting on bad input.

    Parameters
    ----------
    data : :class:`Interactions` from :func:`prepare_interactions`.
    models : registry names (default: all of :data:`DEFAULT_MODELS`).
    k : the cut-off of the headline metrics (NDCG@k, ...); curves go up to ``max(50, k)``.
    test_fraction, val_fraction : each user's held-out share for test, then for validation.
    seed : seed of random splits and the simulated cold-start slice.
    cold_start_max : users with at most this many training interactions are cold-start users.
    """
    names = _check_models(models, data)
    if not isinstance(k, int) or not 1 <= k <= data.n_items:
        raise ModelError(f"k must be an integer between 1 and the number of items ({data.n_items}), got {k!r}")
    if not isinstance(cold_start_max, int) or cold_start_max < 1:
        raise ModelError(f"cold_start_max must be a positive integer, got {cold_start_max!r}")
    test = per_group_holdout(data.user, test_fraction, order=data.time, seed=seed)
    train_idx = np.flatnonzero(~test)
    val = np.zeros(data.n, dtype=bool)
    val[train_idx] = per_group_holdout(data.user[train_idx], val_fraction,
                                       order=None if data.time is None else data.time[train_idx], seed=seed + 1)
    relevant = data.relevant
    test_t = make_targets(data.user[test & relevant], data.item[test & relevant], data.n_users)
    val_t = make_targets(data.user[val & relevant], data.item[val & relevant], data.n_users)
    if test_t.n == 0 or val_t.n == 0:
        raise DatasetError(f"no user has a relevant held-out item ({'test' if test_t.n == 0 else 'validation'}); "
                           "users need at least 3 interactions, some of them relevant; fix: lower "
                           "relevance_threshold or use a larger table")
    train, fit = _history(data, ~test), _history(data, ~test & ~val)
    sim = _simulated(f"simulated cold start (latest 1-{cold_start_max})", train, test_t, cold_start_max, seed)
    val_sim = _simulated("validation cold start", fit, val_t, cold_start_max, seed + 2)
    val_real = np.flatnonzero(fit.counts()[val_t.users] <= cold_start_max)
    if len(val_real):
        real_slice = Slice("", fit.rows(val_t.users[val_real]), val_t.subset(val_real))
        val_sim = real_slice if val_sim is None else Slice(val_sim.name, History.concat(
            [val_sim.history, real_slice.history]), Targets.concat([val_sim.targets, real_slice.targets]))
    notes = [f"the hybrid blends {_collab_note(names)}"] if "hybrid" in names else []
    return RecTask(data=data, train=train, fit=fit, validation=Slice("validation", fit.rows(val_t.users), val_t),
                   test=Slice("test", train.rows(test_t.users), test_t),
                   cold_rows=train.counts()[test_t.users] <= cold_start_max, simulated=sim, val_cold=val_sim, models=names,
                   k=k, max_k=max(50, k), seed=seed, test_fraction=test_fraction, val_fraction=val_fraction,
                   cold_start_max=cold_start_max, n_test=int(test.sum()), n_val=int(val.sum()), notes=notes)


def _collab_note(names: list[str]) -> str:
    collab = [m for m in names if MODELS.get(m).collaborative]
    which = f"the collaborative model with the best validation NDCG ({', '.join(collab)})" if collab else "ease"
    return f"{which}, content and popularity"


def describe_models(names: Sequence[str] | None = None) -> pd.DataFrame:
    """The registry: name, what it does, default parameters, what is tuned on validation."""
    rows: list[dict[str, Any]] = []
    for name in names or model_names():
        cls = MODELS.get(name)
        grid = sorted({k for g in cls.grid for k in g})
        tuned = [f"{', '.join(grid)} ({len(cls.grid)} candidates)"] if len(cls.grid) > 1 else []
        tuned += ["profile (recency half-life, disliked weight)"] if cls.tune_profile else []
        tuned += ["blend weights (warm and cold-start users)"] if name == "hybrid" else []
        rows.append({"model": name, "description": cls.description,
                     "defaults": ", ".join(f"{k}={v}" for k, v in cls.defaults.items()),
                     "tuned on validation": "; ".join(tuned) or "nothing to tune"})
    return full(pd.DataFrame(rows).set_index("model"))
