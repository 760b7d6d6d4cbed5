"""Benchmark: hot swap under load (issue 22's goal: a 30 s load of >= 200 requests/s on 127.0.0.1 with 2
workers, 0 failed requests, every answer from exactly one version, the switch visible within 2 s).

    .venv/bin/python benchmarks/bench_hotswap.py                 # 30 s at 250 requests/s
    .venv/bin/python benchmarks/bench_hotswap.py --quick         # 10 s at 200 requests/s

Two churn logistic regressions (Telco slices of 300 and 1,500 rows) registered as churn:1 @champion and
churn:2; ``workbench serve churn@champion --workers 2`` on a free 127.0.0.1 port; client threads paced to
the rate (each request 3 records, a 10 s timeout, connections renewed every 50 requests so both workers
answer); halfway, ``workbench models alias churn champion 2`` through the real CLI. Every answer's rows are
checked against the predictions of the version it names (computed here from the registry's copy).
Reported: requests/s achieved, failed requests, mixed or wrong answers, and from the alias move (its
audit-log time) to the first answer of churn:2 and to the last one of churn:1 (times sent).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def setup(work: Path) -> tuple[Path, list[dict], dict]:
    from serve_support import fit_churn, telco_records

    from workbench.registry import ModelRegistry, load_model

    reg = ModelRegistry(work / "registry")
    reg.register("churn", fit_churn(work / "a", rows=300), alias="champion")
    reg.register("churn", fit_churn(work / "b", rows=1500))
    records = telco_records(300, start=2000)
    expected = {}
    for n in (1, 2):
        model = load_model(f"churn:{n}", reg.root)
        expected[f"churn:{n}"] = [json.loads(json.dumps(model.predict_records([r])[0])) for r in records]
    return reg.root, records, expected


def load(port: int, records: list, expected: dict, rate: float, seconds: float, threads: int) -> tuple[list, list]:
    answers: list[tuple[float, str]] = []
    failures: list[str] = []
    t0 = time.time()

    def client(seed: int) -> None:
        interval, due, i, sent_n = threads / rate, t0 + seed / rate, seed, 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while due < t0 + seconds:
            time.sleep(max(0.0, due - time.time()))
            due += interval
            i = (i + 7) % (len(records) - 3)
            sent = time.time()
            try:
                conn.request("POST", "/models/churn/predict", body=json.dumps({"records": records[i:i + 3]}),
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                body = json.loads(r.read())
            except (OSError, http.client.HTTPException, ValueError) as e:
                failures.append(f"{type(e).__name__}: {e}")
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            version = body.get("version")
            if r.status != 200 or body.get("predictions") != expected.get(version, [None] * 400)[i:i + 3]:
                failures.append(f"{r.status} {str(body)[:200]}")
            answers.append((sent, version))
            sent_n += 1
            if sent_n % 50 == 0:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    pool = [threading.Thread(target=client, args=(s,), daemon=True) for s in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(seconds + 60)
    return answers, failures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=250.0, help="requests per second (paced)")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--quick", action="store_true", help="10 s at 200 requests/s")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.rate = 10.0, 200.0
    from serve_support import free_port, run_serve_cli

    work = Path(tempfile.mkdtemp(prefix="bench-hotswap-"))
    root, records, expected = setup(work)
    port = free_port()
    proc, err = run_serve_cli(["churn@champion", "--registry", str(root), "--port", str(port), "--workers", "2",
                               "--log-dir", str(work / "logs")], port, cwd=work)
    result: dict = {}
    mover = threading.Timer(args.seconds / 2, lambda: result.update(cli=subprocess.run(
        [sys.executable, "-m", "workbench.cli", "models", "alias", "churn", "champion", "2", "--registry", str(root)],
        capture_output=True, text=True)))
    try:
        mover.start()
        answers, failures = load(port, records, expected, args.rate, args.seconds, args.threads)
        mover.join()
    finally:
        proc.terminate()
        proc.wait(60)
    entry = [json.loads(x) for x in (root / "churn" / "audit.jsonl").read_text().splitlines()][-1]
    moved = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp()
    new = [t for t, v in answers if v == "churn:2"]
    old = [t for t, v in answers if v == "churn:1"]
    print(f"{len(answers)} answers in {args.seconds:.0f} s ({len(answers) / args.seconds:.0f}/s paced at "
          f"{args.rate:.0f}/s, 2 workers); failed or wrong: {len(failures)}; versions {sorted({v for _, v in answers})}; "
          f"alias moved by the CLI (rc {result['cli'].returncode}) at +{moved - min(t for t, _ in answers):.2f} s; "
          f"first churn:2 answer sent {min(new) - moved:+.2f} s, last churn:1 sent {max(old) - moved:+.2f} s after "
          f"the move; 'now serving churn:2' logged {err.text().count('now serving churn:2')} time(s); "
          f"load average {os.getloadavg()[0]:.2f}")
    for f in failures[:5]:
        print("  ", f)


if __name__ == "__main__":
    main()
