"""Splits shared by every domain: seeded, stratified where the labels allow it, per-group holdouts."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DatasetError


def stratified_split(labels: Any, test_size: float | int | None = None, seed: int = 0, *,
                     train_size: float | int | None = None, require: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(train_index, test_index)``, each sorted, stratified on ``labels``.

    ``require=False`` falls back to a plain random split when a class has fewer than two members
    (subsampling); by default that is a :class:`DatasetError` naming the classes.
    """
    from sklearn.model_selection import train_test_split

    y = np.asarray(labels)
    idx = np.arange(len(y))
    _, counts = np.unique(y, return_counts=True)
    strat = y
    if len(counts) == 0 or counts.min() < 2:
        if require:
            small = [str(v) for v, n in zip(*np.unique(y, return_counts=True)) if n < 2]
            raise DatasetError(f"each class needs at least 2 items to split; too few in: {', '.join(small)}")
        strat = None
    tr, te = train_test_split(idx, test_size=test_size, train_size=train_size, random_state=seed, stratify=strat)
    return np.sort(tr), np.sort(te)


def per_group_holdout(groups: Any, fraction: float = 0.2, order: Any = None, seed: int = 0,
                      min_keep: int = 1) -> np.ndarray:
    """A boolean mask of the rows held out: the last ``fraction`` of each group's rows.

    Within a group rows are ordered by ``order`` (e.g. a timestamp; ties keep the row order), or
    shuffled with ``seed`` when ``order`` is None. Each group holds out ``ceil(fraction * n)`` rows
    but keeps at least ``min_keep`` (so a group of one row holds out nothing). The per-user temporal
    holdout of recommender evaluation is ``per_group_holdout(users, 0.2, order=timestamps)``.
    """
    if not 0.0 < float(fraction) < 1.0:
        raise DatasetError(f"the held-out fraction must be between 0 and 1 (exclusive), got {fraction!r}")
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    n = len(codes)
    if n == 0:
        return np.zeros(0, dtype=bool)
    key = np.random.default_rng(seed).random(n) if order is None else np.asarray(order)
    idx = np.lexsort((np.arange(n), key, codes))
    sorted_codes = codes[idx]
    starts = np.r_[0, np.flatnonzero(sorted_codes[1:] != sorted_codes[:-1]) + 1]
    sizes = np.diff(np.r_[starts, n])
    size = np.repeat(sizes, sizes)
    pos = np.arange(n) - np.repeat(starts, sizes)
    n_out = np.minimum(np.ceil(fraction * size - 1e-9).astype(np.int64), np.maximum(size - min_keep, 0))
    mask = np.empty(n, dtype=bool)
    mask[idx] = pos >= size - n_out
    return mask
