"""The serving parts on their own: the in-process cache's bounds, request-log lines, appends under a lock."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time

from workbench.serve._cache import MemoryCache
from workbench.serve._logs import RequestLog, append_lines, lines


def test_memory_cache_is_bounded_in_entries_bytes_and_time():
    async def scenario():
        cache = MemoryCache(ttl=0.3, size=3, max_bytes=1600)
        for g in "abc":
            await cache.set(g, b"x" * 10)
        assert await cache.get("a") == b"x" * 10  # a is now the most recent
        await cache.set("d", b"y")
        assert await cache.get("b") is None and await cache.get("a") is not None  # LRU: b went first
        await cache.set("big", b"z" * 101)
        assert await cache.get("big") is None  # over a sixteenth of the cache: not kept
        await cache.set("e", b"w" * 100, "k1")
        await cache.set("e", b"w" * 100, "k2")
        assert await cache.get("e", "k2") is not None
        await cache.drop("e")
        assert await cache.get("e", "k1") is None
        for i in range(20):
            await cache.set(f"n{i}", b"v" * 90)
        assert cache._bytes <= 1600 and len(cache._groups) <= 3
        time.sleep(0.35)
        assert await cache.get("n19") is None  # expired

    asyncio.run(scenario())


def test_log_lines_split_one_per_row_whatever_the_values_hold():
    tricky = ['},{"ts":', "line\nbreak", '"quoted"', "\\", "é ✓", None, 1e-300]
    inputs = [{"a": v, "ts": "x"} for v in tricky]
    outputs = [{"prediction": str(v), "proba_x": 0.5, "error": None} for v in tricky]
    for flat in (True, False):
        data = lines("2024-06-01T12:00:00.000Z", "m", 1.23456, inputs, outputs, flat)
        rows = [json.loads(x) for x in data.decode().splitlines()]
        assert [r["input"] for r in rows] == inputs and [r["output"] for r in rows] == outputs
        assert rows[0]["latency_ms"] == 1.235 and rows[0]["ts"] == "2024-06-01T12:00:00.000Z"
    assert lines("t", "m", 1.0, [], [], True) == b""


def _append(path, n):
    for i in range(n):
        append_lines(path, (json.dumps({"i": i, "pad": "x" * 5000}) + "\n").encode())


def test_appends_from_several_processes_never_interleave(tmp_path):
    path = tmp_path / "log.jsonl"
    procs = [multiprocessing.get_context("fork").Process(target=_append, args=(path, 200)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(rows) == 600


def test_an_unwritable_log_warns_once_and_counts_the_drops(tmp_path, caplog):
    dropped = []
    (tmp_path / "logs").write_text("a file where the folder should be")
    log = RequestLog(tmp_path / "logs", on_drop=lambda model, n: dropped.append(n))
    for _ in range(3):
        log.add("m", "2024-06-01T00:00:00.000Z", 1.0, [{"a": 1}], [{"prediction": 1}])
        log.flush()
    assert dropped == [1, 1, 1]
    assert sum("request log: cannot append" in r.getMessage() for r in caplog.records) == 1
    full = RequestLog(tmp_path / "ok", max_pending=2, on_drop=lambda model, n: dropped.append(n))
    full.add("m", "2024-06-01T00:00:00.000Z", 1.0, [{"a": 1}] * 3, [{"p": 1}] * 3)  # over the queue bound
    assert dropped[-1] == 3
