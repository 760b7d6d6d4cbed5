"""Tables for the report: DataFrames whose notebook display never cuts text (titles, settings, notes)."""

from __future__ import annotations

import pandas as pd


class FullTable(pd.DataFrame):
    """A ``pandas.DataFrame`` shown in full in notebooks and reports (pandas cuts cells at 50 characters)."""

    @property
    def _constructor(self):
        return FullTable

    def _repr_html_(self) -> str | None:
        with pd.option_context("display.max_colwidth", None, "display.max_rows", 500, "display.max_columns", 60):
            return super()._repr_html_()


def full(frame: pd.DataFrame) -> FullTable:
    """``frame`` as a :class:`FullTable`."""
    return FullTable(frame)
