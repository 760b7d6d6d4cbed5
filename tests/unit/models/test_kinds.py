"""Model kinds: the built-in ones declared once, in code; other packages' kinds through entry points."""

from __future__ import annotations

import importlib.metadata
import json
import tomllib
from pathlib import Path

import pytest
from serve_support import build_recommender

from workbench.errors import ModelError
from workbench.models import KINDS, load

REPO = Path(__file__).resolve().parents[3]


def test_built_in_kinds_are_declared_in_code_only(monkeypatch):
    def no_entry_points(**kw):
        raise AssertionError(f"entry points read: {kw}")

    monkeypatch.setattr(importlib.metadata, "entry_points", no_entry_points)
    for kind in ("tabular", "vision", "recommender"):
        assert KINDS.registered(kind) and callable(KINDS.get(kind))  # found without reading entry points
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "workbench.model_kinds" not in pyproject.get("entry-points", {})


def test_another_package_adds_a_kind_through_entry_points(tmp_path, monkeypatch):
    folder = build_recommender(tmp_path / "toy")
    card = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**card, "kind": "toy"}))
    with pytest.raises(ModelError, match="unknown model kind 'toy'; choose one of: tabular, vision, recommender"):
        load(folder)
    toy = importlib.metadata.EntryPoint(name="toy", value="serve_support:FakeRecommender", group="workbench.model_kinds")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [toy] if group == "workbench.model_kinds" else [])
    monkeypatch.setattr(KINDS, "_loaded", False)
    try:
        model = load(folder)
        assert type(model).__name__ == "FakeRecommender" and model.profile(1)["items"] == ["item0", "item1"]
    finally:
        KINDS.unregister("toy")
