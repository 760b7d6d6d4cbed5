"""The saved-model contract as an attacker sees it: a model folder is untrusted input.

Every folder here is built the way an attacker would: the model file replaced and ``model.json``
rewritten with matching hashes, so only the loaders' own checks stand in the way.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import workbench
from workbench import tabular
from workbench.core.io import file_sha256
from workbench.errors import ModelError
from workbench.models import load, read_card
from workbench.models.flavors import SKOPS_DATA_NODES, skops_nodes
from workbench.tabular._persist import load_model, save_model
from workbench.tabular._registry import model_names
from workbench.tabular._skops_types import SKOPS_ALLOWED


@pytest.fixture(scope="module")
def small():
    return workbench.load_dataset("telco_churn").frame.iloc[:400].copy()


def _fit_save(df, name: str, folder: Path, target: str = "churn", task: str = "auto") -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = tabular.prepare_task(df, target, folds=2, models=[name], task=task)
        comp = tabular.compare_models(t, n_jobs=1, verbose=False, ensemble=False)
        model = tabular.fit_best(t, comp).model
    return save_model(model, folder)


@pytest.fixture(scope="module")
def logreg_folder(small, tmp_path_factory) -> Path:
    return _fit_save(small, "logreg", tmp_path_factory.mktemp("m") / "logreg")


def _rehash(folder: Path) -> None:
    """What an attacker does after replacing a file: rewrite the card's hashes to match."""
    card = json.loads((folder / "model.json").read_text())
    card["files"] = {name: file_sha256(folder / name) for name in card["files"]}
    (folder / "model.json").write_text(json.dumps(card))


def _copy(folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(folder, out)
    return out


def test_allow_list_is_exactly_what_the_registry_pipelines_need(small, tmp_path):
    """Derived from the registry: every node of every scikit-learn pipeline it builds (binary, integer
    multiclass and boolean targets; regression) is allowed, and every allowed type is used by one of them."""
    frames = {"str": (small, "binary"), "int3": (small.assign(churn=np.arange(len(small)) % 3), "multiclass"),
              "bool": (small.assign(churn=small["churn"] == "Yes"), "binary"),
              "reg": (small.assign(churn=small["monthly_charges"] * 1.5 + np.arange(len(small)) % 7), "regression")}
    seen: set[str] = set()
    for kind, (df, task) in frames.items():
        for name in model_names(task):
            if name == "catboost":
                continue
            folder = _fit_save(df, name, tmp_path / f"{kind}-{name}", task=task)
            seen |= set(skops_nodes(folder / "model.skops"))
            assert load_model(folder).name == name
    assert seen - SKOPS_DATA_NODES <= SKOPS_ALLOWED, sorted(seen - SKOPS_DATA_NODES - SKOPS_ALLOWED)
    assert SKOPS_ALLOWED <= seen, f"allow-list entries no registry pipeline needs: {SKOPS_ALLOWED - seen}"
    assert not any(n.startswith(("FunctionNode", "MethodNode", "OperatorFuncNode", "PartialNode")) for n in seen)


@pytest.mark.parametrize("func", ["numpy.log1p", "builtins.exec", "operator.neg"])
def test_function_references_are_refused_before_anything_is_built(logreg_folder, tmp_path, monkeypatch, func):
    import importlib

    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    module, attr = func.rsplit(".", 1)
    evil = Pipeline([("f", FunctionTransformer(getattr(importlib.import_module(module), attr))),
                     ("m", FunctionTransformer())])
    folder = _copy(logreg_folder, tmp_path)
    sio.dump(evil, folder / "model.skops")
    _rehash(folder)
    calls = []
    monkeypatch.setattr(sio, "load", lambda *a, **k: calls.append(a) or pytest.fail("skops.load was reached"))
    with pytest.raises(ModelError, match=rf"outside the allow-list: .*Node \S*{attr}"):
        load(folder)
    with pytest.raises(ModelError, match="FunctionTransformer"):
        load(folder)
    assert calls == []


def test_prefix_lookalikes_and_unknown_sklearn_types_are_refused(logreg_folder, tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import PolynomialFeatures

    folder = _copy(logreg_folder, tmp_path)
    sio.dump(PolynomialFeatures(), folder / "model.skops")  # a real sklearn type, just not ours
    _rehash(folder)
    with pytest.raises(ModelError, match="ObjectNode sklearn.preprocessing._polynomial.PolynomialFeatures"):
        load(folder)


@pytest.mark.parametrize("name,why", [("../outside.skops", "not allowed"), ("/etc/passwd", "not allowed"),
                                      ("sub/model.skops", "not allowed"), ("model.json", "not allowed")])
def test_file_names_outside_the_folder_are_refused(logreg_folder, tmp_path, name, why):
    folder = _copy(logreg_folder, tmp_path)
    card = json.loads((folder / "model.json").read_text())
    card["files"] = {name: "0" * 64}
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match=why):
        load(folder)


def test_hashes_are_mandatory_and_checked(logreg_folder, tmp_path):
    folder = _copy(logreg_folder, tmp_path)
    card = json.loads((folder / "model.json").read_text())
    card["files"]["model.skops"] = ""
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="no valid sha256.*re-create"):
        load(folder)
    folder = _copy(logreg_folder, tmp_path / "b")
    with open(folder / "model.skops", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match="does not match the sha256"):
        load(folder)


