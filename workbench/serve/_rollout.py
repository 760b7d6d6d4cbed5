"""Rollout per served name: which model answers a request, under which request id, and the shadow copy.

A :class:`Rollout` exists for a served name that follows a registry alias or has a challenger (``--shadow``
or ``--canary``). The name's routes go through :meth:`Rollout.endpoint`: per request it draws a request
id, picks the champion or, for a canary, the challenger (at random, or with ``split_key`` by a salted hash
of the key, :func:`bucket`: the same key lands in the same variant in every worker and after a restart),
and sets the request-log keys (``request_id``, ``variant``, ``version``) around the handler, which answers
as usual; the answer carries ``X-Request-Id``. In shadow mode the request's body and id go, after the
answer, to the worker's shadow scorer process (:mod:`~workbench.serve._shadow`: it loads the challenger
itself and logs its lines with ``variant`` ``shadow`` under the same request id); more than
``shadow_queue`` copies waiting are dropped and counted (``workbench_serve_shadow_dropped``), so the
answer never waits, nor shares the worker's interpreter with the challenger. The split key is read from a JSON body:
the first record's column (a request is assigned whole), or a recommender's ``user``; a request without
it goes to the champion. Only ``predict`` is split or shadowed; a recommender's interactions and
profiles are the champion's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import random
import secrets
from typing import TYPE_CHECKING, Any, Callable

from pydantic_core import from_json
from starlette.requests import Request

from ._config import ServeConfig, ServeError
from ._endpoint import ServedModel
from ._follow import Follower
from ._logs import REQUEST_META
from ._models import build_model, endpoint_class, locate
from ._shadow import ShadowLink

if TYPE_CHECKING:
    from ._metrics import Metrics
    from ._state import ServerState

log = logging.getLogger("workbench.serve")


def bucket(salt: str, name: str, key: Any) -> float:
    """Where ``key`` falls in [0, 100) for served name ``name``: a salted sha256, the same in every process."""
    digest = hashlib.sha256(f"{salt}\0{name}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 * 100


def split_value(body: bytes, key: str) -> Any:
    """The split key of a JSON request: the first record's ``key`` column, else the body's ``key`` or
    ``user`` (a recommender); None when absent or not JSON."""
    try:
        data = from_json(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    records = data.get("records")
    if isinstance(records, list):
        first = records[0] if records else None
        return first.get(key) if isinstance(first, dict) else None
    return data.get(key, data.get("user"))


class Rollout:
    """One served name's champion (followed), and its challenger in ``shadow`` or ``canary`` mode (or none)."""

    def __init__(self, name: str, champion: Follower, challenger: Follower | None, mode: str | None, percent: float,
                 config: ServeConfig, metrics: "Metrics", shadow: ShadowLink | None = None):
        self.name, self.champion, self.challenger, self.mode = name, champion, challenger, mode
        self.percent, self.config, self.metrics, self.shadow = percent, config, metrics, shadow
        self.tasks: list[asyncio.Task] = []

    @property
    def followers(self) -> list[Follower]:
        return [f for f in (self.champion, self.challenger) if f is not None]

    def describe(self) -> dict[str, Any]:
        """What ``GET /models/{name}`` adds: the source followed and the challenger."""
        out: dict[str, Any] = {"source": self.champion.source}
        if self.shadow is not None:
            out["challenger"] = {"mode": "shadow", "source": self.shadow.source, "version": self.shadow.version}
        if self.challenger is not None:
            ch = self.challenger
            out["challenger"] = {"mode": self.mode, "source": ch.source, "version": ch.current.version,
                                 **({"percent": self.percent, "split_key": self.config.split_key}
                                    if self.mode == "canary" else {})}
        return out

    def endpoint(self, route: str, handler: Callable) -> Callable:
        """The route's handler as registered: it dispatches each request to the model that answers it."""
        shadowed = route == "predict" and self.mode == "shadow"
        split = route == "predict" and self.mode == "canary"

        @functools.wraps(handler)  # FastAPI reads the handler's signature through __wrapped__
        async def dispatch(**kwargs: Any) -> Any:
            request = kwargs.get("request")
            sm, variant = (await self.choose(request)) if split else (self.champion.current, "champion")
            body = await request.body() if shadowed else b""  # kept on the request for the handler too
            rid = secrets.token_hex(8)
            token = REQUEST_META.set({"request_id": rid, "variant": variant, "version": sm.version})
            try:
                response = await sm.handlers[route](**kwargs)
            finally:
                REQUEST_META.reset(token)
            response.headers["X-Request-Id"] = rid
            if route == "predict":
                self.metrics.answers.labels(self.name, variant, sm.version).inc()
            if shadowed and response.status_code < 400:
                self.shadow.send(rid, request.headers.get("content-type", ""), body)
            return response

        return dispatch

    async def choose(self, request: Request) -> tuple[ServedModel, str]:
        """The canary's pick: the challenger for ``percent`` % of requests (of keys, with ``split_key``)."""
        key = self.config.split_key
        if key is None:
            pick = random.random() * 100 < self.percent
        else:
            value = split_value(await request.body(), key)
            pick = value is not None and bucket(self.config.split_salt, self.name, value) < self.percent
        return (self.challenger.current, "challenger") if pick else (self.champion.current, "champion")

    async def _follow(self, state: "ServerState") -> None:
        while True:
            await asyncio.sleep(self.config.follow_interval)
            for f in self.followers:
                try:
                    await f.poll(state)
                except Exception:  # noqa: BLE001 - following must never stop serving
                    log.exception("%s: following %s failed", self.name, f.source)

    async def start(self, state: "ServerState") -> None:
        """Start the challenger, the shadow task and the follow task (in the worker's event loop)."""
        self.champion.on_swap = lambda new: state.models.__setitem__(self.name, new)
        for f in self.followers:
            state.metrics.versions.labels(self.name, f.variant, f.current.version).set(1)
        if self.challenger is not None:
            await self.challenger.current.start(state)
        if self.shadow is not None:
            await self.shadow.start()
        if self.config.follow_interval > 0 and any(f.follows for f in self.followers):
            self.tasks.append(asyncio.create_task(self._follow(state)))

    async def stop(self) -> None:
        """Let the shadow score the copies still waiting (a few seconds at most), then stop the tasks."""
        if self.shadow is not None:
            await self.shadow.stop()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()


