"""Display parts every domain's report uses: notes, panels of several outputs, tables shown in full,
the section guard, and the one number format (:func:`fmt`, and :func:`fmt_mean` for a mean with its
spread or interval)."""

from __future__ import annotations

import functools
import html
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import WorkbenchError


class Note:
    """A short message shown in place of (or next to) a result: ``info`` or ``warning``."""

    def __init__(self, text: str, level: str = "info"):
        self.text, self.level = text, level

    def _repr_html_(self) -> str:
        color = {"info": "#0969da", "warning": "#9a6700", "error": "#cf222e"}.get(self.level, "#57606a")
        return (f'<div class="wb-note wb-note-{self.level}" style="border-left:4px solid {color};'
                f'padding:4px 10px;margin:4px 0;background:#f6f8fa">{html.escape(self.text)}</div>')

    def __repr__(self) -> str:
        return f"[{self.level}] {self.text}"


class Panel:
    """Several displayable parts (notes, tables, figures) shown in order by one notebook cell."""

    def __init__(self, *parts: Any):
        self.parts = [p for p in parts if p is not None]

    def notes(self) -> list[Note]:
        return [p for p in self.parts if isinstance(p, Note)]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        with pd.option_context("display.max_rows", 2000, "display.max_columns", 60,  # alerts are never cut
                               "display.max_colwidth", 200):
            for p in self.parts:
                display(p)

    def __repr__(self) -> str:
        return "\n".join(repr(p) if isinstance(p, Note) else f"<{type(p).__name__}>" for p in self.parts)


def section(title: str) -> Callable:
    """Turn an unexpected error inside a section method into an error note, so one odd column cannot
    stop the rest of the report; the failure is kept in the object's ``failures`` list."""
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except WorkbenchError:  # a bad argument from the caller: say so, loudly
                raise
            except Exception as e:  # noqa: BLE001 - reported in the notebook instead
                self.failures.append(f"{title}: {type(e).__name__}: {e}")
                return Note(f"{title} could not be computed for this table ({type(e).__name__}: {e}); "
                            "the other sections are unaffected", "error")
        return inner
    return wrap


def fmt(v: Any) -> str:
    """A value for a display table: floats to 4 significant digits, missing values blank."""
    if isinstance(v, (float, np.floating)):
        return "" if np.isnan(v) else f"{v:.4g}"
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def fmt_mean(mean: float, std: float | None = None, lo: float | None = None, hi: float | None = None,
             digits: int = 4) -> str:
    """A mean for a leaderboard, to ``digits`` decimals: ``mean ± std`` or ``mean [lo, hi]`` (an
    interval), blank when the mean is missing."""
    if mean is None or not np.isfinite(mean):
        return ""
    if lo is not None and hi is not None:
        return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


class FullTable(pd.DataFrame):
    """A ``pandas.DataFrame`` shown in full in notebooks and reports (pandas cuts cells at 50 characters)."""

    @property
    def _constructor(self):
        return FullTable

    def _repr_html_(self) -> str | None:
        with pd.option_context("display.max_colwidth", None, "display.max_rows", 500, "display.max_columns", 60):
            return super()._repr_html_()


def full(frame: pd.DataFrame) -> FullTable:
    """``frame`` as a :class:`FullTable` (titles, settings and notes are never cut)."""
    return FullTable(frame)
