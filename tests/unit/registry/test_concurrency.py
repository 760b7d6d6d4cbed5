"""Concurrent writers lose nothing and readers never see a half-written registry (separate processes)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

WRITER = """
import sys, time
from pathlib import Path
from workbench.registry import ModelRegistry
root, job, n, source = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
reg = ModelRegistry(root)
while not (Path(root) / "go").exists():  # start together
    time.sleep(0.01)
for _ in range(n):
    if job == "register":
        reg.register("churn", source)
    else:
        reg.set_alias("churn", "champion", int(job))
"""


@pytest.mark.slow
def test_four_writers_flipping_an_alias_lose_nothing(reg, models):
    for _ in range(4):
        reg.register("churn", models["a"])
    reg.set_alias("churn", "champion", 1)
    root = str(reg.root)
    jobs = [(str(v), 100) for v in (1, 2, 3, 4)] + [("register", 3), ("register", 3)]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, root, job, str(n), str(models["b"])],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for job, n in jobs]
    time.sleep(1.0)
    (reg.root / "go").touch()
    reads, seen = 0, set()
    while any(p.poll() is None for p in procs):  # a reader meanwhile: never a torn file, never a lock
        v = reg.resolve("churn@champion")
        seen.add(v.version)
        assert v.version in (1, 2, 3, 4) and len(reg.history("churn", "champion")) >= 1
        reads += 1
    for p in procs:
        out, err = p.communicate()
        assert p.returncode == 0, err[-2000:]
    flips = [e for e in reg.history("churn", "champion") if e["action"] == "set"][1:]  # the first is the set-up
    assert len(flips) == 400
    assert {v: sum(e["to"] == v for e in flips) for v in (1, 2, 3, 4)} == {1: 100, 2: 100, 3: 100, 4: 100}
    chain = [1] + [e["to"] for e in flips]
    assert [e["from"] for e in flips] == chain[:-1]  # each change starts where the previous ended: none lost
    assert reg.aliases("churn") == {"champion": flips[-1]["to"]}
    assert reg.version_numbers("churn") == list(range(1, 11))  # 6 concurrent registrations, distinct numbers
    for n in range(5, 11):
        assert reg.load(f"churn:{n}").card.name == "logreg"
    assert reads > 0 and seen <= {1, 2, 3, 4}
