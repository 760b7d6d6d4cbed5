"""What ``workbench serve`` was asked to do: the models and their names, limits, cache, log, security.

One :class:`ServeConfig`, the only place an option's default, help and bounds are written (the CLI
builds its flags from its fields), checked as a whole before anything loads, so a mistake (a duplicate
name, a short token, several workers for a recommender without Redis) is one clear line at start-up,
naming the field. Worker processes (``workers`` > 1) receive it as JSON in an environment variable; the
token travels in its own variable (``WORKBENCH_SERVE_TOKEN``) and is never written anywhere.
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
CACHE_KEY_ENV = "WORKBENCH_SERVE_CACHE_KEY"
MIN_TOKEN = 16
MiB = 1 << 20


class ServeError(WorkbenchError, ValueError):
    """``workbench serve`` cannot start as asked (bad model argument, name, option or combination).

    ``field`` names the :class:`ServeConfig` field at fault, when one is (the CLI names its flag instead).
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _option(default: Any, help: str, low: float | None = None, high: float | None = None) -> Any:
    """A field with its help text and bounds (``low``/``high``), the one place its default is written."""
    return field(default=default, metadata={"help": help, "low": low, "high": high})


@dataclass
class ServeConfig:
    """Everything the server needs. Each field is written once, here: its default, and in its ``metadata`` its
    help text and bounds (``workbench serve --help`` shows them). ``models`` are ``(name, folder)`` pairs, in
    the order given; log files go under ``log_dir``: ``<model>/requests-YYYYMMDD.jsonl`` (the request log)
    and ``_interactions/<model>/interactions-YYYYMMDD.jsonl`` (a recommender's interactions, always)."""

    models: list[tuple[str, str]] = field(default_factory=list, metadata={"help": "(name, folder) pairs"})
    host: str = _option("127.0.0.1", "address to listen on; 127.0.0.1 answers this machine only")
    port: int = _option(8000, "port to listen on", 0, 65535)
    workers: int = _option(1, "worker processes (a recommender needs REDIS_URL for more than one)", 1)
    token: str | None = _option(None, "require 'Authorization: Bearer TOKEN' on every route but /health")
    redis_url: str | None = _option(None, "the shared response cache and recommender profile store (redis://...)")
    log_dir: str = _option("serve-logs", "folder of the request log (DIR/NAME/requests-YYYYMMDD.jsonl) and the "
                                         "interaction log")
    request_log: bool = _option(True, "the request log")
    cache_ttl: float = _option(300.0, "response cache lifetime in seconds (0: no cache)", 0)
    cache_size: int = _option(10_000, "in-process cache entries", 1)
    cache_bytes: int = _option(256 * MiB, "in-process cache size", 1024)
    max_body_bytes: int = _option(16 * MiB, "largest request body (413 above)", 1024)
    max_rows: int = _option(10_000, "most records per request (413 above)", 1)
    max_images: int = _option(64, "most images per request (413 above)", 1)
    max_k: int = _option(1000, "most recommendations per request", 1)
    redis_timeout: float = _option(0.05, "seconds a Redis call may take before Redis counts as down (answers are "
                                         "then served without it)", 0)
    graceful_timeout: float = _option(30.0, "on SIGTERM, seconds requests in flight may take to finish", 0)
    replay: bool = _option(True, "the replay of a recommender's logged interactions at start-up")
    cache_key: str | None = _option(None, "HMAC key of the entries the server writes into Redis (entries without its "
                                          "MAC are ignored); default: a random key per server start")
    max_users: int = _option(100_000, "most recommender users with live interactions held in memory per process "
                                      "(the least recently used are evicted beyond it)", 1)
    header_timeout: float = _option(10.0, "seconds a client may take to send a request's headers (the connection "
                                          "is closed after it)", 0.1)
    neutralize_formulas: bool = _option(True, "neutralizing of CSV answer cells that a spreadsheet would run as a "
                                              "formula (a leading ' before = + - @ tab CR)")
    # serving from the registry, and rollout (serve._follow, serve._rollout)
    registry: str | None = _option(None, "the model registry that NAME@ALIAS arguments name (default: "
                                         "$WORKBENCH_REGISTRY, else ./registry)")
    follow_interval: float = _option(1.0, "seconds between checks that a served NAME@ALIAS moved (0: never follow)", 0)
    shadow: list[tuple[str, str]] = field(default_factory=list, metadata={
        "help": "a challenger (NAME@ALIAS, or SERVED=MODEL) that scores a copy of every request off the answer path, "
                "logged as variant shadow; as (served name, source) pairs"})
    canary: list[tuple[str, str, float]] = field(default_factory=list, metadata={
        "help": "a challenger (NAME@ALIAS=PERCENT) that answers that percent of the requests (of the keys, with "
                "--split-key), logged as variant challenger; as (served name, source, percent) triples"})
    split_key: str | None = _option(None, "the column (or a recommender's user) whose salted hash decides a canary's "
                                          "variant: the same key, the same variant (sticky A/B)")
    split_salt: str = _option("workbench", "the salt of the sticky A/B hash (change it to reshuffle the assignment)")
    shadow_queue: int = _option(1000, "requests waiting for the shadow model (more are dropped and counted)", 1)

    def check(self) -> "ServeConfig":
        """Validate every field; returns ``self``. Errors name the field (:attr:`ServeError.field`)."""
        if not self.models:
            raise ServeError("models must list at least one model as (name, folder) (models=[])", "models")
        names = [n for n, _ in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ServeError(f"two models are named {', '.join(map(repr, dupes))}; name them apart with NAME=DIR, "
                             "e.g. churn=reports/compare_models/RUN/artifacts/model", "models")
        for f in dataclasses.fields(self):
            _check_bounds(f.name, getattr(self, f.name), f.default, f.metadata)
        if self.token is not None:
            check_token(self.token)
        if self.cache_key is not None and len(self.cache_key) < MIN_TOKEN:
            raise ServeError(f"the cache key must be at least {MIN_TOKEN} characters (got {len(self.cache_key)})",
                             "cache_key")
        check_rollout(self)
        if self.redis_url is not None and not re.match(r"(rediss?|unix)://", self.redis_url):
            raise ServeError(f"redis_url must be a redis://, rediss:// or unix:// URL (redis_url="
                             f"{redact_url(self.redis_url)!r})", "redis_url")
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
        import secrets

        data = dataclasses.asdict(self)
        token, cache_key = data.pop("token"), data.pop("cache_key")
        env = {CONFIG_ENV: json.dumps(data), CACHE_KEY_ENV: cache_key or secrets.token_urlsafe(32)}  # shared by workers
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
        for key in ("models", "shadow", "canary"):
            data[key] = [tuple(m) for m in data[key]]
        return cls(**data, token=os.environ.get(TOKEN_ENV) or None,
                   cache_key=os.environ.get(CACHE_KEY_ENV) or None).check()


def _check_bounds(name: str, value: Any, default: Any, meta: Any) -> None:
    low, high = meta.get("low"), meta.get("high")
    if low is None:
        return
    if isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
            within = f"from {low} to {high}" if high is not None else f">= {low}"
            raise ServeError(f"{name} must be an integer {within} ({name}={value!r})", name)
    elif not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= low:  # NaN fails too
        raise ServeError(f"{name} must be a number of seconds >= {low} ({name}={value!r})", name)


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
    """``DIR``, ``NAME@ALIAS`` (``NAME:VERSION``, ``NAME``: a registry reference, when no such folder
    exists) or ``NAME=DIR``/``NAME=REF`` arguments as ``(name, source)`` pairs; a bare folder is named
    after itself, a bare reference after its model."""
    from ..registry._refs import is_ref, parse_ref

    out = []
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep and not Path(spec).exists() and is_ref(spec):
            name, folder = parse_ref(spec).name, spec
            if not NAME.fullmatch(name):
                raise ServeError(f"model name {name!r} (from {spec!r}) is too long to serve; name it: "
                                 f"workbench serve short={spec}")
        elif not sep or Path(spec).exists():
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


def check_rollout(config: ServeConfig) -> None:
    """At most one challenger per served name, for a served name; percents in (0, 100]; a split key
    only with a canary."""
    served = [n for n, _ in config.models]
    seen: set[str] = set()
    for kind, name, *rest in [("shadow", *s) for s in config.shadow] + [("canary", *c) for c in config.canary]:
        if name not in served:
            raise ServeError(f"{kind} challenger {rest[0]!r} is for {name!r}, which is not served (served: "
                             f"{', '.join(served)}); give it as {served[0]}=NAME@ALIAS", kind)
        if name in seen:
            raise ServeError(f"{name!r} has two challengers; give one --shadow or --canary per served name", kind)
        seen.add(name)
        if kind == "canary" and not (isinstance(rest[1], (int, float)) and 0 < rest[1] <= 100):
            raise ServeError(f"canary percent for {name!r} must be a number in (0, 100] (canary={rest[1]!r})", kind)
    if config.split_key is not None and not config.canary:
        raise ServeError("split_key needs a canary (e.g. canary churn@challenger=50) to split between", "split_key")


def parse_challengers(specs: list[str], served: list[tuple[str, str]], percent: bool) -> list[tuple]:
    """``REF``, ``NAME=REF`` or ``NAME=DIR`` (then ``=PERCENT`` when ``percent``) as ``(served name, source[,
    percent])``: a bare reference challenges the served name of its model (``churn@challenger`` -> ``churn``)."""
    from ..registry._refs import is_ref, parse_ref

    out = []
    names = [n for n, _ in served]
    for spec in specs:
        text, share = spec, None
        if percent:
            text, sep, raw = spec.rpartition("=")
            try:
                share = float(raw) if sep else None
            except ValueError:
                share = None
            if share is None:
                raise ServeError(f"canary {spec!r} needs a percent: NAME@ALIAS=PERCENT, e.g. churn@challenger=10",
                                 "canary")
        name, sep, source = text.partition("=")
        if not sep:
            name, source = (parse_ref(text).name if is_ref(text) else (names[0] if len(names) == 1 else "")), text
        if not name or not source:
            raise ServeError(f"challenger {spec!r}: say which served model it challenges, as NAME=REF_OR_DIR",
                             "canary" if percent else "shadow")
        out.append((name, source, share) if percent else (name, source))
    return out


def serve_config(specs: list[str], **options: Any) -> ServeConfig:
    """The checked config of ``workbench serve``: model folders as ``DIR`` or ``NAME=DIR``, then any field of
    :class:`ServeConfig` by name (the others keep their defaults); without ``token``, ``redis_url`` and
    ``cache_key``, the environment's ``WORKBENCH_SERVE_TOKEN``, ``REDIS_URL`` and ``WORKBENCH_SERVE_CACHE_KEY``."""
    if options.get("token") is None:
        options["token"] = os.environ.get(TOKEN_ENV) or None
    if options.get("redis_url") is None:
        options["redis_url"] = os.environ.get(REDIS_ENV) or None
    if options.get("cache_key") is None:
        options["cache_key"] = os.environ.get(CACHE_KEY_ENV) or None
    models = parse_models(specs)
    for key, percent in (("shadow", False), ("canary", True)):
        if options.get(key) and isinstance(options[key][0], str):
            options[key] = parse_challengers(options[key], models, percent)
    return ServeConfig(models=models, **options).check()


ROLLOUT_KEYS = ("split_key", "split_salt", "shadow_queue", "models")
ROLLOUT_MODEL_KEYS = ("shadow", "canary", "percent")


def read_rollout(path: str | Path) -> dict[str, Any]:
    """A ``rollout.yaml`` as ServeConfig fields (``shadow``, ``canary``, ``split_key``, ``split_salt``,
    ``shadow_queue``)::

        models:
          churn: {canary: churn@challenger, percent: 10}
          recs: {shadow: recs@challenger}
        split_key: customer_id

    Unknown keys are named with the valid ones; the values are then checked as the flags' are."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ServeError(f"rollout file {str(path)!r} cannot be read: {' '.join(str(e).split())}", "rollout") from None
    if not isinstance(data, dict):
        raise ServeError(f"rollout file {str(path)!r} must be a mapping with keys {', '.join(ROLLOUT_KEYS)}", "rollout")
    unknown = sorted(set(map(str, data)) - set(ROLLOUT_KEYS))
    if unknown:
        raise ServeError(f"rollout file {str(path)!r}: unknown key(s) {', '.join(unknown)}; valid: "
                         f"{', '.join(ROLLOUT_KEYS)}", "rollout")
    out: dict[str, Any] = {k: data[k] for k in ROLLOUT_KEYS[:3] if k in data}
    shadow, canary = [], []
    for name, spec in (data.get("models") or {}).items():
        bad = sorted(set(map(str, spec)) - set(ROLLOUT_MODEL_KEYS)) if isinstance(spec, dict) else ["(not a mapping)"]
        if bad or ("shadow" in spec) == ("canary" in spec) or ("percent" in spec) != ("canary" in spec):
            raise ServeError(f"rollout file {str(path)!r}, model {name!r}: give either shadow: REF or canary: REF with "
                             f"percent: N (valid keys: {', '.join(ROLLOUT_MODEL_KEYS)}; got {spec!r})", "rollout")
        if "shadow" in spec:
            shadow.append((str(name), str(spec["shadow"])))
        else:
            canary.append((str(name), str(spec["canary"]), spec["percent"]))
    return {**out, **({"shadow": shadow} if shadow else {}), **({"canary": canary} if canary else {})}
