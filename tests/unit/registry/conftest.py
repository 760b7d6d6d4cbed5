"""Real model folders for the registry tests (two small churn models that predict differently), a
registry in a fresh folder, and fake run folders the way ``workbench run`` lays them out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from serve_support import fit_churn

from workbench.core.runs import RunRecord, new_run_id
from workbench.registry import ModelRegistry


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """``a``: logreg on 300 rows, ``b``: logreg on 900 rows (same columns, other probabilities)."""
    root = tmp_path_factory.mktemp("models")
    return {"a": fit_churn(root / "a", rows=300), "b": fit_churn(root / "b", rows=900)}


@pytest.fixture
def model_a(models, tmp_path) -> Path:
    """A private copy of model ``a`` (tests may damage it)."""
    return Path(shutil.copytree(models["a"], tmp_path / "src-a"))


@pytest.fixture
def reg(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "registry")


@pytest.fixture
def make_run():
    return fake_run


def fake_run(reports: Path, model: Path | None, status: str = "succeeded", notebook: str = "compare_models",
             metrics: dict | None = None) -> RunRecord:
    """A run folder ``reports/<notebook>/<run_id>/`` with ``run.json`` and (a copy of) ``model`` as
    ``artifacts/model``."""
    rec = RunRecord(run_id=new_run_id(), notebook=f"notebooks/{notebook}.ipynb", notebook_name=notebook,
                    status=status, metrics=metrics or {"roc_auc": 0.84})
    folder = reports / notebook / rec.run_id
    folder.mkdir(parents=True)
    if model is not None:
        shutil.copytree(model, folder / "artifacts" / "model")
    rec.save(folder)
    return rec
