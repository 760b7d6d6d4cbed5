"""The served models: each folder loaded through the saved-model contract, named, and given the endpoint
class of its input kind.

The card's typed input schema decides: a table (:class:`~workbench.models.TableInput`) is served by
``TableEndpoint`` (records as JSON or CSV), images by ``ImageEndpoint`` (uploads), users by
``RecommenderEndpoint`` (top-k, interactions, profiles). Every model is loaded with
:func:`workbench.models.load` (card validated, every file's sha256 verified before anything is
deserialized); serving never imports a domain package.
"""

from __future__ import annotations

from typing import Any

from ..errors import WorkbenchError
from ..models import ModelCard
from ._config import ServeConfig, ServeError
from ._endpoint import ServedModel
from ._images import ImageEndpoint
from ._recommend import RecommenderEndpoint
from ._tables import TableEndpoint

ENDPOINTS: dict[str, type[ServedModel]] = {c.input_type: c for c in (TableEndpoint, ImageEndpoint, RecommenderEndpoint)}
"""Input kind (the card's ``input_schema.type``) -> the endpoint class that serves it."""


def endpoint_class(card: ModelCard) -> type[ServedModel]:
    """The endpoint class for a card's input kind (ServeError for a kind the server cannot take)."""
    cls = ENDPOINTS.get(card.input_schema.type)
    if cls is None:
        raise ServeError(f"a model of kind {card.kind!r} with input schema type {card.input_schema.type!r} cannot be served "
                         f"(workbench serve takes {', '.join(ENDPOINTS)} inputs)")
    return cls


def locate(source: str, config: ServeConfig) -> Any:
    """What a served source names (a ``registry.LocatedModel``): a model folder, or the registered version a
    reference (``churn@champion``) points at now, in ``config.registry``."""
    from ..registry import locate_model

    return locate_model(source, config.registry)


def build_model(name: str, source: Any, config: ServeConfig) -> ServedModel:
    """``source`` (a folder, a reference, or a ``registry.ModelVersion``) loaded, verified and given its
    endpoint class under ``name``; a registered version's ``version`` is its ``NAME:VERSION``."""
    from ..registry import LocatedModel, ModelVersion

    try:
        located = LocatedModel(source.folder, source) if isinstance(source, ModelVersion) else locate(source, config)
        predictor = located.load()
        served = endpoint_class(predictor.card)(name, located.folder, predictor, config)
    except WorkbenchError as e:
        raise ServeError(f"model {name!r} ({source}): {e}") from None
    if located.version is not None:
        served.registered = located.version.ref
    return served


def load_models(config: ServeConfig) -> dict[str, ServedModel]:
    """Every model of ``config``, loaded, verified and given its endpoint; an error names the model and folder."""
    served = {name: build_model(name, source, config) for name, source in config.models}
    if config.workers > 1 and not config.redis_url:
        stateful = [n for n, sm in served.items() if sm.stateful]
        if stateful:
            raise ServeError(refuse_workers(stateful))
    return served


def refuse_workers(names: list[str]) -> str:
    return (f"--workers > 1 with recommender {', '.join(map(repr, names))} needs Redis: each worker process holds "
            "its own copy of the users' profiles, so an interaction posted to one worker would not change what the "
            "others recommend; fix: set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to share profile updates, or "
            "serve it with --workers 1")
