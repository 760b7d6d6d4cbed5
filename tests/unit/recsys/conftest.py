"""Fixtures of the recsys unit tests: slices of the real MovieLens ratings (dslabs/movielens)."""

from __future__ import annotations

import pandas as pd
import pytest

import workbench
from workbench import recsys

COLUMNS = dict(user_col="userId", item_col="movieId", rating_col="rating", time_col="timestamp")


@pytest.fixture(scope="session")
def movielens() -> pd.DataFrame:
    return workbench.load_dataset("movielens").frame


@pytest.fixture(scope="session")
def small(movielens) -> pd.DataFrame:
    """The first 100 users: 15,298 ratings of 4,382 movies."""
    return movielens[movielens["userId"] <= 100].reset_index(drop=True)


@pytest.fixture(scope="session")
def small_data(small) -> recsys.Interactions:
    return recsys.prepare_interactions(small, **COLUMNS, item_text_cols=["title", "genres"])


@pytest.fixture(scope="session")
def small_task(small_data) -> recsys.RecTask:
    return recsys.prepare_task(small_data, ["popularity", "item_knn", "svd", "als", "ease", "content", "hybrid"])
