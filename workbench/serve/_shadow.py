"""The shadow scorer: a challenger that scores copies of the answered requests in a process of its own.

Scoring a copy in the worker that answers competes with the answers for the interpreter (the GIL) and the
event loop, whatever the scheduling: the champion's p50 rose by a third or more. So each worker that
serves a name with ``--shadow`` starts one child, ``python -m workbench.serve._shadow NAME SOURCE LABEL``,
which loads the challenger itself through the same path as any served model (the registry reference
resolved, ``model.json`` checked against the registry's record, every file's sha256 verified, the same
endpoint class required; nothing but request bytes crosses the process boundary, never a model object),
follows its alias like the worker follows the champion's, and writes the request log's ``shadow`` lines
(under the request id the worker drew, with the challenger's version) itself.

The worker's end, :class:`ShadowLink`, writes each copy after the answer into the child's stdin (one
frame: a JSON header ``{"rid", "ctype"}`` and the body bytes, already read for the answer) without
waiting (an asyncio pipe transport); the child acknowledges the frames it scored in batches, at most every
``ACK_EVERY_S``, one line per outcome and version on its stdout (``ok VERSION COUNT`` or ``error VERSION
COUNT``: one wake-up of the worker's event loop per batch, not per copy, so the answers are not interrupted
by acknowledgements), and announces ``ready VERSION``, ``swap VERSION`` or ``fail REASON``.
At most ``shadow_queue`` copies wait (plus the one being scored): more are dropped and counted
(``workbench_serve_shadow_dropped``), as are copies while the child is down. The child ignores SIGINT and
SIGTERM: it stops when its stdin closes (the worker stopping, or dying), after scoring what it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import struct
import sys
from typing import TYPE_CHECKING, Any, BinaryIO

from ._config import ServeConfig
from ._logs import REQUEST_META
from ._metrics import MULTIPROC_ENV

if TYPE_CHECKING:
    from ._metrics import Metrics

log = logging.getLogger("workbench.serve")
FRAME = struct.Struct("!II")  # header length, body length
LOAD_TIMEOUT_S = 600.0
"""Seconds the child may take to load and verify the challenger before the worker serves without it."""
NICE = 10
"""The child's niceness above the worker's: the scheduler prefers the answers."""
DRAIN_S = 5.0
"""On shutdown, seconds the copies still waiting may take to be scored."""
ACK_EVERY_S = 0.05
"""The child's acknowledgements are written in batches, at most this often."""


class ShadowLink:
    """The worker's end of one shadow scorer process (see the module docstring)."""

    def __init__(self, name: str, source: str, label: str, config: ServeConfig, metrics: "Metrics"):
        self.name, self.source, self.label, self.config, self.metrics = name, source, label, config, metrics
        self.version: str | None = None
        self.in_flight = 0
        self.limit = config.shadow_queue + 1  # those waiting, and the one being scored
        self.proc: asyncio.subprocess.Process | None = None
        self.alive = False
        self._reader: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        """Start the child and wait until it has loaded the challenger (or failed: then the worker serves on
        without a shadow, the reason logged, every copy counted as dropped)."""
        env = {k: v for k, v in os.environ.items() if k != MULTIPROC_ENV}  # its own metrics stay private
        env.update(self.config.to_env())
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "workbench.serve._shadow", self.name, self.source, self.label,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env)
        try:
            line = (await asyncio.wait_for(self.proc.stdout.readline(), LOAD_TIMEOUT_S)).decode().strip()
        except asyncio.TimeoutError:
            line = f"fail it did not load within {LOAD_TIMEOUT_S:g} s"
        kind, _, rest = line.partition(" ")
        if kind != "ready":
            log.error("%s: the shadow %s does not score (%s); answering without it", self.name, self.source,
                      rest or "its process exited")
            await self._end()
            return
        self._set_version(rest)
        self.alive = True
        log.info("%s: shadow %s (%s) scoring in process %d", self.name, self.source, rest, self.proc.pid)
        self._reader = asyncio.create_task(self._acks())

    def send(self, rid: str, ctype: str, body: bytes) -> bool:
        """Hand one answered request's copy to the child, never waiting; False (counted) when dropped."""
        if not self.alive or self.in_flight >= self.limit:
            self.metrics.shadow_dropped.labels(self.name).inc()
            return False
        head = json.dumps({"rid": rid, "ctype": ctype}).encode()
        self.proc.stdin.write(FRAME.pack(len(head), len(body)) + head + body)
        self.in_flight += 1
        return True

    def _set_version(self, version: str) -> None:
        if self.version is not None:
            self.metrics.versions.labels(self.name, "shadow", self.version).set(0)
        self.version = version
        self.metrics.versions.labels(self.name, "shadow", version).set(1)

    async def _acks(self) -> None:
        m = self.metrics
        while line := await self.proc.stdout.readline():
            kind, _, rest = line.decode().strip().partition(" ")
            version, _, count = rest.partition(" ")
            if kind in ("ok", "error"):
                n = int(count or 1)
                self.in_flight -= n
                if kind == "ok":
                    m.answers.labels(self.name, "shadow", version).inc(n)
                else:
                    m.shadow_errors.labels(self.name).inc(n)
            elif kind == "swap":
                self._set_version(version)
        self.alive = False
        if not self._stopping:
            log.error("%s: the shadow scorer process exited (%s); answering without it",
                      self.name, await self.proc.wait())

    async def stop(self) -> None:
        """Close the child's stdin: it scores what it holds (a few seconds at most) and exits."""
        self._stopping = True
        if self.proc is None:
            return
        if self._reader is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                self.proc.stdin.close()
                await asyncio.wait_for(asyncio.shield(self._reader), DRAIN_S)
            self._reader.cancel()
        await self._end()

    async def _end(self) -> None:
        with contextlib.suppress(ProcessLookupError, OSError):
            if self.proc.returncode is None:
                self.proc.stdin.close()
                try:
                    await asyncio.wait_for(self.proc.wait(), DRAIN_S)
                except asyncio.TimeoutError:
                    self.proc.kill()
                    await self.proc.wait()


