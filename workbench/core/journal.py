"""What a notebook records for its run: metrics, curves, and the tracking journal.

``workbench.record(name, value)`` displays the value (a plain-text line plus a workbench MIME output,
so plain papermill and JupyterLab show it) and, in a headless run, appends it to the run's journal.
The journal is a JSON-lines file in the run's private work folder (see :mod:`workbench.core.context`);
after the kernel ends the runner reads metrics, curves and tracking entries from it.
"""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path
from typing import Any, Iterator

from .context import current
from .io import to_jsonable

MIME = "application/vnd.workbench.record+json"
CURVE_MIME = "application/vnd.workbench.curve+json"
_MAX_CURVE_POINTS = 500


def _to_scalar(name: str, value: Any) -> float | int | str | bool | None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"record name must be a non-empty string, got {name!r}")
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # numpy / torch scalars
        value = value.item()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return v if math.isfinite(v) else None
    raise TypeError(
        f"record({name!r}, ...) takes a number or a string, got {type(value).__name__}; "
        "record a summary value (e.g. a mean) instead of a collection"
    )


def append(entry: dict[str, Any]) -> bool:
    """Append ``entry`` to the current run's journal; False (nothing written) when not headless."""
    ctx = current()
    if ctx is None:
        return False
    with open(ctx.journal, "a", encoding="utf-8") as f:
        f.write(json.dumps(to_jsonable(entry), allow_nan=False) + "\n")
    return True


def _display(data: dict[str, Any]) -> None:
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - outside IPython
        print(data.get("text/plain", ""))
        return
    display(data, raw=True)


def record(name: str, value: Any) -> Any:
    """Record a scalar (number or string) for this run and display it.

    Parameters
    ----------
    name : metric name, e.g. ``"test_accuracy"``.
    value : a number or a string; numpy/torch scalars are converted, NaN and infinities become None.

    Returns
    -------
    The converted value.
    """
    v = _to_scalar(name, value)
    append({"kind": "record", "name": name, "value": v})
    text = f"{name} = {v:.6g}" if isinstance(v, float) else f"{name} = {v}"
    _display({MIME: {"name": name, "value": v}, "text/plain": text})
    return v


def record_curve(name: str, x: Any, y: Any, xlabel: str = "", ylabel: str = "") -> None:
    """Record a curve (e.g. ROC, a learning curve) for comparison pages; it is not displayed.

    Parameters
    ----------
    name : curve name; curves with the same name overlay on ``workbench compare`` pages.
    x, y : equal-length sequences of numbers (long curves are thinned to 500 points).
    """
    xs = [float(v) for v in list(x)]
    ys = [float(v) for v in list(y)]
    if len(xs) != len(ys):
        raise ValueError(f"record_curve({name!r}): x has {len(xs)} points, y has {len(ys)}; they must match")
    if len(xs) > _MAX_CURVE_POINTS:
        step = len(xs) / _MAX_CURVE_POINTS
        idx = sorted({int(i * step) for i in range(_MAX_CURVE_POINTS)} | {len(xs) - 1})
        xs, ys = [xs[i] for i in idx], [ys[i] for i in idx]
    payload = {"name": name, "x": xs, "y": ys, "xlabel": xlabel, "ylabel": ylabel}
    if not append({"kind": "curve", **payload}):
        _display({CURVE_MIME: payload, "text/plain": ""})


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    """The entries of a journal file, in order (a torn last line, from a killed kernel, is skipped)."""
    p = Path(path)
    if not p.exists():
        return []
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def journal_records(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Recorded values from journal entries, last one wins."""
    return {e["name"]: e["value"] for e in entries if e.get("kind") == "record"}


def journal_curves(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Recorded curves from journal entries, by name."""
    return {e["name"]: {k: e.get(k) for k in ("x", "y", "xlabel", "ylabel")}
            for e in entries if e.get("kind") == "curve"}


def _outputs(nb: Any, types: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    if not hasattr(nb, "cells"):
        import nbformat

        nb = nbformat.read(str(nb), as_version=4)
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if o.get("output_type") in types:
                yield o.get("data", {})


def read_records(nb: Any) -> dict[str, Any]:
    """Values recorded in a notebook executed outside workbench (plain papermill), last one wins."""
    out: dict[str, Any] = {}
    for data in _outputs(nb, ("display_data", "execute_result")):
        if MIME in data:
            payload = data[MIME]
            payload = json.loads(payload) if isinstance(payload, str) else payload
            out[payload["name"]] = payload["value"]
    return out


def read_curves(nb: Any) -> dict[str, dict[str, Any]]:
    """Curves recorded in a notebook executed outside workbench, by name."""
    out: dict[str, dict[str, Any]] = {}
    for data in _outputs(nb, ("display_data",)):
        if CURVE_MIME in data:
            payload = data[CURVE_MIME]
            payload = json.loads(payload) if isinstance(payload, str) else payload
            out[payload["name"]] = {k: payload.get(k) for k in ("x", "y", "xlabel", "ylabel")}
    return out
