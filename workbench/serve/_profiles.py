"""Real-time recommender profiles that every worker sees: interactions as an ordered event list per user.

A recommender predictor keeps the profiles it serves in memory and offers ``update(user, item, rating)``
(the next recommendations use it at once). With one process that is all: an interaction is applied and
counted, and without Redis the durable interaction log is replayed at start-up so a restart keeps them.

With Redis, every interaction is first appended to the user's list in Redis (``RPUSH``); each worker
remembers how many of a user's events it applied and, before answering for that user, applies the
ones it has not seen (``LRANGE`` from there), in list order, so all workers converge on the same
profile whichever worker took the interaction. The number of events a worker applied is the profile's
*version*: cached recommendations carry it and are used only for the same version. Redis down: the
worker answers from what it has (a warning), and a new interaction is refused with 503 (it could not
reach the other workers).

Redis is not trusted: events are sealed with the server's HMAC (``_cache_mac``; one without it is skipped
and counted), keys carry the model's version (two models under one name share nothing), and a
generation key (``...:epoch``) tells a worker that Redis lost its lists (restart, flush): it then applies
the new lists from their start instead of waiting for positions that will never come back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import OrderedDict
from typing import Any, Callable, Iterable

from ..errors import WorkbenchError
from ._cache import Breaker

log = logging.getLogger("workbench.serve")


class StoreUnavailable(WorkbenchError, RuntimeError):
    """The shared profile store (Redis) cannot take an interaction now."""


def user_key(predictor: Any, user: Any) -> Any:
    """The model's own form of a user id (``predictor.user_key`` when offered), so "42" and 42 are one user."""
    convert = getattr(predictor, "user_key", None)
    key = convert(user) if callable(convert) else (user.strip() if isinstance(user, str) else user)
    return key


def _event(item: Any, rating: float | None) -> bytes:
    return json.dumps({"item": item, "rating": rating}, separators=(",", ":")).encode("utf-8")