def _check_shadow(name: str, source: str, sm: ServedModel, config: ServeConfig) -> None:
    """Before the port opens: the shadow's source resolves, its files verify and it takes the champion's input
    (its process loads it again, through the same checks)."""
    from ..errors import WorkbenchError
    from ..models import read_card, verify

    try:
        folder = locate(source, config).folder
        card = read_card(folder)
        verify(folder, card)
        cls = endpoint_class(card)
    except WorkbenchError as e:
        raise ServeError(f"shadow {source!r} of {name!r}: {e}", "shadow") from None
    if cls is not type(sm):
        raise ServeError(f"challenger {source!r} of {name!r} is a {cls.label} model, {name!r} a {sm.label} model; "
                         "a challenger must take the same input", "shadow")


def build_rollouts(config: ServeConfig, state: "ServerState") -> dict[str, Rollout]:
    """A :class:`Rollout` for every served name that follows a reference or has a challenger (a canary loaded
    here, of the champion's endpoint class; a shadow checked here, loaded by its own process); each such
    model's routes then go through it."""
    challengers = {n: ("shadow", s, 0.0) for n, s in config.shadow}
    challengers.update({n: ("canary", s, float(p)) for n, s, p in config.canary})
    out = {}
    for name, source in config.models:
        sm, ch = state.models[name], challengers.get(name)
        if sm.registered is None and ch is None:
            continue
        challenger, shadow = None, None
        if ch is not None and ch[0] == "shadow":
            _check_shadow(name, ch[1], sm, config)
            shadow = ShadowLink(name, ch[1], sm.label, config, state.metrics)
        elif ch is not None:
            csm = build_model(name, ch[1], config)
            if type(csm) is not type(sm):
                raise ServeError(f"challenger {ch[1]!r} of {name!r} is a {csm.label} model, {name!r} a {sm.label} model; "
                                 "a challenger must take the same input", ch[0])
            csm.router(state)  # its handlers
            challenger = Follower(name, ch[1], csm, config, "challenger")
        sm.rollout = out[name] = Rollout(name, Follower(name, source, sm, config, "champion"), challenger,
                                         ch[0] if ch else None, ch[2] if ch else 0.0, config, state.metrics, shadow)
    return out