# ---------------------------------------------------------------------------------------------- the child
async def _score(sm: Any, meta: dict[str, str], body: bytes) -> bool:
    """One copy through the challenger's own predict handler, its log lines under the worker's request id."""
    from starlette.requests import Request

    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": f"/models/{sm.name}/predict", "query_string": b"",
             "headers": [(b"content-type", meta.get("ctype", "").encode("latin-1"))]}
    token = REQUEST_META.set({"request_id": meta["rid"], "variant": "shadow", "version": sm.version})
    try:
        response = await sm.handlers["predict"](request=Request(scope, receive))
        return response.status_code < 400
    except Exception as e:  # noqa: BLE001 - a copy that fails is counted, never the answer's problem
        log.debug("%s: the shadow %s failed on request %s: %s", sm.name, sm.version, meta.get("rid"), e)
        return False
    finally:
        REQUEST_META.reset(token)


async def _follow(follower: Any, state: Any) -> None:
    while True:
        await asyncio.sleep(state.config.follow_interval)
        try:
            await follower.poll(state)
        except Exception:  # noqa: BLE001 - following must never stop scoring
            log.exception("%s: following the shadow %s failed", follower.name, follower.source)


class _Acks:
    """The child's acknowledgements, counted per outcome and version and written in batches."""

    def __init__(self, out: BinaryIO):
        self.out, self.counts = out, {}

    def add(self, ok: bool, version: str) -> None:
        key = ("ok" if ok else "error", version)
        self.counts[key] = self.counts.get(key, 0) + 1

    def flush(self) -> None:
        if self.counts:
            lines, self.counts = [f"{k} {v} {n}\n" for (k, v), n in self.counts.items()], {}
            self.out.write("".join(lines).encode())

    async def every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.flush()


async def _run(sm: Any, source: str, config: ServeConfig, ack: BinaryIO) -> None:
    from ._follow import Follower
    from ._state import ServerState

    state = ServerState(config, {sm.name: sm})
    sm.router(state)  # its handlers
    await state.start()  # the request-log writer; the model's start
    follower = Follower(sm.name, source, sm, config, "shadow")
    follower.on_swap = lambda new: ack.write(f"swap {new.version}\n".encode())
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 16)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    task = asyncio.create_task(_follow(follower, state)) if follower.follows and config.follow_interval > 0 else None
    ack.write(f"ready {sm.version}\n".encode())
    acks = _Acks(ack)
    flusher = asyncio.create_task(acks.every(ACK_EVERY_S))
    try:
        while True:
            try:
                head_len, body_len = FRAME.unpack(await reader.readexactly(FRAME.size))
                meta = json.loads(await reader.readexactly(head_len))
                body = await reader.readexactly(body_len)
            except asyncio.IncompleteReadError:  # stdin closed: the worker is stopping
                break
            current = follower.current
            acks.add(await _score(current, meta, body), current.version)
    finally:
        flusher.cancel()
        acks.flush()
        if task is not None:
            task.cancel()
        await state.stop()


def main(argv: list[str]) -> int:
    """The child: ``NAME SOURCE LABEL``, the config in the environment (as a worker's)."""
    import dataclasses

    from ..errors import WorkbenchError
    from ..models._skops_import import lean_skops
    from ._models import build_model

    lean_skops()

    name, source, label = argv
    ack = os.fdopen(os.dup(1), "wb", buffering=0)  # the lines to the worker; anything printed goes to stderr
    os.dup2(2, 1)
    for sig in (signal.SIGINT, signal.SIGTERM):  # it stops when the worker closes its stdin
        signal.signal(sig, signal.SIG_IGN)
    os.nice(NICE)  # on a busy machine the answers get the CPU first (copies then wait, and are dropped)
    if not log.handlers:  # as the worker's: one line per message on stderr
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    try:
        config = dataclasses.replace(ServeConfig.from_env(), models=[(name, source)], shadow=[], canary=[],
                                     split_key=None, cache_ttl=0.0, workers=1)
        sm = build_model(name, source, config)
        if sm.label != label:
            raise WorkbenchError(f"it is a {sm.label} model and {name!r} serves a {label} model's routes")
    except WorkbenchError as e:
        ack.write(f"fail {' '.join(str(e).split())}\n".encode())
        return 1
    asyncio.run(_run(sm, source, config, ack))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
