"""Running the app under uvicorn: one process, or ``--workers N`` processes sharing one socket.

SIGTERM (or Ctrl-C) stops accepting connections, lets requests in flight finish (up to
``--graceful-timeout`` seconds), flushes the request log and exits 0. With several workers uvicorn's
supervisor forwards the signal to each; they receive the config through the environment
(:meth:`ServeConfig.to_env`), load the models themselves, and share their metrics through
``prometheus-client``'s multiprocess directory.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
from typing import Any

from ..errors import WorkbenchError
from ._config import ServeConfig, ServeError
from ._metrics import MULTIPROC_ENV
from ._models import endpoint_class, locate, refuse_workers

log = logging.getLogger("workbench.serve")


def _logging() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _uvicorn_options(config: ServeConfig, access_log: bool) -> dict[str, Any]:
    import importlib.util

    from ._protocol import protocol

    # every request's headers within header_timeout, or the connection is closed (see _protocol)
    fast = {"http": protocol(config.header_timeout, httptools=importlib.util.find_spec("httptools") is not None)}
    if importlib.util.find_spec("uvloop"):
        fast["loop"] = "uvloop"
    # limit_concurrency: past it, new connections get 503 at once (slow clients cannot hold every socket)
    return dict(host=config.host, port=config.port, lifespan="on", access_log=access_log, server_header=False,
                timeout_graceful_shutdown=config.graceful_timeout or None, log_level="info", limit_concurrency=1024,
                **fast)


def worker_app() -> Any:
    """The app of one worker process (``--workers`` > 1): config from the environment."""
    from ..models._skops_import import lean_skops
    from ._app import create_app

    lean_skops()

    _logging()
    return create_app(ServeConfig.from_env())


def check_folders(config: ServeConfig) -> None:
    """Before starting workers: every card readable, every file's hash right, the Redis rule kept."""
    from ..models import read_card, verify

    stateful = []
    sources = [*config.models, *[c[:2] for c in (*config.shadow, *config.canary)]]
    for name, source in sources:
        try:
            folder = locate(source, config).folder  # a reference: the version it points at now
            card = read_card(folder)
            verify(folder, card)
            endpoint = endpoint_class(card)
        except WorkbenchError as e:
            raise ServeError(f"model {name!r} ({source}): {e}") from None
        if endpoint.stateful:
            stateful.append(name)
    if stateful and not config.redis_url:
        raise ServeError(refuse_workers(stateful))


def _quiet_stop() -> None:
    """After a graceful stop uvicorn re-raises the signal it caught: let that end the command with 0."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)


def run_server(config: ServeConfig, access_log: bool = False, announce: Any = print) -> None:
    """Serve ``config`` until SIGTERM or Ctrl-C (models loaded before the port is opened)."""
    import uvicorn

    _logging()
    if not config.loopback and not config.token:
        log.warning("listening on %s without a token: anyone who can reach this port can use the models; "
                    "set --token or WORKBENCH_SERVE_TOKEN", config.host)
    options = _uvicorn_options(config, access_log)
    if config.workers == 1:
        from ._app import create_app

        app = create_app(config)
        announce(_banner(config, app.state.serve.models))
        server = uvicorn.Server(uvicorn.Config(app, **options))
        _quiet_stop()
        server.run()
        if not server.started:
            raise ServeError(f"could not start serving on {config.host}:{config.port} (see the messages above; is "
                             "the port in use? try another --port)")
        return
    check_folders(config)
    metrics_dir = tempfile.mkdtemp(prefix="workbench-serve-metrics-")
    os.environ.update({**config.to_env(), MULTIPROC_ENV: metrics_dir})
    try:
        announce(_banner(config, None))
        _quiet_stop()
        uvicorn.run("workbench.serve._server:worker_app", factory=True, workers=config.workers, **options)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _banner(config: ServeConfig, models: dict | None) -> str:
    where = f"http://{config.host}:{config.port}"
    names = ", ".join(f"{n} ({sm.card.kind} {sm.card.task}, {sm.label})" for n, sm in models.items()) if models else \
        ", ".join(n for n, _ in config.models)
    cache = "Redis" if config.redis_url else ("in-process" if config.cache_ttl > 0 else "off")
    log_dir = config.log_dir if config.request_log else "off"
    return (f"workbench serve: {names} at {where} (docs {where}/docs); workers {config.workers}; cache {cache}; "
            f"request log {log_dir}; token {'required' if config.token else 'off'}")
