"""``workbench gc``: a dry run by default; never a tagged run, the newest succeeded run of a notebook, a
registered model version's source run or a run a pipeline record names; W&B staging goes with its run."""

import datetime as dt
import json
from pathlib import Path

from support import run_cli

from workbench.core.io import write_json
from workbench.core.runstore import RunStore


def _started(rec, days_ago: float, now: dt.datetime, tracking: dict | None = None):
    rec.started = (now - dt.timedelta(days=days_ago)).isoformat()
    if tracking:
        rec.tracking = tracking
    rec.save()
    return rec


def test_gc_dry_run_then_delete_keeps_every_protected_run(tmp_path: Path, reg, model_a, make_run):
    reports, now = tmp_path / "reports", dt.datetime.now(dt.timezone.utc)
    staging = tmp_path / "wandb" / "offline-run-20260101_000000-x"
    staging.mkdir(parents=True)
    (staging / "run.wandb").write_bytes(b"w" * 1000)
    runs = {}
    for name, days, status, model in (("registered", 90, "succeeded", model_a), ("tagged", 80, "succeeded", None),
                                      ("piped", 70, "succeeded", None), ("old", 60, "succeeded", None),
                                      ("old_failed", 50, "failed", None), ("latest", 40, "succeeded", None),
                                      ("recent_failed", 1, "failed", None)):
        rec = make_run(reports, model, status=status)
        (rec.folder.path / "report.html").write_bytes(b"r" * 5000)
        runs[name] = _started(rec, days, now, {"offline_dir": str(staging)} if name == "old" else None)
    reg.register("churn", runs["registered"].folder.path / "artifacts" / "model")
    RunStore(reports).label(runs["tagged"].run_id, add=("keep",))
    write_json(reports / "pipelines" / "nightly" / "p1.json", {"steps": [{"run": runs["piped"].run_id}]})

    cwd = tmp_path
    dry = run_cli("gc", "--older-than", "30d", "--registry", str(reg.root), cwd=cwd)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert sorted(line.split()[1] for line in lines if line.startswith("delete")) == \
        sorted([runs["old"].run_id, runs["old_failed"].run_id])
    kept = {line.split()[1]: line.split("(", 1)[1] for line in lines if line.startswith("keep")}
    assert kept == {runs["registered"].run_id: "a registered model version's source)",
                    runs["tagged"].run_id: "tagged keep)", runs["piped"].run_id: "referenced by a pipeline)",
                    runs["latest"].run_id: "the latest succeeded run of its notebook)"}
    freed = 2 * 5000 + 1000 + sum(len((r.folder.record).read_bytes()) for r in (runs["old"], runs["old_failed"]))
    assert lines[-1] == f"would free {freed / 1e6:.1f} MB ({freed} bytes) from 2 run(s); --yes deletes them"
    assert all(r.folder.path.exists() for r in runs.values()) and staging.exists(), "a dry run deletes nothing"

    done = run_cli("gc", "--older-than", "30d", "--registry", str(reg.root), "--yes", cwd=cwd)
    assert done.returncode == 0 and f"freed {freed / 1e6:.1f} MB ({freed} bytes) from 2 run(s)" in done.stdout
    gone = {n for n, r in runs.items() if not r.folder.path.exists()}
    assert gone == {"old", "old_failed"} and not staging.exists()
    assert sorted(r["run_id"] for r in RunStore(reports).query(sync=False)) == \
        sorted(r.run_id for n, r in runs.items() if n not in gone)
    assert runs["old"].run_id not in (reports / "index.html").read_text()

    failed = run_cli("gc", "--failed", "--keep-last", "0", "--registry", str(reg.root), "--yes", cwd=cwd)
    assert failed.returncode == 0 and not runs["recent_failed"].folder.path.exists()
    assert json.loads(run_cli("runs", "--format", "json", "--columns", "run_id", cwd=cwd).stdout).__len__() == 4


def test_gc_refuses_no_criterion_and_bad_ages(tmp_path: Path):
    for args, message in (([], "gc needs a criterion"), (["--older-than", "soon"], "is not a duration"),
                          (["--keep-last", "-1"], "keep_last must be an integer >= 0")):
        proc = run_cli("gc", *args, cwd=tmp_path)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def _bytes(folder: Path, only_own: bool) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and (p.stat().st_nlink == 1 or not only_own))


def test_gc_frees_a_shared_artifact_blob_only_with_the_last_run_that_links_it(tmp_path: Path, model_a, make_run):
    from workbench.core import blobs

    reports, now = tmp_path / "reports", dt.datetime.now(dt.timezone.utc)
    old = _started(make_run(reports, model_a), 90, now)
    failed = _started(make_run(reports, model_a, status="failed"), 80, now)
    _started(make_run(reports, None), 1, now)  # the latest succeeded run: kept, links nothing
    for rec in (old, failed):
        blobs.share_files(rec.folder.artifacts, reports)
    big = [p.name for p in (old.folder.artifacts / "model").iterdir() if p.stat().st_size >= blobs.MIN_SIZE]
    assert big and all((old.folder.artifacts / "model" / n).stat().st_nlink == 3 for n in big), "2 runs + blob"

    own = _bytes(old.folder.path, only_own=True)
    proc = run_cli("gc", "--older-than", "85d", "--yes", cwd=tmp_path)
    assert proc.returncode == 0 and f"({own} bytes) from 1 run(s)" in proc.stdout, proc.stdout
    assert not old.folder.path.exists() and blobs.orphans(reports) == [], "the failed run still links them"
    assert all((failed.folder.artifacts / "model" / n).stat().st_nlink == 2 for n in big)

    every = _bytes(failed.folder.path, only_own=False)  # its shared files now go too
    proc = run_cli("gc", "--failed", "--yes", cwd=tmp_path)
    assert proc.returncode == 0 and f"({every} bytes) from 1 run(s)" in proc.stdout, proc.stdout
    assert list((reports / blobs.BLOBS).glob("??/*")) == [], "no run links a blob any more: all removed"
