"""Saving a recommender through the saved-model contract, and reading one back from an untrusted folder.

A folder holds ``model.npz`` (plain numpy arrays, read without pickle) and ``model.json`` (kind
``recommender``, task ``ranking``, flavor ``npz``). The arrays: the model's own (item-item matrix,
item factors, TF-IDF matrix, popularity; ``m__`` prefix), the id maps (numbers or fixed-width text),
every user's history in time order (CSR: ``hist_indptr``, ``hist_items``, ``hist_ratings``), the
popularity fallback for unknown users, and item labels (titles) when the data had them. The card
lists every array with its dtype and shape; loading checks each against it and checks every index
range before anything is scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..models import ModelCard, flavors, provenance, save_card
from ._base import Recommender, checked, restore
from ._history import History

FILE = "model.npz"


@dataclass
class SavedParts:
    """What a saved recommender consists of once read and checked."""

    model: Recommender
    history: History
    user_ids: np.ndarray
    item_ids: np.ndarray
    fallback: np.ndarray
    labels: np.ndarray | None


def _id_array(ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(ids)
    return ids.astype(np.int64) if ids.dtype.kind in "iu" else ids.astype(str)


def save_model(model: Recommender, task: Any, folder: str | Path, metrics: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (fitted on ``task.train``) into ``folder``: ``model.npz`` + ``model.json``.

    Users' saved histories hold *all* their interactions (train and test, in time order), so served
    recommendations exclude everything they have seen; the model's weights are the evaluated fit.
    """
    data = task.data
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hist = History.from_codes(data.user, data.item, data.rating, data.time, data.n_users, data.n_items,
                              data.relevance_threshold)
    arrays = {f"m__{k}": v for k, v in model.arrays().items()}
    arrays.update(user_ids=_id_array(data.user_ids), item_ids=_id_array(data.item_ids), hist_indptr=hist.indptr,
                  hist_items=hist.items, hist_ratings=hist.ratings, fallback=task.popularity.astype(np.float32))
    label = data.label_col()
    if label:
        arrays["item_labels"] = data.item_info[label].map(lambda v: "" if v != v else str(v)).to_numpy(dtype=str)
    np.savez_compressed(folder / FILE, **arrays)
    card = ModelCard(
        kind="recommender", task="ranking", flavor="npz", name=model.key, files={FILE: ""},
        input_schema={"type": "users", "user_col": data.user_col, "item_col": data.item_col,
                      "user_ids": "number" if arrays["user_ids"].dtype.kind == "i" else "text"},
        output_schema={"columns": [data.user_col, "rank", data.item_col, *([label] if label else []), "score",
                                   "cold_start", "error"]},
        metrics=metrics or {},
        provenance=provenance(dataset=data.dataset, data_fingerprint=data.fingerprint, n_users=data.n_users,
                              n_items=data.n_items, n_interactions=data.n, seed=task.seed,
                              split="temporal" if task.temporal else "random"),
        details={"recommender": model.state(), "n_users": data.n_users, "n_items": data.n_items, "k": task.k,
                 "cold_start_max": task.cold_start_max, "relevance_threshold": data.relevance_threshold,
                 "label_col": label, "arrays": {k: [str(v.dtype), list(v.shape)] for k, v in arrays.items()}})
    return save_card(folder, card)


def _manifest(card: ModelCard, arrays: dict[str, np.ndarray], where: str) -> tuple[int, int]:
    d = card.details
    n_users, n_items, manifest = d.get("n_users"), d.get("n_items"), d.get("arrays")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in (n_users, n_items)) \
            or not isinstance(manifest, dict):
        raise ModelError(f"{where}: details must hold n_users, n_items (positive integers) and the arrays manifest; "
                         "refusing the model")
    if set(manifest) != set(arrays):
        extra, missing = sorted(set(arrays) - set(manifest)), sorted(set(manifest) - set(arrays))
        raise ModelError(f"{where}: {FILE} does not hold the arrays the card lists (unexpected: {extra or 'none'}; "
                         f"missing: {missing or 'none'}); refusing the model")
    for key, a in arrays.items():
        spec = manifest[key]
        if not (isinstance(spec, list) and len(spec) == 2 and spec[0] == str(a.dtype) and spec[1] == list(a.shape)):
            raise ModelError(f"{where}: array {key!r} is {a.dtype} {list(a.shape)}, the card says {spec}; "
                             "refusing the model")
    return n_users, n_items


def _ids(arrays: dict[str, np.ndarray], key: str, n: int, where: str) -> np.ndarray:
    ids = arrays.get(key)
    if ids is None or ids.ndim != 1 or ids.shape[0] != n or ids.dtype.kind not in "iU":
        raise ModelError(f"{where}: {key} must be {n} integer or text ids; refusing the model")
    if len(np.unique(ids)) != n:
        raise ModelError(f"{where}: {key} holds duplicate ids; refusing the model")
    return ids


def read_parts(folder: Path, card: ModelCard) -> SavedParts:
    """The checked contents of a verified folder (see :func:`workbench.models.load`)."""
    where = str(folder / FILE)
    if card.flavor != "npz" or set(card.files) != {FILE}:
        raise ModelError(f"{folder / 'model.json'}: a recommender is one {FILE} file with flavor npz, got "
                         f"{card.flavor} {sorted(card.files)}")
    arrays = flavors.load_arrays(folder / FILE)
    n_users, n_items = _manifest(card, arrays, where)
    user_ids, item_ids = _ids(arrays, "user_ids", n_users, where), _ids(arrays, "item_ids", n_items, where)
    indptr = checked(arrays, "hist_indptr", "i", 1, (n_users + 1,), where=where)
    items = checked(arrays, "hist_items", "i", 1, None, n_items, where=where)
    ratings = checked(arrays, "hist_ratings", "f", 1, (len(items),), where=where, allow_nan=True)
    if indptr[0] != 0 or indptr[-1] != len(items) or np.any(np.diff(indptr) < 0):
        raise ModelError(f"{where}: hist_indptr is not a valid CSR offset array; refusing the model")
    fallback = checked(arrays, "fallback", "f", 1, (n_items,), where=where)
    labels = checked(arrays, "item_labels", "U", 1, (n_items,), where=where) if "item_labels" in arrays else None
    threshold = card.details.get("relevance_threshold")
    if threshold is not None and not isinstance(threshold, (int, float)):
        raise ModelError(f"{where}: relevance_threshold must be a number or null; refusing the model")
    sub = {k[3:]: v for k, v in arrays.items() if k.startswith("m__")}
    model = restore(card.details.get("recommender"), sub, n_items, where=str(folder / "model.json"))
    return SavedParts(model, History(indptr, items, ratings, n_items, threshold), user_ids, item_ids,
                      fallback.astype(np.float32), labels)