class Profiles:
    """One recommender's profile updates (see the module docstring); ``client`` None: this process only.

    ``namespace`` (the model's version) separates the Redis keys of two models served under one name;
    at most ``max_users`` users are tracked (least recently used evicted: the model forgets their live
    interactions, counted by ``on_evict``; with Redis they are applied again when the user comes back)."""

    def __init__(self, predictor: Any, model: str, client: Any = None, timeout: float = 0.05,
                 on_error: Callable[[], None] | None = None, namespace: str = "", max_users: int = 100_000,
                 signer: Any = None):
        from ._cache_mac import Signer

        self.predictor, self.model, self.client, self.timeout = predictor, model, client, timeout
        self.applied: OrderedDict[str, int] = OrderedDict()  # user name -> events applied (LRU order)
        self._keys: dict[str, Any] = {}
        self.breaker = Breaker(f"{model}: profile store", on_error)
        self.prefix = f"wb:serve:profile:{model}:{namespace}:"
        self.max_users, self.signer = max_users, signer or Signer()
        self.epoch: bytes | None = None  # the Redis lists' generation (a restart or flush makes a new one)
        self.on_evict: Callable[[int], None] | None = None
        self.on_invalid: Callable[[], None] | None = None

    @staticmethod
    def name(key: Any) -> str:
        """A user key as text (cache groups, Redis keys): JSON, so the number 7 and the text "7" differ."""
        return json.dumps(key, separators=(",", ":"), default=str)

    def tag(self, key: Any) -> bytes:
        """What a cached answer for this user is valid for: the lists' generation and the profile's version."""
        return (self.epoch or b"-") + f":{self.applied.get(self.name(key), 0)}\n".encode()

    def _track(self, key: Any, name: str, count: int) -> None:
        self.applied[name] = count
        self._keys[name] = key
        self.applied.move_to_end(name)
        evicted = 0
        while len(self.applied) > self.max_users:
            old, _ = self.applied.popitem(last=False)
            reset = getattr(self.predictor, "reset", None)
            if callable(reset):
                reset(self._keys.pop(old))
            else:
                self._keys.pop(old, None)
            evicted += 1
        if evicted and self.on_evict is not None:
            self.on_evict(evicted)

    def _apply(self, key: Any, start: int, events: list[bytes], sealed: bool = False) -> dict[int, str]:
        """Apply the events at positions ``start...`` not applied yet; returns position -> error for refused ones.
        ``sealed``: events read from Redis, applied only with this server's MAC."""
        name = self.name(key)
        done = self.applied.get(name, 0)
        errors: dict[int, str] = {}
        for pos, raw in enumerate(events, start):
            if pos < done:
                continue
            if sealed:
                raw = self.signer.open(self.prefix + name, "", raw)
                if raw is None:
                    errors[pos] = "an event without this server's MAC was ignored"
                    if self.on_invalid is not None:
                        self.on_invalid()
                    continue
            try:
                event = json.loads(raw)
                self.predictor.update(key, event["item"], event.get("rating"))
            except (WorkbenchError, ValueError, KeyError, TypeError) as e:
                errors[pos] = str(e)
        self._track(key, name, max(done, start + len(events)))
        return errors

    def _sealed(self, key: Any, item: Any, rating: float | None) -> bytes:
        return self.signer.seal(self.prefix + self.name(key), "", _event(item, rating))

    async def _redis(self, coro: Any) -> Any:
        return await asyncio.wait_for(coro, self.timeout)

    async def _generation(self, seen: bytes | None) -> bool:
        """Check the lists' generation read from Redis; after a restart or flush (a new or missing one), forget
        what was applied, so the new lists are applied from their start. Returns whether it changed."""
        if seen is None:
            await self._redis(self.client.set(self.prefix + "epoch", secrets.token_hex(8), nx=True))
            seen = await self._redis(self.client.get(self.prefix + "epoch"))
        if seen == self.epoch:
            return False
        if self.epoch is not None:
            log.warning("%s: the profile store (Redis) lost its events (restarted or flushed); applying its new "
                        "events from the start", self.model)
        self.epoch = seen
        self.applied.clear()
        return True

    async def sync(self, key: Any) -> int:
        """Apply this user's events other workers recorded; returns the profile's version."""
        name = self.name(key)
        if self.client is not None and self.breaker.open():
            start = self.applied.get(name, 0)
            try:
                seen, events = await self._redis(self._read(name, start))
                if await self._generation(seen):
                    start, events = 0, await self._redis(self.client.lrange(self.prefix + name, 0, -1))
            except Exception as e:  # noqa: BLE001 - served from what this worker has
                self.breaker.failed(e)
            else:
                self.breaker.ok()
                self._apply(key, start, events, sealed=True)
        return self.applied.get(name, 0)

    async def _read(self, name: str, start: int) -> list:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.get(self.prefix + "epoch")
            pipe.lrange(self.prefix + name, start, -1)
            return await pipe.execute()

    async def record(self, key: Any, item: Any, rating: float | None) -> tuple[int, str | None]:
        """Record one interaction; returns the new version and, when the model refused it, why."""
        name = self.name(key)
        if self.client is None:
            start = self.applied.get(name, 0)
            errors = self._apply(key, start, [_event(item, rating)])
            return self.applied[name], errors.get(start)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.get(self.prefix + "epoch")
                pipe.rpush(self.prefix + name, self._sealed(key, item, rating))
                seen, length = await self._redis(pipe.execute())
            await self._generation(seen)
            start = self.applied.get(name, 0)
            events = await self._redis(self.client.lrange(self.prefix + name, start, length - 1))
        except Exception as e:  # noqa: BLE001
            self.breaker.failed(e)
            raise StoreUnavailable(f"the shared profile store (Redis) is unavailable ({type(e).__name__}); the "
                                   "interaction was not recorded; retry later") from None
        self.breaker.ok()
        errors = self._apply(key, start, events, sealed=True)
        return self.applied.get(name, 0), errors.get(length - 1)

    def replay_local(self, events: Iterable[dict[str, Any]]) -> tuple[int, int]:
        """Without Redis: re-apply logged interactions at start-up; returns (applied, skipped)."""
        applied = skipped = 0
        for event in events:
            key = user_key(self.predictor, event.get("user"))
            if key is None:
                skipped += 1
                continue
            name = self.name(key)
            start = self.applied.get(name, 0)
            errors = self._apply(key, start, [_event(event.get("item"), event.get("rating"))])
            skipped += len(errors)
            applied += 1 - len(errors)
        return applied, skipped

    async def replay_redis(self, events: Iterable[dict[str, Any]]) -> int:
        """With Redis: push the logged interactions once per Redis lifetime (the first worker to claim it);
        returns how many were pushed (0 when another worker or an earlier run did it)."""
        if not await self.client.set(self.prefix + "replayed", b"1", nx=True):
            return 0
        pushed = 0
        pipe = self.client.pipeline(transaction=False)
        for event in events:
            key = user_key(self.predictor, event.get("user"))
            if key is None:
                continue
            pipe.rpush(self.prefix + self.name(key), self._sealed(key, event.get("item"), event.get("rating")))
            pushed += 1
            if pushed % 1000 == 0:
                await pipe.execute()
        await pipe.execute()
        return pushed
