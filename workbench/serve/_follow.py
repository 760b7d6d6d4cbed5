"""Serving from the registry: a served name follows its alias (``workbench serve churn@champion``).

A :class:`Follower` holds the :class:`~workbench.serve._endpoint.ServedModel` its source names now. Every
``follow_interval`` seconds the rollout asks it to :meth:`~Follower.poll`: the registry's change token
(two ``stat`` calls) first; when that moved, the reference is resolved, and when it names another version
that version is loaded in a worker thread (its ``model.json`` checked against the registry's record,
every file's sha256 verified, the same endpoint class required), started, and swapped in with one
assignment. A request picks its model once, when it starts, so requests in flight finish on the old one.
A version that fails is refused with the reason logged (and counted in ``workbench_serve_swaps``), and
the old one keeps serving; the alias's next move is tried again. Each worker process follows on its own.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from starlette.concurrency import run_in_threadpool

from ..errors import WorkbenchError
from ._config import ServeConfig, ServeError
from ._endpoint import ServedModel
from ._models import build_model

if TYPE_CHECKING:
    from ._state import ServerState

log = logging.getLogger("workbench.serve")


class Follower:
    """The model a source (a folder, or a registry reference) names now, under a served name and variant."""

    def __init__(self, name: str, source: str, current: ServedModel, config: ServeConfig, variant: str):
        from ..registry import ModelRegistry

        self.name, self.source, self.current, self.config, self.variant = name, source, current, config, variant
        self.registry = ModelRegistry(config.registry) if current.registered is not None else None
        self.on_swap: Callable[[ServedModel], None] | None = None
        self._token: Any = None

    @property
    def follows(self) -> bool:
        """Whether the source is a registry reference (a folder never moves)."""
        return self.registry is not None

    async def poll(self, state: "ServerState") -> bool:
        """Swap in the version the reference points at now, if it moved (see the module docstring);
        returns whether a new version was swapped in."""
        if self.registry is None:
            return False
        token = self.registry.change_token(self.source)
        if token == self._token:
            return False
        self._token = token
        try:
            version = await run_in_threadpool(self.registry.resolve, self.source)
        except WorkbenchError as e:
            log.warning("%s: %s no longer resolves (%s); still serving %s", self.name, self.source, e,
                        self.current.version)
            return False
        if version.ref == self.current.registered:
            return False
        return await self.swap(state, version)

    async def swap(self, state: "ServerState", version: Any) -> bool:
        """Load, verify and start ``version`` (a ``registry.ModelVersion``), then serve it; or refuse it."""
        old, m = self.current, state.metrics
        try:
            new = await run_in_threadpool(build_model, self.name, version, self.config)
            if type(new) is not type(old):
                raise ServeError(f"it is a {new.label} model and {self.name!r} serves a {old.label} model's routes; "
                                 "serve it under another name")
            new.router(state)  # its handlers (the routes and their docs stay those of the first version)
            await new.start(state)
        except Exception as e:  # noqa: BLE001 - whatever fails refuses the version; the old one keeps serving
            m.swaps.labels(self.name, self.variant, "refused").inc()
            log.error("%s: refused %s (%s moved to it): %s; still serving %s", self.name, version.ref, self.source,
                      e, old.version)
            return False
        self.current = new
        if self.on_swap is not None:
            self.on_swap(new)
        m.versions.labels(self.name, self.variant, old.version).set(0)
        m.versions.labels(self.name, self.variant, new.version).set(1)
        m.swaps.labels(self.name, self.variant, "swapped").inc()
        log.info("%s: now serving %s as %s (%s moved; was %s)", self.name, new.version, self.variant, self.source,
                 old.version)
        return True
