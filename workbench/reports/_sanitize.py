"""Notebook HTML in a report is untrusted: a ``<script>`` in a markdown cell or an HTML output must not
run when someone opens a shared report.

By default (``trust_html=False``) the exporter sanitizes with nh3 (the Rust ``ammonia`` sanitizer) every
piece of HTML the notebook supplied: markdown cells' rendered HTML, ``text/html`` and ``text/markdown``
outputs, ipywidgets' HTML values and Output widgets' outputs; ``application/javascript`` outputs are
dropped. Tables, styles, images and links stay; scripts, event handlers and ``javascript:`` links go.

Two kinds of output keep their scripts, because workbench writes those scripts itself:

- a plotly figure is *rebuilt*: its ``Plotly.newPlot`` arguments are read as JSON and written back
  into a script of our own (JSON re-encoded with ``<``, ``>``, ``&`` and ``/`` escaped), so nothing but
  figure data travels from the notebook into the script;
- the inlined plotly.js bundle is kept only when it is byte for byte the installed plotly's own.

Those outputs, and the static widget HTML built from cleaned widget state, are marked with a per-render
random token the notebook cannot know; the template leaves only marked outputs unsanitized.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
from typing import Any

import nh3

TRUST_KEY = "workbench_trusted"
_GENERIC_ATTRS = {"class", "id", "style", "title", "lang", "dir", "align", "valign", "border", "width", "height",
                  "colspan", "rowspan", "scope", "role", "start", "type", "open"}
_TAGS = (set(nh3.ALLOWED_TAGS) | {"style", "details", "summary", "caption", "col", "colgroup"}) - {"script"}
_ATTRS = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
_ATTRS["*"] = _GENERIC_ATTRS
_ATTRS.setdefault("img", set()).update({"src", "alt", "width", "height"})
_SCHEMES = set(nh3.ALLOWED_URL_SCHEMES) | {"data"}


def clean_html(text: Any) -> str:
    """``text`` (HTML) with scripts, event handlers, ``javascript:`` URLs and unknown tags removed."""
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return nh3.clean(text, tags=_TAGS, clean_content_tags={"script"}, attributes=_ATTRS, url_schemes=_SCHEMES,
                     strip_comments=True, link_rel="noopener noreferrer")


def new_token() -> str:
    return secrets.token_hex(16)


# -- plotly -----------------------------------------------------------------------------------------
_OUTER = re.compile(r'\s*<div style="([\w\s:;%.#-]*)">')
_FIGURE = re.compile(
    r'<div id="([0-9A-Za-z-]{1,64})" class="plotly-graph-div" style="([\w\s:;%.#-]*)"></div>\s*<script[^>]*>\s*'
    r'window\.PLOTLYENV=window\.PLOTLYENV \|\| \{\};\s*if \(document\.getElementById\("\1"\)\) \{\s*'
    r'Plotly\.newPlot\(\s*"\1",\s*')
_FRAMES = re.compile(r"\s*\)\.then\(function\(\)\{\s*Plotly\.addFrames\('([0-9A-Za-z-]{1,64})',\s*")
_BUNDLE_OPEN = "<script>/**"


def _js_json(value: Any) -> str:
    """JSON safe inside a ``<script>``: only data, no ``</script>`` or HTML comment can appear."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("/", "\\u002f")


def _read_args(html: str, at: int, n: int) -> tuple[list[Any], int] | None:
    decoder, values = json.JSONDecoder(), []
    for i in range(n):
        try:
            value, at = decoder.raw_decode(html, at)
        except ValueError:
            return None
        values.append(value)
        rest = re.compile(r"\s*,\s*").match(html, at)
        if i < n - 1:
            if rest is None:
                return None
            at = rest.end()
    return values, at


