"""Splits shared by every domain: seeded, stratified where the labels allow it, indices sorted."""

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
