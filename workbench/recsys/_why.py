"""Why an item is recommended: the user's history items that contribute most to its score ("because you rated X").

Where the score is a sum over the user's history, each history item's term is its contribution, and they add
up to the score:

- item-kNN and EASE (``profile @ W``): item ``i`` gives ``w_i * W[i, j]``;
- PureSVD (``profile @ V @ V.T``): ``w_i * (V_i . V_j)``;
- content (cosine between the item's TF-IDF vector and the profile ``q = sum_i w_i T_i``): ``w_i * (T_i . T_j) /
  |q|``, the item's text match with each history item.

Other models (ALS solves for the user's factors; the hybrid standardizes and blends; popularity ignores the
history) are not explained: :func:`explainable` says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._history import History


def explainable(model: Any) -> bool:
    """Whether :func:`contributions` can explain ``model``'s scores."""
    return any(hasattr(model, a) for a in ("W_", "V_", "T_")) and type(model).__name__ != "ALS"


def contributions(model: Any, hist: History, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a one-user ``hist`` and recommended item codes ``items``: the user's history item codes ``h`` and the
    ``(len(h), len(items))`` contribution of each history item to each recommended item's score."""
    prof = hist.matrix(model.profile)
    h = prof.indices.astype(np.int64)
    w = np.asarray(prof.data, dtype=np.float64)
    items = np.asarray(items, dtype=np.int64)
    if not len(h) or not len(items):
        return h, np.zeros((len(h), len(items)))
    if hasattr(model, "W_"):
        block = np.asarray(model.W_[h][:, items].todense(), dtype=np.float64)
    elif hasattr(model, "V_"):
        V = np.asarray(model.V_, dtype=np.float64)
        block = V[h] @ V[items].T
    else:
        T = model.T_
        q = np.asarray((prof @ T).todense(), dtype=np.float64).ravel()
        norm = float(np.linalg.norm(q))
        block = np.asarray((T[h] @ T[items].T).todense(), dtype=np.float64) / (norm if norm > 0 else 1.0)
    return h, w[:, None] * block


def top_reasons(h: np.ndarray, contrib: np.ndarray, top: int) -> list[list[tuple[int, float]]]:
    """Per recommended item (a column of ``contrib``), its ``top`` largest positive contributions as
    ``(history item code, value)``, largest first."""
    out = []
    for col in contrib.T:
        order = np.argsort(-col, kind="stable")[:top]
        out.append([(int(h[i]), float(col[i])) for i in order if col[i] > 0])
    return out
