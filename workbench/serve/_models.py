"""The served models: each folder loaded through the saved-model contract, named, and given its input mode.

The mode comes from the card alone: kind ``recommender`` serves users; an ``image`` input schema serves
uploaded images; a ``table`` input schema serves records (JSON or CSV). Every model is loaded with
:func:`workbench.models.load` (card validated, every file's sha256 verified before anything is
deserialized); serving never imports a domain package.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from ..models import ModelCard, load
from ._config import ServeConfig, ServeError
from ._schemas import TableSchema, recommender_schemas, table_schema

MODES = ("table", "image", "recommender")


@dataclass
class ServedModel:
    """One model behind the server: its name, predictor, card, input mode and request types."""

    name: str
    folder: Path
    predictor: Any
    card: ModelCard
    mode: str
    digest: str
    table: TableSchema | None = None
    request: Any = None
    interaction: Any = None
    default_k: int = 10
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def version(self) -> str:
        """A short id of the model's files (changes whenever a file does)."""
        return self.digest[:12]

    def summary(self) -> dict[str, Any]:
        """What ``GET /models`` lists for this model."""
        c = self.card
        routes = {"predict": f"/models/{self.name}/predict", "card": f"/models/{self.name}"}
        if self.mode == "recommender":
            routes.update(interactions=f"/models/{self.name}/interactions",
                          profile=f"/models/{self.name}/users/{{user}}")
        return {"name": self.name, "kind": c.kind, "task": c.task, "flavor": c.flavor, "model": c.name,
                "input": self.mode, "classes": list(c.classes), "version": self.version, "routes": routes}


def model_mode(card: ModelCard) -> str:
    """How a model takes its input, from its card."""
    if card.kind == "recommender":
        return "recommender"
    kind = card.input_schema.get("type") if isinstance(card.input_schema, dict) else None
    if kind in ("table", "image"):
        return str(kind)
    raise ServeError(f"a {card.kind} model with input schema type {kind!r} cannot be served (workbench serve takes "
                     "table and image inputs, and recommenders)")


def _digest(card: ModelCard) -> str:
    h = hashlib.sha256()
    for name, sha in sorted(card.files.items()):
        h.update(f"{name}\0{sha}\n".encode())
    return h.hexdigest()


def _default_k(card: ModelCard, config: ServeConfig) -> int:
    k = card.details.get("k") if isinstance(card.details, dict) else None
    if isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= config.max_k:
        return k
    return min(10, config.max_k)


def serve_model(name: str, folder: str | Path, predictor: Any, config: ServeConfig) -> ServedModel:
    """A loaded predictor as a :class:`ServedModel` (request types built from its card)."""
    card = predictor.card
    mode = model_mode(card)
    sm = ServedModel(name=name, folder=Path(folder), predictor=predictor, card=card, mode=mode, digest=_digest(card))
    if mode == "table":
        sm.table = table_schema(name, card, config.max_rows)
        if not sm.table.features:
            raise ServeError(f"model {name!r}: its card lists no input columns (input_schema.columns)")
    elif mode == "recommender":
        sm.default_k = _default_k(card, config)
        sm.request, sm.interaction = recommender_schemas(name, config.max_k, sm.default_k)
    return sm


def load_models(config: ServeConfig) -> dict[str, ServedModel]:
    """Every model of ``config``, loaded and verified; an error names the model and the folder."""
    served = {}
    for name, folder in config.models:
        try:
            predictor = load(folder)
        except WorkbenchError as e:
            raise ServeError(f"model {name!r} ({folder}): {e}") from None
        served[name] = serve_model(name, folder, predictor, config)
    if config.workers > 1 and not config.redis_url:
        recs = [n for n, sm in served.items() if sm.mode == "recommender"]
        if recs:
            raise ServeError(refuse_workers(recs))
    return served


def refuse_workers(names: list[str]) -> str:
    return (f"--workers > 1 with recommender {', '.join(map(repr, names))} needs Redis: each worker process holds "
            "its own copy of the users' profiles, so an interaction posted to one worker would not change what the "
            "others recommend; fix: set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to share profile updates, or "
            "serve it with --workers 1")
