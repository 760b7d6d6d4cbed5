"""What a running server holds: the models, metrics, the cache, the request log, Redis.

Started and stopped by the app's lifespan (inside the worker's event loop, where the asyncio Redis
client must live): Redis is connected, the request-log writer starts, then each model's
:meth:`~workbench.serve._endpoint.ServedModel.start` (a recommender replays its interactions, or pushes
them to Redis once); on shutdown the log is flushed after the last request has been answered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ._cache import MemoryCache, NoCache, RedisCache, redis_client
from ._cache_mac import Signer
from ._config import ServeConfig, ServeError, redact_url
from ._logs import RequestLog
from ._metrics import Metrics

log = logging.getLogger("workbench.serve")
INLINE_ROWS = 1000
"""Tabular requests of up to this many rows are computed on the event loop: a few milliseconds at most
with the compiled scorer, less than what a hop to a worker thread and back costs in GIL hand-overs on a
busy server. Larger batches, images and anything slow go to a worker thread, so the loop keeps
answering."""
CACHE_MAX_ROWS = 256
"""Requests of more rows are not cached: big batches rarely repeat, and would crowd out the small ones."""


@dataclass
class ServerState:
    """Everything the routes share (one per app)."""

    config: ServeConfig
    models: dict[str, Any]  # name -> the served model (a serve._endpoint.ServedModel)
    metrics: Metrics = field(default_factory=Metrics)
    cache: Any = None
    redis: Any = None
    request_log: RequestLog | None = None
    rollouts: dict[str, Any] = field(default_factory=dict)  # name -> serve._rollout.Rollout (registry, challenger)
    signer: Signer | None = None  # the MAC of every value written into Redis (see _cache_mac)

    def __post_init__(self) -> None:
        self._check_log_dir()
        self.signer = Signer(self.config.cache_key)
        m = self.metrics
        m.models.set(len(self.models))
        folder = self.config.log_dir if self.config.request_log else None
        self.request_log = RequestLog(folder, on_drop=lambda model, n: m.log_dropped.labels(model).inc(n))
        self.cache = MemoryCache(self.config.cache_ttl, self.config.cache_size, self.config.cache_bytes) \
            if self.config.cache_ttl > 0 else NoCache()

    def _check_log_dir(self) -> None:
        """The log folder must be writable before the first request (a recommender's interactions, the request log)."""
        import os
        from pathlib import Path

        needed = self.config.request_log or any(sm.writes_log_dir for sm in self.models.values())
        folder = Path(self.config.log_dir)
        if not needed:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ServeError(f"--log-dir {str(folder)!r} cannot be created ({e.strerror}); give a writable folder "
                             "(or --no-request-log when no recommender is served)") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ServeError(f"--log-dir {str(folder)!r} is not writable; give a writable folder")

    async def start(self) -> None:
        """Connect Redis (when configured), start the request log, then start every model."""
        c = self.config
        if c.redis_url:
            self.redis = redis_client(c.redis_url, c.redis_timeout)
            if c.cache_ttl > 0:
                self.cache = RedisCache(self.redis, c.cache_ttl, c.redis_timeout, signer=self.signer,
                                        on_error=self.metrics.redis_errors.labels("cache").inc,
                                        on_invalid=self.metrics.cache_invalid.labels("cache").inc)
            log.info("Redis at %s: shared response cache and recommender profiles", redact_url(c.redis_url))
        self.request_log.start()
        for sm in self.models.values():
            await sm.start(self)
        for rollout in self.rollouts.values():
            await rollout.start(self)

    async def stop(self) -> None:
        """Flush the request log and close Redis (after the last request was answered)."""
        for rollout in self.rollouts.values():
            await rollout.stop()
        if self.request_log is not None:
            await run_in_threadpool(self.request_log.close)
        await self.cache.close()
        if self.redis is not None:
            try:
                await self.redis.aclose()
            except Exception:  # noqa: BLE001 - closing a broken connection is not worth a traceback
                pass

    def model(self, name: str) -> Any:
        """The served model ``name``, or 404 naming the served ones."""
        sm = self.models.get(name)
        if sm is None:
            raise HTTPException(404, f"unknown model {name!r}; served models: {', '.join(self.models)} (GET /models)")
        return sm


async def compute(fn: Any, *args: Any, inline: bool = False) -> Any:
    """``fn(*args)`` on the event loop when ``inline`` (small, fast work), else in a worker thread."""
    if inline:
        return fn(*args)
    return await run_in_threadpool(fn, *args)
