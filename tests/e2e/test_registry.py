"""``workbench models`` and ``workbench predict NAME@ALIAS`` through the real CLI, on real model folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from serve_support import fit_churn
from support import run_cli

from workbench.core.runs import RunRecord, new_run_id


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"a": fit_churn(root / "a", rows=300), "b": fit_churn(root / "b", rows=900)}


def _ok(*args: str, cwd: Path, env: dict | None = None) -> str:
    proc = run_cli(*args, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def _fails(*args: str, cwd: Path, message: str) -> None:
    proc = run_cli(*args, cwd=cwd)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and message in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr


def _fake_run(reports: Path, model: Path) -> str:
    rec = RunRecord(run_id=new_run_id(), notebook="notebooks/compare_models.ipynb", notebook_name="compare_models",
                    status="succeeded", metrics={"roc_auc": 0.81})
    folder = reports / "compare_models" / rec.run_id
    shutil.copytree(model, folder / "artifacts" / "model")
    rec.save(folder)
    return rec.run_id


def test_register_alias_predict_rollback_through_the_cli(models, workdir):
    import workbench

    run_id = _fake_run(workdir / "reports", models["a"])
    workbench.load_dataset("telco_churn").frame.iloc[1000:1030].to_csv(workdir / "new.csv", index=False)
    out = _ok("models", "register", "churn", run_id, "--alias", "champion", cwd=workdir)
    assert out.startswith("registered churn:1 @champion (tabular binary, roc_auc=") and f"from run {run_id}" in out
    _ok("models", "register", "churn", str(models["b"]), "--alias", "challenger", cwd=workdir)
    listing = json.loads(_ok("models", "list", "--json", cwd=workdir))
    assert listing["models"] == [{"name": "churn", "versions": 2, "latest": 2,
                                  "aliases": {"challenger": 2, "champion": 1}}]
    shown = json.loads(_ok("models", "show", "churn@champion", "--json", cwd=workdir))
    assert (shown["version"], shown["via"], shown["source"]["run_id"], shown["run_metrics"]) == (1, "champion", run_id,
                                                                                               {"roc_auc": 0.81})
    text = _ok("models", "list", "churn", cwd=workdir).splitlines()
    assert text[0].split() == ["VERSION", "CREATED", "USER", "MODEL", "ALIASES", "METRICS", "SOURCE"]
    assert text[1].split()[0] == "1" and "@champion" in text[1] and f"run {run_id} (compare_models)" in text[1]

    def predict(model: str, name: str) -> str:
        proc = run_cli("predict", model, "new.csv", "-o", name, cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        return (workdir / name).read_text()

    a, b = predict(str(models["a"]), "a.csv"), predict(str(models["b"]), "b.csv")
    assert a != b
    assert predict("churn@champion", "p1.csv") == a and predict("churn", "p2.csv") == b
    assert _ok("models", "alias", "churn", "champion", "@challenger", cwd=workdir) == "churn: set @champion: 1 -> 2\n"
    assert predict("churn@champion", "p3.csv") == b
    assert _ok("models", "rollback", "churn", "champion", cwd=workdir) == "churn: rollback @champion: 2 -> 1\n"
    proc = run_cli("predict", "churn@champion", "new.csv", "-o", "p4.csv", cwd=workdir)
    assert "workbench: model churn:1 (@champion)" in proc.stderr and (workdir / "p4.csv").read_text() == a
    _fails("models", "delete", "churn:1", cwd=workdir, message="churn:1 is still the target of @champion; move it")
    _ok("models", "alias", "churn", "challenger", "--remove", cwd=workdir)
    assert _ok("models", "delete", "churn:2", cwd=workdir) == "deleted churn:2\n"
    log = json.loads(_ok("models", "log", "churn", "--json", cwd=workdir))
    assert [(e["action"], e["alias"], e["from"], e["to"]) for e in log] == [
        ("register", None, None, 1), ("set", "champion", None, 1), ("register", None, None, 2),
        ("set", "challenger", None, 2), ("set", "champion", 1, 2), ("rollback", "champion", 2, 1),
        ("remove", "challenger", 2, None), ("delete", None, 2, None)]


def test_a_shared_registry_through_the_environment_or_registry(models, workdir):
    shared = workdir / "shared"
    _ok("models", "register", "churn", str(models["a"]), "--registry", str(shared), cwd=workdir)
    env = {"WORKBENCH_REGISTRY": str(shared)}
    assert json.loads(_ok("models", "show", "churn:1", "--json", cwd=workdir, env=env))["folder"].startswith(str(shared))
    import workbench

    workbench.load_dataset("telco_churn").frame.iloc[:5].to_csv(workdir / "new.csv", index=False)
    _ok("predict", "churn:1", "new.csv", "-o", "p.csv", "--registry", str(shared), cwd=workdir)
    assert (workdir / "p.csv").read_text().count("\n") == 6
    assert _ok("models", "list", cwd=workdir).startswith("no models in registry; register one")  # ./registry


@pytest.mark.parametrize("args, message", [
    (("models", "register", "../x", "m"), "model name '../x' is not allowed"),
    (("models", "register", "churn", "nothing-here"), "'nothing-here' is neither a model folder nor a run id"),
    (("models", "show", "churn@"), "alias '' in 'churn@' is not allowed"),
    (("models", "show", "churn:1"), "no model 'churn' in registry 'registry' (it is empty)"),
    (("models", "alias", "churn", "champion"), "give either a VERSION"),
    (("models", "delete", "churn"), "delete takes one version, NAME:VERSION"),
    (("models", "list", "--registry", "file.txt"), "registry 'file.txt' is a file"),
    (("predict", "churn@champion", "x.csv", "-o", "o.csv"), "no model 'churn' in registry"),
])
def test_mistakes_are_one_line_and_exit_2(workdir, args, message):
    (workdir / "file.txt").write_text("x")
    _fails(*args, cwd=workdir, message=message)


def test_predict_never_writes_into_the_registry(models, workdir):
    _ok("models", "register", "churn", str(models["a"]), cwd=workdir)
    (workdir / "new.csv").write_text("tenure\n1\n")
    log = workdir / "registry" / "churn" / "audit.jsonl"
    before = log.read_text()
    _fails("predict", "churn", "new.csv", "-o", "registry/churn/audit.jsonl", "--force", cwd=workdir,
           message="would overwrite a file in")
    assert log.read_text() == before
