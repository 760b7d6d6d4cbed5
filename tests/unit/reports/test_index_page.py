"""``reports/index.html`` from the run index: first page server-rendered, every run embedded as JSON,
filtered, sorted and paged by its script offline (headless Chromium, file://, network refused)."""

import re
from pathlib import Path

from support import render_dom

from workbench.core.io import write_json
from workbench.core.runstore import RunStore
from workbench.reports import update_index


def _tree(reports: Path, n: int = 130) -> list[str]:
    ids = []
    for i in range(n):
        rid = f"20260101T{i // 60:02d}{i % 60:02d}00000Z-{i:06x}"
        d = reports / ("compare_models" if i % 2 else "explore") / rid
        d.mkdir(parents=True)
        write_json(d / "run.json", {"run_id": rid, "notebook_name": d.parent.name, "status":
                                    "failed" if i % 5 == 0 else "succeeded", "started": f"2026-01-01T{i:05d}",
                                    "params": {"folds": i % 7, "note": "</script><script>document.title='PWNED'"},
                                    "metrics": {"auc": round(i / n, 4)}})
        ids.append(rid)
    RunStore(reports).label(ids[7], add=("keep",))
    return ids


def _rows(dom: str) -> list[str]:
    body = dom.split('<tbody id="rows">', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<code>([^<]+)</code>", body)


def test_index_page_pages_filters_and_sorts_offline(tmp_path: Path):
    reports = tmp_path / "reports"
    ids = _tree(reports)
    page = update_index(reports)
    html = page.read_text()
    assert html.count("<tr>") == 1 + 50, "the header and the first page of rows, server-rendered"
    assert "</script><script>document.title" not in html and "\\u003c/script\\u003e" in html

    dom = render_dom(page)
    assert "PWNED" not in dom.split("<body")[0]
    assert _rows(dom) == ids[::-1][:50] and 'data-shown="130"' in dom and "rows 1-50 of 130" in dom

    dom = render_dom(page, fragment="page=2")
    assert _rows(dom) == ids[::-1][100:] and "rows 101-130 of 130" in dom

    dom = render_dom(page, fragment="notebook=compare_models&status=failed&field=metrics.auc&min=0.2&max=0.8&sort=-v")
    expected = sorted((i for i in range(130) if i % 2 and i % 5 == 0 and 0.2 <= round(i / 130, 4) <= 0.8),
                      key=lambda i: -i)
    assert _rows(dom) == [ids[i] for i in expected] and f'data-shown="{len(expected)}"' in dom

    dom = render_dom(page, fragment="tag=keep")
    assert _rows(dom) == [ids[7]]
    dom = render_dom(page, fragment=f"q={ids[42][-6:]}")
    assert _rows(dom) == [ids[42]]
