"""The registry on real model folders: registering, immutable versions, aliases, rollback, deletion."""

from __future__ import annotations

import json
import os
import stat

import pytest

import workbench
from workbench.core.io import file_sha256
from workbench.errors import ModelError
from workbench.registry import ModelRegistry

TABLE = None


def _frame():
    global TABLE
    if TABLE is None:
        TABLE = workbench.load_dataset("telco_churn").frame.iloc[1000:1040].reset_index(drop=True)
    return TABLE


def _proba(model) -> list[float]:
    return model.predict(_frame())["proba_Yes"].round(12).tolist()


def test_register_copies_a_read_only_version_with_its_record(reg, models):
    v = reg.register("churn", models["a"], alias="champion")
    card = json.loads((models["a"] / "model.json").read_text())
    assert (v.name, v.version, v.aliases) == ("churn", 1, ("champion",))
    assert v.folder == reg.root / "churn" / "versions" / "1" / "model"
    assert sorted(p.name for p in v.folder.iterdir()) == ["model.compiled.safetensors", "model.json", "model.skops"]
    assert v.files == {"model.json": file_sha256(models["a"] / "model.json"),
                       "model.skops": card["files"]["model.skops"],
                       "model.compiled.safetensors": card["files"]["model.compiled.safetensors"]}
    assert v.card == {"kind": "tabular", "task": "binary", "flavor": "skops", "name": "logreg", "classes": ["No", "Yes"]}
    assert v.metrics == card["metrics"] and v.metrics["metric"] == "roc_auc"
    assert v.source == {"path": str(models["a"].resolve())} and v.run_metrics == {}
    assert v.user and v.created.endswith("Z") and len(v.digest) == 64
    for p in [v.folder / "model.json", v.folder / "model.skops", v.folder.parent / "version.json"]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o444, p
    assert stat.S_IMODE(v.folder.stat().st_mode) == 0o555
    assert not (models["a"] / "model.skops").stat().st_nlink > 1  # a copy, not a link to the source
    # a second registration is the next version; the staging folder is gone
    assert reg.register("churn", models["b"]).version == 2
    assert sorted(p.name for p in (reg.root / "churn" / "versions").iterdir()) == ["1", "2"]


def test_register_from_a_run_id_records_the_run(reg, models, make_run, tmp_path):
    reports = tmp_path / "reports"
    run = make_run(reports, models["a"], metrics={"roc_auc": 0.84, "rows": 300})
    make_run(reports, models["b"], notebook="explore")
    v = reg.register("churn", run.run_id[:-2], reports=reports)  # a unique prefix is enough
    assert v.source == {"path": str((reports / "compare_models" / run.run_id / "artifacts" / "model").resolve()),
                        "run_id": run.run_id, "notebook": "compare_models"}
    assert v.run_metrics == {"roc_auc": 0.84, "rows": 300}
    # the run's model folder given as a path finds its run too
    v2 = reg.register("churn", reports / "compare_models" / run.run_id / "artifacts" / "model")
    assert v2.source["run_id"] == run.run_id and v2.run_metrics == v.run_metrics


def test_register_refuses_bad_sources_before_creating_anything(reg, model_a, make_run, tmp_path):
    reports = tmp_path / "reports"
    failed = make_run(reports, model_a, status="failed")
    empty = make_run(reports, None)
    cases = [(failed.run_id, f"run {failed.run_id} failed; register a model of a succeeded run"),
             (empty.run_id, "saved no model"),
             ("20990101", "is neither a model folder nor a run id: no run '20990101'"),
             ("no/such/folder", "'no/such/folder' is neither a model folder nor a run id"),
             (str(model_a / "model.json"), "is a file; give a model folder")]
    for source, message in cases:
        with pytest.raises(ModelError, match=message):
            reg.register("churn", source, reports=reports)
    with pytest.raises(ModelError, match="model name '../x' is not allowed"):
        reg.register("../x", model_a)
    with pytest.raises(ModelError, match="'latest' is reserved"):
        reg.register("churn", model_a, alias="latest")
    (model_a / "model.skops").write_bytes((model_a / "model.skops").read_bytes() + b"x")  # tampered source
    with pytest.raises(ModelError, match=r"src-a/model.skops' does not match the sha256"):
        reg.register("churn", model_a)
    assert not reg.root.exists()


