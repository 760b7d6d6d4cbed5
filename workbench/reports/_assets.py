"""Shared report assets, stored once per reports tree: ``reports/.assets/<sha256>.{js,css}``.

A report written into the reports tree keeps its own content (header, outputs, figure data) and refers
to what every report carries alike — the plotly.js bundle, nbconvert's JupyterLab CSS — by a relative
link into the tree's asset store, named by the content's sha256. The page still opens offline by
``file://`` (classic ``<script src>`` and ``<link rel=stylesheet>`` load from disk without CORS).
:func:`inline_assets` puts the content back for one self-contained file (``workbench export``): the
asset is found by the hash in its tag's ``data-wb-asset`` attribute, never by the link, so nothing
outside ``reports/.assets`` is ever read, and its content is checked against the hash.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ..core.io import atomic_write_bytes
from ..core.runfolder import href
from ..errors import WorkbenchError

ASSETS = ".assets"
MIN_CSS = 8192
"""A head ``<style>`` block this large (nbconvert's theme CSS) becomes an asset; smaller ones stay."""

_SCRIPT = re.compile(r"<script>(/\*\*\s*\* plotly\.js.*?)</script>", re.S)
_STYLE = re.compile(r'<style type="text/css">(.*?)</style>', re.S)
_REF = re.compile(r'<script data-wb-asset="([0-9a-f]{64}\.js)" src="[^"]*"></script>'
                  r'|<link rel="stylesheet" data-wb-asset="([0-9a-f]{64}\.css)" href="[^"]*">')


def asset_dir(reports: str | Path) -> Path:
    return Path(reports) / ASSETS


def _store(reports: Path, body: str, ext: str) -> str:
    data = body.encode("utf-8")
    name = f"{hashlib.sha256(data).hexdigest()}.{ext}"
    path = asset_dir(reports) / name
    if not (path.is_file() and path.stat().st_size == len(data)):
        atomic_write_bytes(path, data, mode=0o444)  # concurrent writers write the same bytes
    return name


def externalize(html: str, page_dir: str | Path, reports: str | Path) -> str:
    """``html`` (a page to be written in ``page_dir``) with plotly.js bundles and large head CSS blocks
    moved into the asset store of ``reports`` and linked relatively; the run's own content stays. A page
    outside the tree keeps everything inline: a link never leads out of the reports tree."""
    reports, page_dir = Path(reports), Path(page_dir)
    if not page_dir.resolve().is_relative_to(reports.resolve()):
        return html
    rel = href(os.path.relpath(asset_dir(reports).resolve(), page_dir.resolve()))

    def script(m: re.Match) -> str:
        name = _store(reports, m.group(1), "js")
        return f'<script data-wb-asset="{name}" src="{rel}/{name}"></script>'

    def style(m: re.Match) -> str:
        if len(m.group(1)) < MIN_CSS:
            return m.group(0)
        name = _store(reports, m.group(1), "css")
        return f'<link rel="stylesheet" data-wb-asset="{name}" href="{rel}/{name}">'

    head_end = html.find("</head>")
    head_end = len(html) if head_end < 0 else head_end
    head = _STYLE.sub(style, html[:head_end])
    return _SCRIPT.sub(script, head + html[head_end:])


def rebase(html: str, page_dir: str | Path, reports: str | Path) -> str:
    """``html``'s asset links rewritten for a copy of the page written in ``page_dir`` (``latest.html``)."""
    rel = href(os.path.relpath(asset_dir(reports).resolve(), Path(page_dir).resolve()))

    def link(m: re.Match) -> str:
        if m.group(1):
            return f'<script data-wb-asset="{m.group(1)}" src="{rel}/{m.group(1)}"></script>'
        return f'<link rel="stylesheet" data-wb-asset="{m.group(2)}" href="{rel}/{m.group(2)}">'

    return _REF.sub(link, html)


def inline_assets(html: str, reports: str | Path, page: str = "the report") -> str:
    """``html`` with every asset link replaced by the asset's content: one self-contained page.

    Raises WorkbenchError naming the asset when one is missing or its content does not match its hash."""
    store = asset_dir(reports)

    def content(name: str) -> str:
        path = store / name  # the name is 64 hex digits and an extension: it cannot leave the store
        try:
            data = path.read_bytes()
        except OSError:
            raise WorkbenchError(f"{page} needs the shared asset {ASSETS}/{name}, which is missing from "
                                 f"{str(store)!r}: rerun the notebook to write the report (and its assets) "
                                 "again") from None
        if hashlib.sha256(data).hexdigest() != name.split(".")[0]:
            raise WorkbenchError(f"the shared asset {str(path)!r} does not match its hash (changed on disk): "
                                 "delete it and rerun the notebook to write it again")
        return data.decode("utf-8")

    def put_back(m: re.Match) -> str:
        if m.group(1):
            return f"<script>{content(m.group(1))}</script>"
        return f'<style type="text/css">{content(m.group(2))}</style>'

    return _REF.sub(put_back, html)
