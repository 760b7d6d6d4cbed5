"""One served model: the base class of the endpoint classes, one per input kind of the card.

A :class:`ServedModel` holds a loaded predictor with its name, card and version; its subclass for the
card's input kind (``_tables.TableEndpoint``, ``_images.ImageEndpoint``, ``_recommend.RecommenderEndpoint``;
picked in ``_models``) owns its routes (an ``APIRouter``), its generated request types, its OpenAPI
pieces and its part of ``GET /models``. Nothing here branches on the kind: each class says what it is.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ..models import ModelCard
from ._config import ServeConfig
from ._json import dumps

if TYPE_CHECKING:
    from ._state import ServerState


def files_digest(card: ModelCard) -> str:
    """sha256 over the card's file names and hashes: changes whenever a file of the model does."""
    h = hashlib.sha256()
    for name, sha in sorted(card.files.items()):
        h.update(f"{name}\0{sha}\n".encode())
    return h.hexdigest()


class ServedModel:
    """A model behind the server (see the module docstring); subclasses set the class attributes.

    Attributes
    ----------
    input_type : the card's ``input_schema.type`` the class serves (``table``, ``image``, ``users``).
    label : what ``GET /models`` lists as the model's input, and the banner shows.
    stateful : whether the class keeps state per process (a recommender's profiles), which several
        workers can only share through Redis.
    writes_log_dir : whether it writes into ``--log-dir`` even without the request log.
    components : the OpenAPI schemas its request types refer to.
    """

    input_type: ClassVar[str] = ""
    label: ClassVar[str] = ""
    stateful: ClassVar[bool] = False
    writes_log_dir: ClassVar[bool] = False

    def __init__(self, name: str, folder: str | Path, predictor: Any, config: ServeConfig):
        self.name, self.folder, self.predictor, self.config = name, Path(folder), predictor, config
        self.card: ModelCard = predictor.card
        self.digest = files_digest(self.card)
        self.lock = threading.Lock()
        self.components: dict[str, Any] = {}
        self.registered: str | None = None  # NAME:VERSION when loaded from the registry
        self.handlers: dict[str, Callable] = {}  # route -> handler (what a rollout dispatches to)
        self.rollout: Any = None  # the serve._rollout.Rollout its routes go through, when it has one

    @property
    def version(self) -> str:
        """``NAME:VERSION`` when served from the registry, else a short id of the model's files."""
        return self.registered or self.digest[:12]

    def paths(self) -> dict[str, str]:
        """The model's routes by name, for ``GET /models``."""
        return {"predict": f"/models/{self.name}/predict", "card": f"/models/{self.name}"}

    def summary(self) -> dict[str, Any]:
        """What ``GET /models`` lists for this model."""
        c = self.card
        return {"name": self.name, "kind": c.kind, "task": c.task, "flavor": c.flavor, "model": c.name,
                "input": self.label, "classes": list(c.classes), "version": self.version, "routes": self.paths()}

    def router(self, state: "ServerState") -> APIRouter:
        """The model's routes, answering from ``state`` (cache, metrics, request log): by default one
        ``POST predict`` route to the subclass's ``predict(state, request)``, documented by its ``_doc()``."""
        router = APIRouter()

        async def predict(request: Request) -> Response:
            return await self.predict(state, request)

        self.add_route(router, "predict", "predict", predict, "POST", self._doc())
        return router

    async def start(self, state: "ServerState") -> None:
        """Called once the server's Redis client and request log are up (before the first request)."""

    def add_route(self, router: APIRouter, route: str, path: str, handler: Callable, method: str,
                  doc: dict[str, Any]) -> None:
        """``handler`` at ``/models/<name>/<path>``, documented by ``doc`` (summary, description, OpenAPI extra);
        through the name's rollout (which picks the version and variant per request) when it has one."""
        self.handlers[route] = handler
        if self.rollout is not None:
            handler = self.rollout.endpoint(route, handler)
        router.add_api_route(f"/models/{self.name}/{path}", handler, methods=[method], tags=[self.name],
                             summary=doc["summary"], description=doc.get("description"),
                             openapi_extra=doc["extra"], operation_id=f"{route}_{self.name}")

    def predictions(self, rows_json: bytes) -> Response:
        """The answer of a predict route: ``{"model", "version", "predictions": rows}`` around JSON rows."""
        head = dumps({"model": self.name, "version": self.version})[:-1]
        return Response(head + b',"predictions":' + rows_json + b"}", media_type="application/json")