def test_a_changed_file_is_refused_at_load_naming_it(reg, models):
    v = reg.register("churn", models["a"])
    skops = v.folder / "model.skops"
    os.chmod(skops, 0o644)
    data = skops.read_bytes()
    skops.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # one bit pattern changed, same size
    with pytest.raises(ModelError, match=r"churn:1: .*versions/1/model/model.skops' does not match the sha256"):
        reg.load("churn:1")
    # model.json rewritten with hashes to match (what an attacker would do): refused against version.json
    v2 = reg.register("churn", models["a"])
    card_path = v2.folder / "model.json"
    card = json.loads(card_path.read_text())
    card["threshold"] = 0.01
    os.chmod(card_path, 0o644)
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"versions/2/model/model.json' does not match the sha256 recorded when "
                                         r"churn:2 was registered"):
        workbench.load_model("churn:2", registry=reg.root)


def test_a_version_does_not_change_with_its_source(reg, model_a, models):
    v = reg.register("churn", model_a)
    before = _proba(reg.load(v))
    (model_a / "model.skops").unlink()
    (model_a / "model.skops").write_bytes(b"gone")
    assert _proba(reg.load("churn:1")) == before == _proba(workbench.load_model(models["a"]))


def test_aliases_point_at_versions_and_references_resolve(reg, models):
    reg.register("churn", models["a"], alias="champion")
    reg.register("churn", models["b"], alias="challenger")
    assert reg.aliases("churn") == {"champion": 1, "challenger": 2}
    assert reg.resolve("churn@champion").version == 1 and reg.resolve("churn@champion").via == "champion"
    assert reg.resolve("churn").version == 2 and reg.resolve("churn@latest").version == 2
    assert reg.resolve("churn:1").aliases == ("champion",)
    a, b = _proba(workbench.load_model(models["a"])), _proba(workbench.load_model(models["b"]))
    assert a != b
    assert _proba(workbench.load_model("churn@champion", registry=reg.root)) == a
    assert _proba(workbench.load_model("churn", registry=reg.root)) == b
    entry = reg.set_alias("churn", "champion", "@challenger")  # promote: whatever challenger points at
    assert (entry["action"], entry["from"], entry["to"]) == ("set", 1, 2)
    assert _proba(workbench.load_model("churn@champion", registry=reg.root)) == b
    with pytest.raises(ModelError, match=r"churn has no version 7 \(it has 1, 2\)"):
        reg.set_alias("churn", "champion", 7)
    with pytest.raises(ModelError, match=r"no alias 'staging' \(its aliases: @challenger -> 2, @champion -> 2; its "
                                         r"versions: 1, 2\)"):
        reg.resolve("churn@staging")
    with pytest.raises(ModelError, match=r"no model 'nope' in registry .* \(it holds churn\)"):
        reg.resolve("nope@champion")
    assert reg.remove_alias("churn", "challenger")["to"] is None
    assert reg.aliases("churn") == {"champion": 2}


def test_rollback_walks_back_through_the_alias_history(reg, models):
    for _ in range(3):
        reg.register("churn", models["a"])
    with pytest.raises(ModelError, match="no alias 'champion'"):
        reg.rollback("churn", "champion")
    reg.set_alias("churn", "champion", 1)
    with pytest.raises(ModelError, match="churn@champion has no previous target"):
        reg.rollback("churn", "champion")
    reg.set_alias("churn", "champion", 2)
    reg.set_alias("churn", "other", 3)  # another alias's history does not interfere
    reg.set_alias("churn", "champion", 3)
    assert reg.rollback("churn", "champion")["to"] == 2
    assert reg.rollback("churn", "champion")["to"] == 1
    assert reg.aliases("churn") == {"champion": 1, "other": 3}
    with pytest.raises(ModelError, match="no previous target"):
        reg.rollback("churn", "champion")
    actions = [(e["action"], e["alias"], e["from"], e["to"]) for e in reg.history("churn", "champion")]
    assert actions == [("set", "champion", None, 1), ("set", "champion", 1, 2), ("set", "champion", 2, 3),
                       ("rollback", "champion", 3, 2), ("rollback", "champion", 2, 1)]


