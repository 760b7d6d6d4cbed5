"""``workbench serve churn@champion``: real processes on 127.0.0.1 following a registry alias, with a
shadow, a canary and a sticky A/B split (issue 22). Each answer is checked against the predictions of
the version it names, computed here from the registry's own copy."""

from __future__ import annotations

import http.client
import json
import os
import signal
import stat
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from serve_support import fit_churn, free_port, redis_server, run_serve_cli, telco_records

from workbench.registry import ModelRegistry, load_model


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("models")
    return [fit_churn(root / "a", rows=300), fit_churn(root / "b", rows=900)]


@pytest.fixture
def registry(folders, tmp_path) -> ModelRegistry:
    """churn:1 @champion and churn:2 @challenger, in a registry of the test's own."""
    reg = ModelRegistry(tmp_path / "registry")
    reg.register("churn", folders[0], alias="champion")
    reg.register("churn", folders[1], alias="challenger")
    return reg


def _expected(reg: ModelRegistry, records: list[dict], versions: tuple = (1, 2)) -> dict[str, list]:
    """``churn:N`` -> the JSON rows that version answers for each record (one record per request)."""
    out = {}
    for n in versions:
        model = load_model(f"churn:{n}", reg.root)
        out[f"churn:{n}"] = [json.loads(json.dumps(model.predict_records([r])[0])) for r in records]
    return out


def _serve(reg: ModelRegistry, tmp_path: Path, *args: str, workers: int = 1, env: dict | None = None):
    port = free_port()
    proc, err = run_serve_cli(["churn@champion", "--registry", str(reg.root), "--port", str(port), "--log-dir",
                               str(tmp_path / "logs"), "--workers", str(workers), *args], port, cwd=tmp_path, env=env)
    return port, proc, err


def _stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0


