"""The hybrid recommender: a blend of collaborative, content and popularity scores.

Each component's scores are standardized per user (z-scores; popularity on a log scale) and summed
with weights. Users with more than ``cold_max`` interactions get the *warm* weights; users with fewer
(cold start) get the *cold* weights, which lean on content and popularity; users with no history get
popularity. Both weight sets are tuned on validation (:func:`tune_blend`): warm users on the validation
split, cold users on simulated newcomers (validation users whose history is cut to a few interactions).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ModelError
from ._base import MODELS, FitContext, Recommender, build, restore
from ._history import History
from ._metrics import Targets, ndcg_at

ROLES = ("collaborative", "content", "popularity")
WARM_GRID = [{"collaborative": 1.0, "content": c, "popularity": p}
             for c in (0.0, 0.1, 0.3, 0.6) for p in (0.0, 0.2)]
COLD_GRID = [{"collaborative": a, "content": c, "popularity": p}
             for a in (0.0, 0.5, 1.0) for c in (0.0, 0.5) for p in (0.3, 1.0)]


def _one_row(hist: History) -> History:
    return History(np.zeros(2, dtype=np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32), hist.n_items)


def _standardize(s: np.ndarray) -> np.ndarray:
    s = s - s.mean(1, keepdims=True)
    sd = s.std(1, keepdims=True)
    return np.divide(s, sd, out=np.zeros_like(s), where=sd > 1e-12)


@MODELS.register("hybrid")
class Hybrid(Recommender):
    """Collaborative + content + popularity, blended per user (see the module docstring)."""

    key = "hybrid"
    description = "blend of collaborative, content and popularity scores; content/popularity for cold start"
    defaults = {"collaborative": "ease", "cold_max": 5}
    tune_profile = False
    collaborative = False

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.components: dict[str, Recommender] = {}
        self.weights = {"warm": {"collaborative": 1.0, "content": 0.03, "popularity": 0.1},
                        "cold": {"collaborative": 0.5, "content": 0.5, "popularity": 1.0}}

    def _fit(self, train: History, ctx: FitContext) -> None:
        """Standalone fit: the components with their default settings (``compare`` tunes them instead)."""
        name = str(self.params["collaborative"])
        if name not in MODELS or not MODELS.get(name).collaborative:
            raise ModelError(f"hybrid: collaborative must be a collaborative model (item_knn, svd, als, ease), "
                             f"got {name!r}")
        parts = {"collaborative": build(name), "content": build("content"), "popularity": build("popularity")}
        self.set_components({r: m.fit(train, ctx) for r, m in parts.items()})

    def set_components(self, components: dict[str, Recommender]) -> "Hybrid":
        """Use fitted ``components`` (roles: collaborative, content, popularity)."""
        missing = [r for r in ROLES if r not in components]
        if missing:
            raise ModelError(f"hybrid needs the components {', '.join(ROLES)}; missing: {', '.join(missing)}")
        self.components = dict(components)
        self.params["collaborative"] = self.components["collaborative"].key
        self.n_items = self.components["popularity"].n_items
        return self

    def component_scores(self, hist: History) -> dict[str, np.ndarray]:
        """Standardized scores of each component."""
        out = {role: _standardize(m.score(hist)) for role, m in self.components.items() if role != "popularity"}
        pop = self.components["popularity"]
        if getattr(self, "_pop_z", (None,))[0] is not pop:  # the same for every user: computed once
            self._pop_z = (pop, _standardize(np.log1p(pop.score(_one_row(hist)))))
        out["popularity"] = np.broadcast_to(self._pop_z[1], (hist.n_rows, self.n_items)).copy()
        return out

    def blend(self, z: dict[str, np.ndarray], counts: np.ndarray, weights: dict | None = None) -> np.ndarray:
        """Weighted sum of standardized scores: warm, cold or popularity weights by each row's history size."""
        weights = weights or self.weights
        cold = counts <= int(self.params["cold_max"])
        out = np.zeros_like(z["popularity"])
        for group, rows in (("warm", ~cold), ("cold", cold)):
            if rows.any():
                out[rows] = sum(float(weights[group][r]) * z[r][rows] for r in ROLES)
        empty = counts == 0
        out[empty] = z["popularity"][empty]
        return out

    def score(self, hist: History) -> np.ndarray:
        return self.blend(self.component_scores(hist), hist.counts())

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"{role}__{k}": v for role, m in self.components.items() for k, v in m.arrays().items()}

    def state(self) -> dict[str, Any]:
        return {**super().state(), "weights": self.weights,
                "components": {r: m.state() for r, m in self.components.items()}}

    def set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray], n_items: int) -> None:
        comps, weights = state.get("components"), state.get("weights")
        if not isinstance(comps, dict) or not isinstance(weights, dict) or not all(
                isinstance(weights.get(g), dict) and all(isinstance(weights[g].get(r), (int, float)) for r in ROLES)
                for g in ("warm", "cold")):
            raise ModelError("model.json: a hybrid needs components and warm/cold weights for "
                             f"{', '.join(ROLES)}; refusing the model")
        parts = {}
        for role in ROLES:
            sub = {k.split("__", 1)[1]: v for k, v in arrays.items() if k.startswith(f"{role}__")}
            parts[role] = restore(comps.get(role), sub, n_items, where=f"model.json (hybrid {role})")
        self.set_components(parts)
        self.weights = {g: {r: float(weights[g][r]) for r in ROLES} for g in ("warm", "cold")}

    def set_arrays(self, arrays: dict[str, np.ndarray], n_items: int) -> None:  # pragma: no cover - via set_state
        raise ModelError("a hybrid is restored through its state (components and weights)")

    def settings(self) -> str:
        w = "; ".join(f"{g}: " + ", ".join(f"{r} {v:g}" for r, v in ws.items()) for g, ws in self.weights.items())
        parts = ", ".join(f"{r}={m.key}" for r, m in self.components.items() if r == "collaborative")
        return f"{parts}, cold_max={self.params['cold_max']}; weights {w}"


def _best(z: dict[str, np.ndarray], seen: History, targets: Targets, grid: list[dict], model: Hybrid,
          group: str) -> tuple[dict, float, list]:
    trials, best, best_score = [], grid[0], -1.0
    rows, items = seen.seen_mask_rows()
    for w in grid:
        s = model.blend(z, seen.counts(), {"warm": w, "cold": w})
        s[rows, items] = -np.inf
        score = ndcg_at(s, targets)
        trials.append({"group": group, **w, "ndcg@10": score})
        if score > best_score + 1e-9:
            best, best_score = w, score
    return best, best_score, trials


def tune_blend(model: Hybrid, warm: tuple[History, Targets] | None,
               cold: tuple[History, Targets] | None) -> list[dict[str, Any]]:
    """Choose the warm and cold weights by validation NDCG@10 (grids :data:`WARM_GRID`, :data:`COLD_GRID`);
    returns every trial. ``warm``/``cold``: (histories, relevant validation items) of those users."""
    trials: list[dict[str, Any]] = []
    for group, data, grid in (("warm", warm, WARM_GRID), ("cold", cold, COLD_GRID)):
        if data is None or data[1].n == 0:
            continue
        hist, targets = data
        best, _, t = _best(model.component_scores(hist), hist, targets, grid, model, group)
        model.weights[group] = dict(best)
        trials += t
    return trials