def test_delete_is_refused_while_aliased_and_never_reuses_a_number(reg, models):
    reg.register("churn", models["a"], alias="champion")
    reg.register("churn", models["b"])
    with pytest.raises(ModelError, match=r"churn:1 is still the target of @champion; move it first"):
        reg.delete("churn", 1)
    reg.set_alias("churn", "champion", 2)
    reg.delete("churn", 1)
    assert reg.version_numbers("churn") == [2]
    with pytest.raises(ModelError, match=r"churn:1 was deleted \(it has 2\)"):
        reg.resolve("churn:1")
    with pytest.raises(ModelError, match="its previous target, churn:1 was deleted"):
        reg.rollback("churn", "champion")
    assert reg.register("churn", models["a"]).version == 3
    assert [e["action"] for e in reg.history("churn")] == ["register", "set", "register", "set", "delete",
                                                           "register"]
    assert not [p for p in (reg.root / "churn" / "versions").iterdir() if p.name.startswith(".")]


def test_change_token_moves_with_aliases_and_versions_only(reg, models):
    reg.register("churn", models["a"], alias="champion")
    token = reg.change_token("churn@champion")
    reg.resolve("churn@champion")
    reg.load("churn@champion")
    assert reg.change_token("churn") == token
    reg.set_alias("churn", "champion", 1)  # the same target, but a change all the same
    assert reg.change_token("churn") != token
    token = reg.change_token("churn")
    reg.register("churn", models["b"])  # bare `churn` now means version 2
    assert reg.change_token("churn") != token


def test_a_folder_is_a_folder_even_when_it_looks_like_a_reference(reg, models, tmp_path, monkeypatch):
    import shutil

    reg.register("churn", models["a"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_REGISTRY", str(reg.root))
    assert _proba(workbench.load_model("churn")) == _proba(workbench.load_model(models["a"]))
    shutil.copytree(models["b"], tmp_path / "churn")
    assert _proba(workbench.load_model("churn")) == _proba(workbench.load_model(models["b"]))
    with pytest.raises(ModelError, match=r"no model 'other' in registry .*; and 'other' is not a model folder here"):
        workbench.load_model("other")
    with pytest.raises(ModelError, match="no model.json in 'no/such/dir'"):
        workbench.load_model("no/such/dir")


def test_registry_root_from_the_environment(models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ModelRegistry().register("churn", models["a"])
    assert (tmp_path / "registry" / "churn" / "versions" / "1").is_dir()
    monkeypatch.setenv("WORKBENCH_REGISTRY", str(tmp_path / "shared"))
    assert ModelRegistry().root == tmp_path / "shared"
    with pytest.raises(ModelError, match="no model 'churn' in registry .*shared' \\(it is empty\\)"):
        ModelRegistry().resolve("churn")


def test_register_model_is_the_notebooks_register_as(models, make_run, tmp_path, monkeypatch):
    """``workbench.register_model(model_dir, register_as)``: nothing for an empty name; a run's saved model
    becomes the next version with the run recorded, in $WORKBENCH_REGISTRY."""
    monkeypatch.setenv("WORKBENCH_REGISTRY", str(tmp_path / "shared"))
    run = make_run(tmp_path / "reports", models["a"], status="running")  # registered while the run is running
    model_dir = tmp_path / "reports" / "compare_models" / run.run_id / "artifacts" / "model"
    assert workbench.register_model(model_dir, "") is None and not (tmp_path / "shared").exists()
    v = workbench.register_model(model_dir, "churn")
    assert (v.ref, v.source["run_id"], v.source["notebook"]) == ("churn:1", run.run_id, "compare_models")
    assert workbench.register_model(model_dir, "churn", alias="champion").ref == "churn:2"
    assert ModelRegistry(tmp_path / "shared").resolve("churn@champion").version == 2
    with pytest.raises(ModelError, match="register_as must be a model name"):
        workbench.register_model(model_dir, 3)
