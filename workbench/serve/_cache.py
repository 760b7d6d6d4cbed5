"""The response cache: in-process (TTL + LRU) by default, Redis when ``REDIS_URL`` is set.

Entries live in groups: a group is one canonical request of a model (tabular, vision), or one user of
a recommender, whose fields are the ``k`` asked for; dropping a group drops all of them (a new
interaction of that user). Keys carry the model's digest (its files' hashes), so a new model version
never reads an old answer. Values in Redis carry a keyed MAC (``_cache_mac``): one without it is a miss.

Redis is an optimisation, never a dependency: a failing or slow call (over ``timeout``) is logged once
as a warning, Redis is left alone for a few seconds, and the request is served uncached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

log = logging.getLogger("workbench.serve")
RETRY_AFTER_S = 5.0
MAX_REDIS_VALUE = 4 << 20


class MemoryCache:
    """A thread-safe TTL + LRU cache of groups: ``size`` groups and ``max_bytes`` of values at most."""

    backend = "memory"

    def __init__(self, ttl: float, size: int, max_bytes: int = 256 << 20):
        self.ttl, self.size, self.max_bytes = float(ttl), int(size), int(max_bytes)
        self._groups: OrderedDict[str, tuple[float, dict[str, bytes]]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def _drop(self, group: str) -> None:
        entry = self._groups.pop(group, None)
        if entry is not None:
            self._bytes -= sum(len(v) for v in entry[1].values())

    async def get(self, group: str, field: str = "") -> bytes | None:
        with self._lock:
            entry = self._groups.get(group)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                self._drop(group)
                return None
            self._groups.move_to_end(group)
            return entry[1].get(field)

    async def set(self, group: str, value: bytes, field: str = "") -> None:
        if len(value) > self.max_bytes // 16:  # one answer may not take more than a sixteenth of the cache
            return
        with self._lock:
            entry = self._groups.get(group)
            if entry is None or entry[0] < time.monotonic():
                self._drop(group)
                entry = (time.monotonic() + self.ttl, {})
                self._groups[group] = entry
            self._bytes += len(value) - len(entry[1].get(field, b""))
            entry[1][field] = value
            self._groups.move_to_end(group)
            while len(self._groups) > self.size or self._bytes > self.max_bytes:
                self._drop(next(iter(self._groups)))

    async def drop(self, group: str) -> None:
        with self._lock:
            self._drop(group)

    async def close(self) -> None:
        with self._lock:
            self._groups.clear()
            self._bytes = 0


class Breaker:
    """Redis health: after a failure, calls are skipped for :data:`RETRY_AFTER_S` seconds; one warning
    per outage, one line when it is back."""

    def __init__(self, what: str, on_error: Any = None):
        self.what, self.on_error = what, on_error
        self.down_until = 0.0
        self.down = False

    def open(self) -> bool:
        """Whether a call may be tried now."""
        return not self.down or time.monotonic() >= self.down_until

    def failed(self, error: BaseException) -> None:
        if self.on_error is not None:
            self.on_error()
        if not self.down:
            log.warning("%s: Redis unavailable (%s: %s); serving without it, retrying every %.0f s", self.what,
                        type(error).__name__, error, RETRY_AFTER_S)
        self.down, self.down_until = True, time.monotonic() + RETRY_AFTER_S

    def ok(self) -> None:
        if self.down:
            log.warning("%s: Redis is back", self.what)
            self.down = False


class RedisCache:
    """The same interface on Redis hashes (``HGET``/``HSET`` + ``EXPIRE``, ``DEL``); never raises."""

    backend = "redis"

    def __init__(self, client: Any, ttl: float, timeout: float, prefix: str = "wb:serve:cache:", on_error: Any = None,
                 signer: Any = None, on_invalid: Any = None):
        from ._cache_mac import Signer

        self.client, self.ttl, self.timeout, self.prefix = client, max(1, int(round(ttl))), timeout, prefix
        self.breaker = Breaker("response cache", on_error)
        self.signer, self.on_invalid = signer or Signer(), on_invalid

    async def _call(self, op: str, *args: Any) -> Any:
        import asyncio

        if not self.breaker.open():
            return None
        try:
            result = await asyncio.wait_for(getattr(self, f"_{op}")(*args), self.timeout)
        except Exception as e:  # noqa: BLE001 - a cache failure is never the client's problem
            self.breaker.failed(e)
            return None
        self.breaker.ok()
        return result

    async def _get(self, group: str, field: str) -> Any:
        stored = await self.client.hget(self.prefix + group, field)
        if stored is None:
            return None
        value = self.signer.open(self.prefix + group, field, stored)
        if value is None:  # forged, junk, or written under another key: a miss, counted
            if self.on_invalid is not None:
                self.on_invalid()
            log.debug("response cache: an entry of %s without this server's MAC was ignored", self.prefix + group)
        return value

    async def _set(self, group: str, value: bytes, field: str) -> None:
        if len(value) > MAX_REDIS_VALUE:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(self.prefix + group, field, self.signer.seal(self.prefix + group, field, value))
            pipe.expire(self.prefix + group, self.ttl)
            await pipe.execute()

    async def _drop(self, group: str) -> None:
        await self.client.delete(self.prefix + group)

    async def get(self, group: str, field: str = "") -> bytes | None:
        return await self._call("get", group, field)

    async def set(self, group: str, value: bytes, field: str = "") -> None:
        await self._call("set", group, value, field)

    async def drop(self, group: str) -> None:
        await self._call("drop", group)

    async def close(self) -> None:
        pass


class NoCache:
    """``--cache-ttl 0``: nothing is kept."""

    backend = "off"

    async def get(self, group: str, field: str = "") -> None:
        return None

    async def set(self, group: str, value: bytes, field: str = "") -> None:
        return None

    async def drop(self, group: str) -> None:
        return None

    async def close(self) -> None:
        return None


def redis_client(url: str, timeout: float) -> Any:
    """An asyncio Redis client for ``url`` with short timeouts and no retries (failures degrade, see above)."""
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    wait = max(timeout, 0.001)
    return aioredis.Redis.from_url(url, socket_timeout=wait, socket_connect_timeout=wait, retry=Retry(NoBackoff(), 0),
                                   health_check_interval=0, max_connections=256)
