"""Shared fixtures (helpers live in ``support.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import make_notebook


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory for a CLI run (reports/ lands here)."""
    return tmp_path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with a small CSV and a notebook that sums one of its columns (the run cache's tests)."""
    (tmp_path / "table.csv").write_text("x\n1\n2\n3\n")
    make_notebook(tmp_path / "sum.ipynb", 'path = "table.csv"  # input file\nfactor = 2  # multiplier',
                  "import pandas as pd, workbench\ndf = pd.read_csv(path)",
                  "workbench.record('total', float(df['x'].sum() * factor))")
    return tmp_path


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch) -> None:
    """The run cache's private salt (and anything else under ~/.cache) goes to a temporary folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