def _post(conn: http.client.HTTPConnection, records: list[dict]) -> tuple[int, dict, str]:
    conn.request("POST", "/models/churn/predict", body=json.dumps({"records": records}),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    return r.status, json.loads(data), r.getheader("X-Request-Id")


def _metric(port: int, name: str, **labels: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _log(tmp_path: Path) -> list[dict]:
    return [json.loads(x) for f in sorted((tmp_path / "logs" / "churn").glob("*.jsonl")) for x in f.read_text().splitlines()]


def _wait_for(err, text: str, count: int = 1, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while err.text().count(text) < count:
        assert time.time() < deadline, f"{text!r} not logged {count} time(s) within {timeout} s:\n{err.text()[-3000:]}"
        time.sleep(0.1)


@pytest.mark.slow
def test_hot_swap_under_load_two_workers_no_failures_each_answer_from_one_version(registry, tmp_path):
    records = telco_records(200, start=1500)
    expected = _expected(registry, records)
    port, proc, err = _serve(registry, tmp_path, workers=2)
    answers: list[tuple[float, str]] = []  # (time sent, version) of every good answer
    failures: list[str] = []
    stop = threading.Event()

    def client(seed: int) -> None:
        i = seed
        while not stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # a new one every 50: both workers
            for _ in range(50):
                i = (i + 7) % len(records)
                sent = time.time()
                try:
                    status, body, _ = _post(conn, [records[i]])
                except (OSError, http.client.HTTPException, ValueError) as e:
                    failures.append(f"{type(e).__name__}: {e}")
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    continue
                if status != 200 or body["predictions"] != [expected.get(body["version"], [None] * 200)[i]]:
                    failures.append(f"{status} {str(body)[:200]}")
                answers.append((sent, body.get("version")))
            conn.close()

    threads = [threading.Thread(target=client, args=(s,), daemon=True) for s in range(4)]
    try:
        started = time.time()
        for t in threads:
            t.start()
        while len(answers) < 1000 and time.time() < started + 30:
            time.sleep(0.05)
        flipped = time.time()
        registry.set_alias("churn", "champion", 2)
        _wait_for(err, "now serving churn:2", count=2, timeout=30)  # each worker follows on its own
        while sum(v == "churn:2" for _, v in answers) < 1000 and time.time() < flipped + 30:
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(60)
        ended = time.time()
        assert _metric(port, "workbench_serve_model_version", version="churn:2") >= 1
    finally:
        _stop(proc)
    assert failures == [] and len(answers) >= 1000
    assert {v for _, v in answers} == {"churn:1", "churn:2"}
    last_old = max(t for t, v in answers if v == "churn:1") - flipped
    first_new = min(t for t, v in answers if v == "churn:2") - flipped
    print(f"\n{len(answers)} answers in {ended - started:.1f} s ({len(answers) / (ended - started):.0f}/s), 0 failed; "
          f"switch: first churn:2 sent {first_new:+.2f} s, last churn:1 sent {last_old:+.2f} s after the flip "
          f"(load {os.getloadavg()[0]:.1f})")
    assert last_old < 20  # a bound only a stuck follower breaks (the goal, 2 s, is measured above)
    assert "Traceback" not in err.text()


def test_a_broken_version_is_refused_and_the_old_one_keeps_serving(registry, tmp_path):
    records = telco_records(5, start=1700)
    expected = _expected(registry, records)
    broken = registry.register("churn", registry.resolve("churn:1").folder)  # churn:3, then damaged
    model = next(p for p in broken.folder.iterdir() if p.name != "model.json")
    os.chmod(model, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte changed: the sha256 recorded at register no longer matches
    model.write_bytes(bytes(data))
    port, proc, err = _serve(registry, tmp_path, "--follow-interval", "0.2")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        assert _post(conn, records[:1])[1]["version"] == "churn:1"
        registry.set_alias("churn", "champion", 3)
        _wait_for(err, "churn: refused churn:3 (churn@champion moved to it)")
        assert "sha256" in err.text().split("refused churn:3", 1)[1].split("\n", 1)[0]
        status, body, _ = _post(conn, records[:1])
        assert (status, body["version"], body["predictions"]) == (200, "churn:1", [expected["churn:1"][0]])
        assert _metric(port, "workbench_serve_swaps_total", outcome="refused") == 1
        registry.set_alias("churn", "champion", 2)
        _wait_for(err, "churn: now serving churn:2 as champion")
        status, body, _ = _post(conn, records[1:2])
        assert (status, body["version"], body["predictions"]) == (200, "churn:2", [expected["churn:2"][1]])
        conn.request("GET", "/models/churn")
        card = json.loads(conn.getresponse().read())
        assert (card["version"], card["rollout"]) == ("churn:2", {"source": "churn@champion"})
    finally:
        conn.close()
        _stop(proc)
    assert [(x["variant"], x["version"]) for x in _log(tmp_path)] == [("champion", "churn:1")] * 2 + \
        [("champion", "churn:2")]


def _shadow_scored(port: int, n: int) -> float:
    """Waits (60 s at most) until the shadow has scored ``n`` copies."""
    deadline = time.time() + 60
    while (scored := _metric(port, "workbench_serve_variant_requests_total", variant="shadow")) < n:
        assert time.time() < deadline, f"the shadow scored {scored} of {n} copies"
        time.sleep(0.05)
    return scored


def test_shadow_logs_both_under_one_request_id_and_counts_drops(registry, tmp_path):
    records = telco_records(40, start=1800)
    expected = _expected(registry, records)
    port, proc, err = _serve(registry, tmp_path, "--shadow", "churn@challenger", "--shadow-queue", "1")
    ids: list[str] = []
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(10):  # one at a time, each copy scored before the next request
            status, body, rid = _post(conn, [records[i]])
            assert (status, body["version"], body["predictions"]) == (200, "churn:1", [expected["churn:1"][i]])
            ids.append(rid)
            _shadow_scored(port, i + 1)
        # the shadow scorer is a process of its own (the worker's child): stopped, the answers do not wait
        scorer = int(err.text().split("churn: shadow churn@challenger (churn:2) scoring in process ")[1].split()[0])
        # ... niced: on a busy machine the scheduler prefers the answers
        assert os.getpriority(os.PRIO_PROCESS, scorer) == min(os.getpriority(os.PRIO_PROCESS, proc.pid) + 10, 19)
        os.kill(scorer, signal.SIGSTOP)
        try:
            for i in range(10, 16):
                status, body, _ = _post(conn, [records[i]])
                assert (status, body["version"], body["predictions"]) == (200, "churn:1", [expected["churn:1"][i]])
            assert _metric(port, "workbench_serve_shadow_dropped_total") == 4  # one waiting, one being read: 2 kept
        finally:
            os.kill(scorer, signal.SIGCONT)
        batch = telco_records(1000, start=2000)

        def burst() -> None:  # concurrent 1000-row requests: a queue of one overflows
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for _ in range(3):
                assert _post(c, batch)[0] == 200

        threads = [threading.Thread(target=burst) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        answered = 16 + 36
        deadline = time.time() + 60
        while (_metric(port, "workbench_serve_variant_requests_total", variant="shadow")
               + _metric(port, "workbench_serve_shadow_dropped_total")) < answered:
            assert time.time() < deadline, "shadow copies neither scored nor counted as dropped"
            time.sleep(0.2)
        dropped = _metric(port, "workbench_serve_shadow_dropped_total")
        shadowed = _metric(port, "workbench_serve_variant_requests_total", variant="shadow")
        conn.request("GET", "/models/churn")
        card = json.loads(conn.getresponse().read())
    finally:
        _stop(proc)
    assert card["rollout"]["challenger"] == {"mode": "shadow", "source": "churn@challenger", "version": "churn:2"}
    assert shadowed + dropped == answered and dropped >= 5, (shadowed, dropped)
    lines = _log(tmp_path)
    shadow_ids = Counter(x["request_id"] for x in lines if x["variant"] == "shadow")
    assert len(shadow_ids) == shadowed and set(shadow_ids) <= {x["request_id"] for x in lines if x["variant"] == "champion"}
    for rid, i in zip(ids, range(10)):  # the single-record requests: shadowed, exact outputs
        mine = {x["variant"]: x for x in lines if x["request_id"] == rid}
        assert (mine["champion"]["version"], mine["shadow"]["version"]) == ("churn:1", "churn:2")
        shadow = mine["shadow"]["output"]  # the answer's row without its ID columns
        assert "proba_Yes" in shadow and shadow == {k: expected["churn:2"][i][k] for k in shadow}
        assert mine["shadow"]["input"] == mine["champion"]["input"]
    assert "Traceback" not in err.text()


def test_canary_share_within_a_binomial_bound(registry, tmp_path):
    records = telco_records(400, start=2000)
    port, proc, err = _serve(registry, tmp_path, "--canary", "churn@challenger=30", "--cache-ttl", "0")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        versions = Counter(_post(conn, [r])[1]["version"] for r in records)
        assert _metric(port, "workbench_serve_variant_requests_total", variant="challenger", version="churn:2") == \
            versions["churn:2"]
    finally:
        _stop(proc)
    # 400 draws at 30 %: mean 120, sd 9.2; 5 sd either side
    assert set(versions) == {"churn:1", "churn:2"} and 74 <= versions["churn:2"] <= 166, versions
    logged = Counter((x["variant"], x["version"]) for x in _log(tmp_path))
    assert logged == {("champion", "churn:1"): versions["churn:1"], ("challenger", "churn:2"): versions["churn:2"]}


@pytest.mark.slow
def test_sticky_split_same_variant_from_four_workers_and_after_a_restart(registry, tmp_path):
    from workbench.serve._rollout import bucket

    records = telco_records(40, start=2500)
    split = ["--canary", "churn@challenger=50", "--split-key", "customer_id"]

    def assignment(port: int, rounds: int) -> tuple[dict[str, set], set[int]]:
        """Each record on a new connection (any worker), 8 at a time; the worker that answered it says its
        pid on the same connection."""
        from concurrent.futures import ThreadPoolExecutor

        def one(r: dict) -> tuple[str, str, int]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status, body, _ = _post(conn, [r])
            assert status == 200
            conn.request("GET", "/health")
            pid = json.loads(conn.getresponse().read())["pid"]
            conn.close()
            return r["customer_id"], body["version"], pid

        seen: dict[str, set] = {}
        pids: set[int] = set()
        with ThreadPoolExecutor(8) as pool:
            for _ in range(rounds):
                for key, version, pid in pool.map(one, records):
                    seen.setdefault(key, set()).add(version)
                    pids.add(pid)
        return seen, pids

    with redis_server() as (url, _):
        port, proc, err = _serve(registry, tmp_path, *split, workers=4, env={"REDIS_URL": url})
        try:
            first, pids = assignment(port, 3)
            for _ in range(10):  # the kernel may hand every connection to one worker: more rounds until two answered
                if len(pids) >= 2:
                    break
                more, extra = assignment(port, 1)
                pids |= extra
                for key, versions in more.items():
                    first[key] |= versions
        finally:
            _stop(proc)
    assert len(pids) >= 2  # the answers came from several workers
    assert all(len(v) == 1 for v in first.values()), first
    want = {r["customer_id"]: {"churn:2" if bucket("workbench", "churn", r["customer_id"]) < 50 else "churn:1"}
            for r in records}
    assert first == want and {next(iter(v)) for v in want.values()} == {"churn:1", "churn:2"}
    port, proc, err = _serve(registry, tmp_path, *split)
    try:
        assert assignment(port, 1)[0] == want  # after a restart
    finally:
        _stop(proc)


def test_rollout_yaml_sets_the_challengers_and_is_checked_like_the_flags(registry, tmp_path):
    import subprocess
    import sys

    def serve_err(text: str, *flags: str) -> str:
        (tmp_path / "rollout.yaml").write_text(text)
        r = subprocess.run([sys.executable, "-m", "workbench.cli", "serve", "churn@champion", "--registry",
                            str(registry.root), "--rollout", str(tmp_path / "rollout.yaml"), *flags],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
        return r.stderr

    assert "unknown key(s) canry; valid: split_key, split_salt, shadow_queue, models" in serve_err("canry: 1\n")
    assert "valid keys: shadow, canary, percent" in serve_err("models: {churn: {canary: churn@challenger}}\n")
    assert "is for 'other', which is not served (served: churn)" in serve_err("models: {other: {shadow: churn:2}}\n")
    assert "must be a number in (0, 100]" in serve_err("models: {churn: {canary: churn:2, percent: 150}}\n")
    assert "sets split_key, and so do --split-key: give each in one place" in serve_err(
        "split_key: customer_id\nmodels: {churn: {canary: churn:2, percent: 50}}\n", "--split-key", "customer_id")
    (tmp_path / "rollout.yaml").write_text("models:\n  churn: {canary: churn@challenger, percent: 25}\n"
                                           "split_key: customer_id\nsplit_salt: s1\n")
    port, proc, err = _serve(registry, tmp_path, "--rollout", str(tmp_path / "rollout.yaml"))
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/models/churn")
        card = json.loads(conn.getresponse().read())
    finally:
        _stop(proc)
    assert card["rollout"]["challenger"] == {"mode": "canary", "source": "churn@challenger", "version": "churn:2",
                                             "percent": 25.0, "split_key": "customer_id"}
