"""HTML: the offline report of a run, the index of the reports tree, comparison pages.

All page HTML comes from the Jinja templates in ``templates/`` (the nbconvert report template and
``pages/``); ipywidgets are drawn statically from their saved state (``_widgets``).
"""

from __future__ import annotations

from ._compare import compare_html, write_compare
from ._export import export_report, header_html, render_report, self_contained, strip_remote_scripts, warm_up, write_report
from ._index import index_html, update_index
from ._notebook import slim_notebook, write_notebook
from ._widgets import render_widget, staticize_widgets

__all__ = ["compare_html", "write_compare", "export_report", "self_contained", "header_html", "render_report",
           "strip_remote_scripts", "warm_up", "write_report", "index_html", "update_index", "slim_notebook",
           "write_notebook", "render_widget", "staticize_widgets"]
