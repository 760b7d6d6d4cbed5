"""Static HTML for ipywidgets from their saved state, so reports show widgets without a CDN.

nbclient stores the widget state of an executed notebook in its metadata. The HTML widget manager
that would render it live is a JavaScript bundle fetched from a CDN, blank offline; this module
draws each widget as plain, disabled HTML controls with their last values instead.
"""

from __future__ import annotations

import html
from typing import Any

VIEW_MIME = "application/vnd.jupyter.widget-view+json"
STATE_MIME = "application/vnd.jupyter.widget-state+json"
_MAX_DEPTH = 30


def widget_state(nb) -> dict[str, Any]:
    return nb.get("metadata", {}).get("widgets", {}).get(STATE_MIME, {}).get("state", {}) or {}


def _esc(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _ref(child: Any) -> str | None:
    return child[len("IPY_MODEL_"):] if isinstance(child, str) and child.startswith("IPY_MODEL_") else None


def render_output(out: dict[str, Any]) -> str:
    """One notebook output (as stored in an Output widget) as HTML."""
    kind = out.get("output_type")
    if kind == "stream":
        return f'<pre class="wb-stream">{_esc(out.get("text", ""))}</pre>'
    if kind == "error":
        return f'<pre class="wb-error">{_esc(out.get("ename"))}: {_esc(out.get("evalue"))}</pre>'
    data = out.get("data", {})
    if "text/html" in data:
        v = data["text/html"]
        return "".join(v) if isinstance(v, list) else str(v)
    if "image/svg+xml" in data:
        v = data["image/svg+xml"]
        return "".join(v) if isinstance(v, list) else str(v)
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            return f'<img src="data:{mime};base64,{str(data[mime]).strip()}"/>'
    if "text/plain" in data:
        v = data["text/plain"]
        return f"<pre>{_esc(''.join(v) if isinstance(v, list) else v)}</pre>"
    return ""


def _label(s: dict[str, Any]) -> str:
    d = s.get("description")
    return f'<label class="wb-widget-label">{_esc(d)}</label> ' if d else ""


def render_widget(model_id: str, state: dict[str, Any], depth: int = 0) -> str:
    """HTML for the widget ``model_id`` and its children, from the saved ``state``."""
    entry = state.get(model_id)
    if entry is None or depth > _MAX_DEPTH:
        return '<span class="wb-widget wb-widget-missing">[widget state not saved]</span>'
    s = entry.get("state", {})
    name = (s.get("_model_name") or entry.get("model_name") or "").removesuffix("Model")
    kids = [_ref(c) for c in s.get("children", []) or []]
    inner = ""
    if name in ("VBox", "HBox", "Box", "GridBox", "Tab", "Accordion", "Stack"):
        parts = [render_widget(k, state, depth + 1) for k in kids if k]
        if name in ("Tab", "Accordion", "Stack"):
            titles = s.get("titles") or []
            sel = s.get("selected_index")
            parts = [
                f'<details class="wb-pane"{" open" if i == sel or sel is None else ""}>'
                f'<summary>{_esc(titles[i] if i < len(titles) and titles[i] else f"Tab {i + 1}")}</summary>{p}</details>'
                for i, p in enumerate(parts)
            ]
        direction = "row" if name == "HBox" else "column"
        inner = f'<div style="display:flex;flex-direction:{direction};gap:6px;flex-wrap:wrap">{"".join(parts)}</div>'
    elif name == "Output":
        inner = "".join(render_output(o) for o in s.get("outputs", []) or [])
    elif name.endswith("Slider") or name.endswith("RangeSlider"):
        v = s.get("value")
        if isinstance(v, list):
            inner = f'{_label(s)}<span class="wb-range">{_esc(v[0])} – {_esc(v[-1])}</span>'
        else:
            inner = (f'{_label(s)}<input type="range" disabled min="{_esc(s.get("min"))}" '
                     f'max="{_esc(s.get("max"))}" step="{_esc(s.get("step"))}" value="{_esc(v)}"/> '
                     f'<output>{_esc(v)}</output>')
    elif name in ("Dropdown", "Select", "RadioButtons", "ToggleButtons", "SelectionSlider"):
        labels, idx = s.get("_options_labels", []) or [], s.get("index")
        opts = "".join(f'<option{" selected" if i == idx else ""}>{_esc(o)}</option>' for i, o in enumerate(labels))
        inner = f"{_label(s)}<select disabled>{opts}</select>"
    elif name in ("SelectMultiple",):
        labels, idx = s.get("_options_labels", []) or [], set(s.get("index") or [])
        opts = "".join(f'<option{" selected" if i in idx else ""}>{_esc(o)}</option>' for i, o in enumerate(labels))
        inner = f"{_label(s)}<select multiple disabled>{opts}</select>"
    elif name in ("Checkbox", "ToggleButton", "Valid"):
        inner = f'{_label(s)}<input type="checkbox" disabled{" checked" if s.get("value") else ""}/>'
    elif name == "Button":
        inner = f'<button disabled>{_esc(s.get("description") or "button")}</button>'
    elif name in ("HTML", "HTMLMath"):
        inner = f'{_label(s)}{s.get("value", "")}'
    elif name == "Label":
        inner = f'<span>{_esc(s.get("value"))}</span>'
    elif name in ("IntProgress", "FloatProgress"):
        inner = (f'{_label(s)}<progress max="{_esc(s.get("max"))}" value="{_esc(s.get("value"))}"></progress>')
    elif name == "Image":
        v = s.get("value")
        fmt = s.get("format", "png")
        inner = (f'<img src="data:image/{_esc(fmt)};base64,{v}"/>' if isinstance(v, str) and v
                 else "[image]")
    elif "value" in s:
        inner = f'{_label(s)}<input type="text" disabled value="{_esc(s.get("value"))}"/>'
    else:
        inner = f"<span>[{_esc(name or 'widget')}]</span>"
    return f'<div class="wb-widget" data-widget="{_esc(name)}">{inner}</div>'


def staticize_widgets(nb) -> int:
    """Replace every widget view output in ``nb`` by a static HTML rendering; return how many.

    The notebook is changed in place; the widget state in the metadata is removed so that
    nbconvert does not add its CDN-loading widget script.
    """
    state = widget_state(nb)
    count = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            data = out.get("data") or {}
            if VIEW_MIME not in data:
                continue
            view = data[VIEW_MIME]
            model_id = view.get("model_id") if isinstance(view, dict) else None
            rendered = render_widget(model_id, state) if model_id else ""
            new = {"text/html": rendered}
            if "text/plain" in data:
                new["text/plain"] = data["text/plain"]
            out["data"] = new
            count += 1
    nb.get("metadata", {}).pop("widgets", None)
    return count