def rebuild_figure(html: str) -> str | None:
    """A plotly figure output written again from its JSON arguments alone; None when ``html`` is not one."""
    outer, figure = _OUTER.match(html), _FIGURE.search(html)
    if figure is None:
        return None
    div_id, style = figure.group(1), figure.group(2)
    args = _read_args(html, figure.end(), 3)
    if args is None:
        return None
    (data, layout, config), at = args
    frames = ""
    more = _FRAMES.match(html, at)
    if more is not None and more.group(1) == div_id:
        got = _read_args(html, more.end(), 1)
        if got is None:
            return None
        frames = f".then(function(){{Plotly.addFrames(\"{div_id}\", {_js_json(got[0][0])});}})"
    if not (isinstance(data, list) and isinstance(layout, dict) and isinstance(config, dict)):
        return None
    try:
        call = f'Plotly.newPlot("{div_id}", {_js_json(data)}, {_js_json(layout)}, {_js_json(config)}){frames}'
    except ValueError:
        return None
    wrapper = outer.group(1) if outer else "width:100%;"
    return (f'<div style="{wrapper}"><div id="{div_id}" class="plotly-graph-div" style="{style}"></div>'
            f'<script type="text/javascript">if (window.Plotly) {{ {call}; }}</script></div>')


@functools.lru_cache(maxsize=1)
def _installed_plotlyjs() -> str:
    try:
        from plotly.offline import get_plotlyjs

        return get_plotlyjs()
    except Exception:  # plotly missing or broken: no bundle is trusted
        return ""


def rebuild_bundle(html: str) -> str | None:
    """The inlined plotly.js output written again, when its script is exactly the installed bundle."""
    if _BUNDLE_OPEN not in html or "window.PlotlyConfig" not in html or len(html) < 100_000:
        return None
    start = html.index(_BUNDLE_OPEN) + len("<script>")
    end = html.rfind("</script>")
    bundle = _installed_plotlyjs()
    if end < start or not bundle or html[start:end] != bundle:
        return None
    return f"<script>window.PlotlyConfig = {{MathJaxConfig: 'local'}};</script>\n<script>{bundle}</script>"


# -- outputs and widgets ------------------------------------------------------------------------------
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def clean_output_data(data: dict[str, Any]) -> bool:
    """Make one output's mime bundle safe in place; True when its ``text/html`` is a rebuilt plotly output
    (trusted as it is), False when the template must still sanitize it."""
    if data.pop("application/javascript", None) is not None and not data:
        data["text/plain"] = "[JavaScript output not shown: the report is sanitized (--trust-html shows it)]"
    for mime in ("image/png", "image/jpeg"):
        if mime in data and not _BASE64.fullmatch(_text(data[mime])):
            data.pop(mime)
    if "text/html" not in data:
        return False
    html = _text(data["text/html"])
    rebuilt = rebuild_bundle(html) or rebuild_figure(html)
    if rebuilt is not None:
        data["text/html"] = rebuilt
        return True
    return False


def _clean_widget_output(out: dict[str, Any]) -> dict[str, Any]:
    """An Output widget's output, safe to draw raw (the static widget HTML is not sanitized again)."""
    data = out.get("data")
    if not isinstance(data, dict):
        return out
    data = dict(data)
    data.pop("image/svg+xml", None)  # drawn inline by the widget renderer: an SVG can hold a script
    if not clean_output_data(data) and "text/html" in data:
        data["text/html"] = clean_html(_text(data["text/html"]))
    return {**out, "data": data}


def clean_widget_state(state: dict[str, Any]) -> None:
    """Sanitize, in place, what the static widget renderer draws unescaped: HTML widget values, Output
    widget outputs and Image widget data."""
    for entry in state.values():
        s = entry.get("state") if isinstance(entry, dict) else None
        if not isinstance(s, dict):
            continue
        name = (s.get("_model_name") or entry.get("model_name") or "").removesuffix("Model")
        if name in ("HTML", "HTMLMath"):
            s["value"] = clean_html(s.get("value", ""))
        elif name == "Output":
            s["outputs"] = [_clean_widget_output(o) for o in s.get("outputs", []) or [] if isinstance(o, dict)]
        elif name == "Image":
            if not (isinstance(s.get("value"), str) and _BASE64.fullmatch(s["value"])):
                s["value"] = ""
            if not re.fullmatch(r"[A-Za-z0-9.+-]{1,16}", str(s.get("format", "png"))):
                s["format"] = "png"


def mark_trusted_outputs(nb, token: str, view_mime: str) -> None:
    """Rebuild plotly outputs and mark them, and the widget views about to be drawn statically, with
    ``token``; every other output loses any mark it came with."""
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not isinstance(data, dict):
                continue
            meta = out.setdefault("metadata", {})
            meta.pop(TRUST_KEY, None)
            if clean_output_data(data) or view_mime in data:
                meta[TRUST_KEY] = token
