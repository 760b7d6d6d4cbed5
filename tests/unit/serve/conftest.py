"""Model folders shared by the serving tests (built once per session: a fit, a network, a fake recommender)."""

from __future__ import annotations

from pathlib import Path

import pytest
from serve_support import build_recommender, build_vision, fake_recommender_kind, fit_churn


@pytest.fixture(scope="session")
def churn_dir(tmp_path_factory) -> Path:
    return fit_churn(tmp_path_factory.mktemp("models") / "churn")


@pytest.fixture(scope="session")
def vision_dir(tmp_path_factory) -> Path:
    return build_vision(tmp_path_factory.mktemp("models") / "parts")


@pytest.fixture
def recsys_dir(tmp_path) -> Path:
    with fake_recommender_kind():
        yield build_recommender(tmp_path / "recs")


@pytest.fixture
def config_for(tmp_path):
    """A ServeConfig for (name, folder) pairs, logging under tmp_path."""
    from workbench.serve import ServeConfig

    def make(*models, **kw):
        kw.setdefault("log_dir", str(tmp_path / "logs"))
        return ServeConfig(models=[(n, str(d)) for n, d in models], **kw).check()

    return make
