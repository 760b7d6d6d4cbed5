"""Pages rendered from Jinja templates (``templates/pages``): the report header, the index, comparison
pages. Autoescaping is on: every value from a record or a notebook is escaped."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ..core.text import fmt

TEMPLATES = Path(__file__).parent / "templates"

CSS = """
.wb-header{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;border:1px solid #d0d7de;
 border-radius:8px;padding:12px 16px;margin:12px 0 20px;background:#f6f8fa;font-size:14px;line-height:1.45}
.wb-header h1{font-size:20px;margin:0 0 6px}
.wb-status{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600;font-size:12px;
 vertical-align:middle}
.wb-status-succeeded{background:#1a7f37}.wb-status-failed{background:#cf222e}
.wb-status-interrupted,.wb-status-running{background:#9a6700}.wb-status-cached{background:#0969da}
.wb-error-box{border:1px solid #cf222e;background:#ffebe9;border-radius:6px;padding:8px 12px;margin:8px 0}
.wb-kv{border-collapse:collapse;margin:6px 0}.wb-kv td,.wb-kv th{border:1px solid #d0d7de;padding:2px 8px;
 text-align:left;font-size:13px;vertical-align:top}
.wb-kv th{background:#eaeef2}
.wb-cmd{display:block;white-space:pre-wrap;word-break:break-all;background:#fff;border:1px solid #d0d7de;
 padding:4px 8px;border-radius:4px;font-size:12px}
.wb-widget{margin:2px 0;font-family:system-ui,sans-serif;font-size:13px}
.wb-widget-label{font-weight:600;margin-right:4px}
.wb-muted{color:#57606a}
.wb-note-box{border-left:4px solid #0969da;background:#fff;padding:4px 10px;margin:6px 0}
"""


@functools.lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES / "pages")), autoescape=True)
    env.filters["fmt"] = fmt
    return env


def render(name: str, **context: Any) -> str:
    """The page ``templates/pages/<name>`` rendered with ``context`` (and the shared CSS as ``css``)."""
    return environment().get_template(name).render(css=CSS, **context)
