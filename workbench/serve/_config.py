"""What ``workbench serve`` was asked to do: the models and their names, limits, cache, log, security.

One :class:`ServeConfig`, checked as a whole before anything loads, so a mistake (a duplicate name, a
short token, several workers for a recommender without Redis) is one clear line at start-up. Worker
processes (``--workers`` > 1) receive it as JSON in an environment variable; the token travels in
its own variable (``WORKBENCH_SERVE_TOKEN``) and is never written anywhere.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
TOKEN_ENV = "WORKBENCH_SERVE_TOKEN"
CONFIG_ENV = "WORKBENCH_SERVE_CONFIG"
REDIS_ENV = "REDIS_URL"
MIN_TOKEN = 16
MiB = 1 << 20


class ServeError(WorkbenchError, ValueError):
    """``workbench serve`` cannot start as asked (bad model argument, name, option or combination)."""


@dataclass
class ServeConfig:
    """Everything the server needs; see ``workbench serve --help`` for each option.

    Attributes
    ----------
    models : ``(name, folder)`` pairs, in the order given.
    host, port, workers : where to listen and how many processes.
    token : the bearer token every route but ``/health`` requires (None: no authentication).
    redis_url : the shared response cache and recommender profile store (None: in-process).
    log_dir : log folder: ``<model>/requests-YYYYMMDD.jsonl`` (the request log, when ``request_log``) and
        ``_interactions/<model>/interactions-YYYYMMDD.jsonl`` (a recommender's interactions, always).
    cache_ttl, cache_size, cache_bytes : response cache lifetime (s, 0 turns the cache off), in-process
        entries and bytes.
    max_body_bytes, max_rows, max_images, max_k : request limits (413 above the first three).
    redis_timeout : seconds a Redis call may take before it counts as down (served uncached).
    graceful_timeout : seconds SIGTERM waits for requests in flight.
    replay : without Redis, re-apply a recommender's logged interactions at start-up.
    """

    models: list[tuple[str, str]] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    token: str | None = None
    redis_url: str | None = None
    log_dir: str = "serve-logs"
    request_log: bool = True
    cache_ttl: float = 300.0
    cache_size: int = 10_000
    cache_bytes: int = 256 * MiB
    max_body_bytes: int = 16 * MiB
    max_rows: int = 10_000
    max_images: int = 64
    max_k: int = 1000
    redis_timeout: float = 0.05
    graceful_timeout: float = 30.0
    replay: bool = True

    def check(self) -> "ServeConfig":
        """Validate every field; returns ``self``."""
        if not self.models:
            raise ServeError("give at least one model folder: workbench serve MODEL_DIR [NAME=MODEL_DIR ...]")
        names = [n for n, _ in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ServeError(f"two models are named {', '.join(map(repr, dupes))}; name them apart with NAME=DIR, "
                             "e.g. churn=reports/compare_models/RUN/artifacts/model")
        for what, value, low in (("--port", self.port, 0), ("--workers", self.workers, 1),
                                 ("--cache-size", self.cache_size, 1), ("--cache-mb", self.cache_bytes, 1024),
                                 ("--max-rows", self.max_rows, 1),
                                 ("--max-images", self.max_images, 1), ("--max-k", self.max_k, 1),
                                 ("--max-body-mb", self.max_body_bytes, 1024)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low or (what == "--port" and value > 65535):
                raise ServeError(f"{what} must be an integer >= {low}, got {value!r}")
        for what, value in (("--cache-ttl", self.cache_ttl), ("--redis-timeout", self.redis_timeout),
                            ("--graceful-timeout", self.graceful_timeout)):
            if not isinstance(value, (int, float)) or value < 0 or value != value:
                raise ServeError(f"{what} must be a number of seconds >= 0, got {value!r}")
        if self.token is not None:
            check_token(self.token)
        if self.redis_url is not None and not re.match(r"(rediss?|unix)://", self.redis_url):
            raise ServeError(f"{REDIS_ENV} must be a redis://, rediss:// or unix:// URL, got {redact_url(self.redis_url)!r}")
        return self

    @property
    def loopback(self) -> bool:
        """Whether the server only listens on this machine."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def to_env(self) -> dict[str, str]:
        """Environment variables that carry this config to worker processes (see :meth:`from_env`)."""
        data = dataclasses.asdict(self)
        token = data.pop("token")
        env = {CONFIG_ENV: json.dumps(data)}
        if token:
            env[TOKEN_ENV] = token
        return env

    @classmethod
    def from_env(cls) -> "ServeConfig":
        """The config a worker process was started with."""
        raw = os.environ.get(CONFIG_ENV)
        if not raw:
            raise ServeError(f"{CONFIG_ENV} is not set: worker processes are started by `workbench serve`")
        data = json.loads(raw)
        data["models"] = [tuple(m) for m in data["models"]]
        return cls(**data, token=os.environ.get(TOKEN_ENV) or None).check()


def check_token(token: str) -> str:
    """A bearer token: at least 16 printable characters without spaces."""
    if len(token) < MIN_TOKEN or not re.fullmatch(r"[\x21-\x7e]+", token):
        raise ServeError(f"the token must be at least {MIN_TOKEN} printable characters without spaces (got "
                         f"{len(token)} characters); fix: generate one with "
                         "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    return token


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)


def parse_models(specs: list[str]) -> list[tuple[str, str]]:
    """``DIR`` or ``NAME=DIR`` arguments as ``(name, folder)`` pairs; a bare folder is named after itself."""
    out = []
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or Path(spec).exists():
            name, folder = Path(spec).resolve().name, spec
            if not NAME.fullmatch(name):
                raise ServeError(f"model folder {spec!r} has a name that cannot be a model name ({name!r}); "
                                 f"give one: workbench serve my_model={spec}")
        elif not NAME.fullmatch(name):
            raise ServeError(f"model name {name!r} (from {spec!r}) is not allowed: use letters, digits and '._-', "
                             "starting with a letter or digit, at most 64 characters")
        if not folder:
            raise ServeError(f"{spec!r} names no folder; expected NAME=DIR")
        out.append((name, folder))
    return out


def config_from_args(args: Any) -> ServeConfig:
    """The config of ``workbench serve`` from its parsed arguments and the environment."""
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    return ServeConfig(
        models=parse_models(args.model_dirs), host=args.host, port=args.port, workers=args.workers, token=token,
        redis_url=os.environ.get(REDIS_ENV) or None, log_dir=args.log_dir, request_log=not args.no_request_log,
        cache_ttl=args.cache_ttl, cache_size=args.cache_size, cache_bytes=int(args.cache_mb * MiB),
        max_body_bytes=int(args.max_body_mb * MiB),
        max_rows=args.max_rows, max_images=args.max_images, max_k=args.max_k, redis_timeout=args.redis_timeout,
        graceful_timeout=args.graceful_timeout, replay=not args.no_replay).check()
