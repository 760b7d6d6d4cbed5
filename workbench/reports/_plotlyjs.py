"""A smaller plotly.js in reports whose figures need no more than the basic trace types.

plotly.py inlines its full bundle (4.8 MB) with the first figure of a notebook. A report whose
figures only draw ``scatter``, ``bar`` and ``pie`` traces gets plotly.js's own "basic" partial
bundle (1.2 MB, every layout component included) instead, when both are the same plotly.js version;
anything else keeps the full bundle. The trace types are read from each figure's
``Plotly.newPlot`` call as JSON, never guessed.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path

BASIC_TYPES = frozenset({"scatter", "bar", "pie"})
BASIC_BUNDLE = Path(__file__).parent / "static" / "plotly-basic.min.js.gz"
_VERSION = re.compile(r"plotly\.js(?: \([^)]*\))? v(\d+\.\d+\.\d+)")
_NEWPLOT = re.compile(r"Plotly\.newPlot\(\s*\"[^\"]*\"\s*,\s*")
_BUNDLE_START = "<script>/**"


@functools.lru_cache(maxsize=1)
def basic_bundle() -> str:
    """The basic plotly.js bundle (decompressed once per process); empty when it is not installed."""
    try:
        return gzip.decompress(BASIC_BUNDLE.read_bytes()).decode("utf-8")
    except OSError:
        return ""


def bundle_version(js: str) -> str | None:
    """The version in a plotly.js bundle's header comment."""
    m = _VERSION.search(js[:400])
    return m.group(1) if m else None


def trace_types(html: str) -> set[str] | None:
    """The trace types of every ``Plotly.newPlot`` call in ``html``; None when one cannot be read."""
    types: set[str] = set()
    decoder = json.JSONDecoder()
    for m in _NEWPLOT.finditer(html):
        try:
            data, _ = decoder.raw_decode(html, m.end())
        except ValueError:
            return None
        if not isinstance(data, list):
            return None
        types |= {t.get("type", "scatter") if isinstance(t, dict) else "?" for t in data}
    return types


def _html(out: dict) -> str | None:
    data = out.get("data") or {}
    text = data.get("text/html")
    return None if text is None else ("".join(text) if isinstance(text, list) else text)


def slim_plotlyjs(nb) -> bool:
    """Swap the inlined full plotly.js of an executed notebook for the basic bundle when every figure
    fits it (same version, only basic trace types); True when swapped."""
    bundle_out, types = None, set()
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            html = _html(out)
            if html is None:
                continue
            if _BUNDLE_START in html and "window.PlotlyConfig" in html and len(html) > 1_000_000:
                bundle_out = (out, html)
            elif "Plotly.newPlot(" in html:
                found = trace_types(html)
                if found is None:
                    return False
                types |= found
    slim = basic_bundle()
    if bundle_out is None or not types <= BASIC_TYPES or not slim:
        return False
    out, html = bundle_out
    start = html.index(_BUNDLE_START) + len("<script>")
    end = html.rindex("</script>")
    if bundle_version(html[start:end]) != bundle_version(slim) or bundle_version(slim) is None:
        return False
    out["data"]["text/html"] = html[:start] + slim + html[end:]
    return True
