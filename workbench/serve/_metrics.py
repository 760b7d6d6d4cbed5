"""Prometheus metrics (``GET /metrics``, text format), via ``prometheus-client``.

Labels are bounded: ``model`` is a served model's name or ``-``, ``route`` a route template
(``/models/{name}/predict``), never a raw path, so no request can create new series. With several
workers, ``prometheus-client``'s multiprocess mode aggregates them (``PROMETHEUS_MULTIPROC_DIR``, set up
by ``workbench serve``).
"""

from __future__ import annotations

import os
from typing import Any

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """The server's metrics, in a registry of their own (several apps in one process never clash)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("workbench_serve_requests", "HTTP requests answered", ["model", "route", "status"],
                                registry=r)
        self.latency = Histogram("workbench_serve_request_latency_seconds", "Time to answer a request",
                                 ["model", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.rows = Counter("workbench_serve_rows", "Input rows (records, images, users) predicted", ["model"],
                            registry=r)
        self.row_errors = Counter("workbench_serve_row_errors", "Rows answered with an error (e.g. unreadable "
                                  "images)", ["model"], registry=r)
        self.errors = Counter("workbench_serve_errors", "Requests answered with a 4xx or 5xx status", ["model", "status"],
                              registry=r)
        self.cache_hits = Counter("workbench_serve_cache_hits", "Responses served from the cache", ["model"], registry=r)
        self.cache_misses = Counter("workbench_serve_cache_misses", "Responses computed (not in the cache)", ["model"],
                                    registry=r)
        self.redis_errors = Counter("workbench_serve_redis_errors", "Redis calls that failed or timed out (served "
                                    "without Redis)", ["use"], registry=r)
        self.cache_invalid = Counter("workbench_serve_cache_invalid", "Redis entries refused (no valid MAC: forged, "
                                     "junk or another server's; treated as a miss)", ["use"], registry=r)
        self.users_evicted = Counter("workbench_serve_users_evicted", "Recommender users whose live profile was "
                                     "evicted from memory (over max_users)", ["model"], registry=r)
        self.interactions = Counter("workbench_serve_interactions", "Recommender interactions recorded", ["model"],
                                    registry=r)
        self.log_dropped = Counter("workbench_serve_request_log_dropped", "Request-log rows dropped (queue full or "
                                   "disk error)", ["model"], registry=r)
        self.models = Gauge("workbench_serve_models", "Models served", registry=r, multiprocess_mode="max")
        # serving from the registry, and rollout (serve._follow, serve._rollout); versions change rarely
        self.versions = Gauge("workbench_serve_model_version", "1 for the version a served name answers with, per "
                              "variant (champion, challenger, shadow)", ["model", "variant", "version"], registry=r,
                              multiprocess_mode="livemax")
        self.swaps = Counter("workbench_serve_swaps", "Versions swapped in or refused when a followed alias moved",
                             ["model", "variant", "outcome"], registry=r)
        self.answers = Counter("workbench_serve_variant_requests", "Predict requests answered (shadow: copies scored) "
                               "per variant and version", ["model", "variant", "version"], registry=r)
        self.shadow_dropped = Counter("workbench_serve_shadow_dropped", "Requests not shadowed: the shadow queue was "
                                      "full", ["model"], registry=r)
        self.shadow_errors = Counter("workbench_serve_shadow_errors", "Shadow copies the challenger failed to score",
                                     ["model"], registry=r)
        self._bound: dict[tuple, Any] = {}

    def observe(self, model: str, route: str, status: int, seconds: float) -> None:
        """One answered request (pre-bound label children: a dictionary lookup per request)."""
        key = (model, route, status)
        bound = self._bound.get(key)
        if bound is None:
            bound = (self.requests.labels(model, route, str(status)), self.latency.labels(model, route),
                     self.errors.labels(model, str(status)) if status >= 400 else None)
            self._bound[key] = bound
        bound[0].inc()
        bound[1].observe(seconds)
        if bound[2] is not None:
            bound[2].inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition of every metric (all workers' in multiprocess mode) and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