def test_links_out_of_the_folder_and_fifos_are_refused(logreg_folder, tmp_path):
    folder = _copy(logreg_folder, tmp_path)
    outside = tmp_path / "elsewhere.skops"
    (folder / "model.skops").rename(outside)
    os.symlink(outside, folder / "model.skops")
    with pytest.raises(ModelError, match="not a regular file"):
        load(folder)
    (folder / "model.skops").unlink()
    os.mkfifo(folder / "model.skops")  # would block a reader forever
    with pytest.raises(ModelError, match="not a regular file"):
        load(folder)


@pytest.mark.parametrize("field,value,match", [
    ("files", ["model.skops"], "'files' must be dict"), ("classes", [{"a": 1}], "classes must be"),
    ("task", "poetry", "task 'poetry'"), ("kind", "pickle", "unknown model kind 'pickle'"),
    ("threshold", "0.5", "'threshold' must be"),
])
def test_card_fields_are_type_checked(logreg_folder, tmp_path, field, value, match):
    folder = _copy(logreg_folder, tmp_path)
    card = json.loads((folder / "model.json").read_text())
    card[field] = value
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match=match):
        load(folder)


def test_damaged_files_give_one_line_errors(small, logreg_folder, tmp_path):
    folder = _copy(logreg_folder, tmp_path)
    (folder / "model.skops").write_bytes(b"PK\x03\x04 not a zip at all")
    _rehash(folder)
    with pytest.raises(ModelError, match="not a readable skops file"):
        load(folder)
    cb = _fit_save(small, "catboost", tmp_path / "cb")
    (cb / "model.cbm").write_bytes((cb / "model.cbm").read_bytes()[:200])
    _rehash(cb)
    with pytest.raises(ModelError, match="not a readable CatBoost model"):
        load(cb)
    (folder / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load(folder)


def test_format_1_folders_still_load(logreg_folder, tmp_path):
    """A folder written by workbench 0.1 (format 1 sidecar) loads and predicts the same."""
    folder = _copy(logreg_folder, tmp_path)
    card = read_card(folder)
    table = card.input_schema
    v1 = {"format_version": 1, "model": card.name, "file": "model.skops", "format": "skops",
          "sha256": card.files["model.skops"], "features": table.features, "numeric": table.numeric,
          "categorical": table.categorical, "classes": card.classes, "positive_label": card.positive_label,
          "threshold": card.threshold, "threshold_rule": card.threshold_rule, "id_columns": list(table.id_columns),
          "categories": table.categories, "dtypes": table.dtypes}
    (folder / "model.json").write_text(json.dumps(v1))
    df = workbench.load_dataset("telco_churn").frame.iloc[400:450]
    old, new = load(folder).predict(df), load(logreg_folder).predict(df)
    assert old.columns.tolist() == new.columns.tolist()
    np.testing.assert_allclose(old["proba_Yes"], new["proba_Yes"])
    v1.pop("sha256")
    (folder / "model.json").write_text(json.dumps(v1))
    with pytest.raises(ModelError, match="every model file must carry its hash; fix: re-create"):
        load(folder)


def test_unknown_format_version_says_how_to_recreate(logreg_folder, tmp_path):
    folder = _copy(logreg_folder, tmp_path)
    (folder / "model.json").write_text(json.dumps({"format_version": 7}))
    with pytest.raises(ModelError, match="format_version 7.*rerun the notebook"):
        load(folder)
