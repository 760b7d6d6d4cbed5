"""Pipelines of notebooks with real kernels: incremental reruns through the run cache, a failing step
stopping only its descendants, when: conditions, register/alias actions, W&B groups, Dask LocalCluster."""

import json
from pathlib import Path

import pytest
import wandb_reader
from support import make_notebook, remote_references, run_cli

import workbench.pipeline as pipeline

A = ('x = 1  # a number', "import workbench\nworkbench.record('y', x * 2)")
B = ('y = 0  # from a\nfail = False  # fail on purpose\nmodel_src = ""  # a model folder to keep as artifacts/model',
     "import shutil, workbench\nif fail:\n    raise RuntimeError('planned failure')",
     "if model_src:\n    shutil.copytree(model_src, workbench.artifacts_dir() / 'model')\nworkbench.record('z', y + 1)")
FOUR = """
steps:
  a: {notebook: a.ipynb, params: {x: 3}}
  b: {notebook: b.ipynb, params: {y: "${a.metrics.y}"}}
  c: {notebook: a.ipynb, params: {x: 10}}
  d: {notebook: a.ipynb, params: {x: "${b.metrics.z}"}, after: [c]}
"""


@pytest.fixture
def four(workdir: Path, monkeypatch) -> Path:
    make_notebook(workdir / "a.ipynb", *A)
    make_notebook(workdir / "b.ipynb", *B)
    (workdir / "four.yaml").write_text(FOUR)
    monkeypatch.chdir(workdir)
    return workdir / "four.yaml"


def _statuses(result) -> dict[str, str]:
    return {n: r.status for n, r in result.steps.items()}


def _record(result) -> dict:
    return json.loads((result.page.parent / "pipeline.json").read_text())


@pytest.mark.slow
def test_rerun_reuses_everything_and_one_change_reruns_exactly_its_descendants(four, workdir):
    first = pipeline.run(four, jobs=2)
    assert first.ok and _statuses(first) == dict.fromkeys("abcd", "succeeded"), first.summary()
    assert first.steps["d"].metrics == {"y": 14} and first.steps["b"].params["y"] == 6
    for r in first.steps.values():  # every executed step is in the pipeline run's W&B group
        rec = json.loads((Path(r.report).parent / "run.json").read_text())
        assert rec["sweep_id"] == first.pipeline_id
        assert wandb_reader.summarize(rec["tracking"]["offline_dir"])["run"]["group"] == first.pipeline_id

    again = pipeline.run(four, jobs=2)
    assert _statuses(again) == dict.fromkeys("abcd", "cached")
    assert {n: r.origin for n, r in again.steps.items()} == {n: r.run_id for n, r in first.steps.items()}

    changed = pipeline.run(four, params={"a.x": 4}, jobs=2)
    assert _statuses(changed) == {"a": "succeeded", "b": "succeeded", "c": "cached", "d": "succeeded"}
    assert changed.steps["d"].metrics == {"y": 18}
    assert changed.steps["b"].reason == "upstream step 'a' ran"

    record = _record(changed)
    assert record["deps"] == {"a": [], "b": ["a"], "c": [], "d": ["c", "b"]} and record["ok"] is True
    page = changed.page.read_text()
    assert page.count('class="wb-step"') == 4 and not remote_references(page)
    index = (workdir / "reports" / "index.html").read_text()
    assert f"pipelines/{changed.pipeline_id}/index.html" in index


@pytest.mark.slow
def test_a_failing_step_skips_its_descendants_and_leaves_the_rest(four, workdir):
    proc = run_cli("pipeline", "run", "four.yaml", "-p", "b.fail", "true", "--jobs", "2", cwd=workdir)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = proc.stdout.splitlines()[0]
    assert "2 succeeded, 1 failed, 1 skipped" in summary or "1 failed" in summary, summary
    assert "step 'b' failed: b failed at cell 2" in summary and "RuntimeError: planned failure" in summary
    assert "d: skipped (upstream step 'b' failed)" in proc.stderr and "] a: succeeded" in proc.stderr
    (rec,) = (workdir / "reports" / "pipelines").glob("*/pipeline.json")
    steps = json.loads(rec.read_text())["steps"]
    assert {n: s["status"] for n, s in steps.items()} == {"a": "succeeded", "b": "failed", "c": "succeeded",
                                                           "d": "skipped"}
    shown = run_cli("pipeline", "show", "four.yaml", cwd=workdir)
    assert shown.returncode == 0, shown.stderr
    lines = {line.split()[0]: line for line in shown.stdout.splitlines()[1:]}
    assert "cached" in lines["a"] and "cached" in lines["c"]
    assert "runs" in lines["b"] and "no earlier succeeded run" in lines["b"]
    assert "upstream step 'b' runs" in lines["d"]


@pytest.mark.slow
def test_conditions_and_registry_actions(workdir, monkeypatch, tmp_path_factory):
    from serve_support import fit_churn

    model = fit_churn(tmp_path_factory.mktemp("m") / "model", rows=300)
    make_notebook(workdir / "b.ipynb", *B)
    (workdir / "reg.yaml").write_text(f"""
registry: registry
steps:
  train:   {{notebook: b.ipynb, params: {{y: 0, model_src: "{model}"}}}}
  good:    {{register: {{name: churn, source: train, alias: challenger}}, when: "train.z >= 1 and not train.missing"}}
  better:  {{register: {{name: churn, source: train}}, when: "train.z > 5"}}
  promote: {{alias: {{name: churn, alias: champion, version: "${{good.metrics.version}}"}}}}
  after_better: {{notebook: b.ipynb, params: {{y: 1}}, after: better}}
""")
    monkeypatch.chdir(workdir)
    first = pipeline.run("reg.yaml")
    assert _statuses(first) == {"train": "succeeded", "good": "succeeded", "better": "skipped-by-condition",
                                "promote": "succeeded", "after_better": "skipped-by-condition"}, first.summary()
    assert first.steps["better"].reason == "when: train.z > 5 is false (train.z = 1)"
    from workbench.registry import ModelRegistry

    reg = ModelRegistry(workdir / "registry")
    assert reg.aliases("churn") == {"challenger": 1, "champion": 1}
    assert reg.version("churn", 1).source["run_id"] == first.steps["train"].run_id
    again = pipeline.run("reg.yaml")
    assert _statuses(again)["good"] == "cached" and _statuses(again)["promote"] == "cached"
    assert reg.version_numbers("churn") == [1], "an unchanged model is not registered twice"


@pytest.mark.slow
def test_a_dask_local_cluster_gives_the_same_records(four, workdir):
    from distributed import LocalCluster

    local = pipeline.run(four, jobs=2, reports="reports-local")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        workers = {f"dask:{w.worker_address}" for w in cluster.workers.values()}
        remote = pipeline.run(four, jobs=2, scheduler=cluster.scheduler_address, reports="reports-dask")
    assert _statuses(remote) == _statuses(local) == dict.fromkeys("abcd", "succeeded")
    assert {n: r.metrics for n, r in remote.steps.items()} == {n: r.metrics for n, r in local.steps.items()}
    assert {n: r.params for n, r in remote.steps.items()} == {n: r.params for n, r in local.steps.items()}
    assert {r.executor for r in remote.steps.values()} <= workers
    assert _record(remote)["deps"] == _record(local)["deps"]
