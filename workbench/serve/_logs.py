"""The request log (for drift monitoring) and the recommender's durable interaction log.

Request log: one JSON object per input row, one folder per model, one file per UTC day::

    <log_dir>/<model>/requests-YYYYMMDD.jsonl
    {"ts": "2024-06-01T12:00:00.123Z", "model": "churn", "latency_ms": 1.2,
     "input": {"tenure": 12, ...}, "output": {"prediction": "No", "proba_No": 0.8, ...}}

Images log ``{"filename": ..., "size_bytes": ...}`` as input (never the bytes); recommendations
``{"user": ..., "k": ...}`` with the items in ``output``. Requests never wait for the disk: rows go
through a bounded queue to a writer thread that appends every quarter second (rows beyond the bound
are dropped and counted, never blocking). Lines are appended whole under ``flock``, so several worker
processes share a file. The token and headers are never part of a line.

Interactions are appended, flushed and fsync'ed before the request is answered (a separate tree,
``<log_dir>/_interactions/<model>/interactions-YYYYMMDD.jsonl``: model names cannot start with ``_``,
and the drift reader, pointed at ``<log_dir>/<model>``, never sees them).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import queue
import threading
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterator

log = logging.getLogger("workbench.serve")
INTERACTIONS = "_interactions"
REQUEST_META: ContextVar[dict[str, str] | None] = ContextVar("workbench_serve_request_meta", default=None)
"""The rollout keys of the request being answered (``request_id``, ``variant``, ``version``), set by
``serve._rollout`` around a handler: :meth:`RequestLog.add` puts them on every line of the request."""


def utc_now() -> tuple[float, str]:
    """The time now, as seconds and as an ISO-8601 UTC string with milliseconds."""
    now = time.time()
    return now, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def _day(ts: str) -> str:
    return ts[:10].replace("-", "")


def append_lines(path: Path, data: bytes, durable: bool = False) -> None:
    """Append ``data`` (whole lines) to ``path`` under an exclusive lock; fsync when ``durable``."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except FileNotFoundError:  # the first line of a model or a day: its folder is made once
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock


def lines(ts: str, model: str, latency_ms: float, inputs: list, outputs: list, flat: bool,
          meta: dict[str, str] | None = None) -> bytes:
    """JSON lines for one request's rows. ``flat`` rows (scalars only: no object inside an array) are
    serialized in one call and split at ``},{"ts":``, which cannot occur inside a JSON string (its quotes
    would be escaped) nor, for flat rows, anywhere but between two lines."""
    from ._json import dumps

    latency = round(latency_ms, 3)
    head = {"ts": ts, "model": model, **(meta or {})}
    objs = [{**head, "latency_ms": latency, "input": i, "output": o} for i, o in zip(inputs, outputs)]
    if not objs:
        return b""
    if not flat:
        return b"".join(dumps(obj) + b"\n" for obj in objs)
    return dumps(objs)[1:-1].replace(b'},{"ts":', b'}\n{"ts":') + b"\n"


class RequestLog:
    """The request log writer (see the module docstring); ``folder`` None keeps nothing."""

    def __init__(self, folder: str | Path | None, max_pending: int = 100_000,
                 on_drop: Callable[[str, int], None] | None = None):
        self.folder = Path(folder) if folder is not None else None
        self.max_pending, self.on_drop = max_pending, on_drop
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._failing: set[Path] = set()

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="workbench-request-log", daemon=True)
            self._thread.start()

    def add(self, model: str, ts: str, latency_ms: float, inputs: list, outputs: list | bytes,
            skip: tuple | list = (), flat: bool = True) -> None:
        """Queue one request's rows: ``inputs[i]`` answered by ``outputs[i]`` (``outputs`` may be the JSON
        array of them, decoded in the writer thread); keys in ``skip`` (ID columns) are left out of outputs;
        ``flat``: inputs and outputs hold scalars only (see :func:`lines`)."""
        if not self.enabled:
            return
        with self._lock:
            if self._pending + len(inputs) > self.max_pending:
                if self.on_drop is not None:
                    self.on_drop(model, len(inputs))
                return
            self._pending += len(inputs)
        self._queue.put((model, ts, latency_ms, inputs, outputs, tuple(skip), flat, REQUEST_META.get()))

    def _drain(self, wait: float) -> list:
        items = []
        try:
            items.append(self._queue.get(timeout=wait))
            while True:
                items.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return items

    def _write(self, items: list) -> None:
        files: dict[Path, list[bytes]] = {}
        from pydantic_core import from_json

        counts: dict[Path, int] = {}
        for model, ts, latency, inputs, outputs, skip, flat, meta in items:
            path = self.folder / model / f"requests-{_day(ts)}.jsonl"
            try:
                if isinstance(outputs, bytes):
                    outputs = from_json(outputs)
                if skip:
                    outputs = [{k: v for k, v in o.items() if k not in skip} for o in outputs]
                chunk = lines(ts, model, latency, inputs, outputs, flat, meta)
            except Exception as e:  # noqa: BLE001 - one bad request's rows never stop the writer
                log.warning("request log: %d row(s) of %s dropped (%s)", len(inputs), model, type(e).__name__)
                if self.on_drop is not None:
                    self.on_drop(model, len(inputs))
                continue
            files.setdefault(path, []).append(chunk)
            counts[path] = counts.get(path, 0) + len(inputs)
        with self._lock:
            self._pending -= sum(len(item[3]) for item in items)
        for path, chunks in files.items():
            try:
                append_lines(path, b"".join(chunks))
                self._failing.discard(path)
            except OSError as e:
                if path not in self._failing:  # once per failing file, not every quarter second
                    log.warning("request log: cannot append to %s (%s); rows are dropped until it can", path, e)
                    self._failing.add(path)
                if self.on_drop is not None:
                    self.on_drop(path.parent.name, counts[path])

    def _run(self) -> None:
        while not self._stop.is_set():
            items = self._drain(0.25)
            if items:
                self._write(items)
        self._write(self._drain(0.0))

    def flush(self) -> None:
        """Write everything queued so far (tests, shutdown)."""
        items = self._drain(0.0)
        if items:
            self._write(items)

    def close(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()


class InteractionLog:
    """A recommender's durable interaction log (see the module docstring)."""

    def __init__(self, folder: str | Path, model: str):
        self.folder = Path(folder) / INTERACTIONS / model
        self.model = model

    def append(self, ts: str, user: Any, item: Any, rating: float | None) -> None:
        """Append one interaction and fsync before returning."""
        line = json.dumps({"ts": ts, "model": self.model, "user": user, "item": item, "rating": rating},
                          separators=(",", ":")) + "\n"
        append_lines(self.folder / f"interactions-{_day(ts)}.jsonl", line.encode("utf-8"), durable=True)

    def replay(self) -> Iterator[dict[str, Any]]:
        """Every logged interaction, oldest first (unreadable lines skipped)."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("interactions-*.jsonl")):
            with open(path, "rb") as f:
                for raw in f:
                    try:
                        event = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(event, dict) and "user" in event and "item" in event:
                        yield event
