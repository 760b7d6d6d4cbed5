"""The display parts every domain shares: one number format, tables shown in full, notes and panels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.evaluation import FullTable, Note, Panel, fmt, fmt_mean, full


def test_fmt_gives_four_significant_digits_and_blanks_missing_values():
    assert [fmt(v) for v in (0.123456, 12345.678, np.float32(2.5), 3, "text")] == ["0.1235", "1.235e+04", "2.5", "3",
                                                                                   "text"]
    assert [fmt(v) for v in (float("nan"), None, pd.NA, np.nan)] == ["", "", "", ""]


def test_fmt_mean_with_a_spread_or_an_interval():
    assert fmt_mean(0.84123, 0.01234) == "0.8412 ± 0.0123"
    assert fmt_mean(0.84123, lo=0.8, hi=0.9) == "0.8412 [0.8000, 0.9000]"
    assert fmt_mean(1.5, 0.25, digits=2) == "1.50 ± 0.25"
    assert fmt_mean(0.5) == "0.5000"
    assert fmt_mean(float("nan"), 0.1) == "" and fmt_mean(None) == ""


def test_full_tables_never_cut_long_text():
    text = "x" * 120
    plain = pd.DataFrame({"settings": [text]})
    assert text not in plain._repr_html_()  # pandas cuts cells at 50 characters
    table = full(plain)
    assert isinstance(table, FullTable) and text in table._repr_html_()
    assert isinstance(table.head(1), FullTable)  # slices stay full tables


def test_panel_keeps_its_parts_in_order_without_the_missing_ones():
    note, frame = Note("hello", "warning"), pd.DataFrame({"a": [1]})
    panel = Panel(note, None, frame)
    assert panel.parts == [note, frame] and panel.notes() == [note]
    assert repr(panel) == "[warning] hello\n<DataFrame>"
