"""``workbench.record``: values a notebook records for its run, and reading them back.

A recorded value is published as a display output with a workbench MIME type (plus a plain-text
rendering). Interactively the user sees the text; headless, the runner reads the outputs of the
executed notebook back into ``run.json``. No file is written and no global state is kept, so a
notebook behaves the same under ``workbench run``, plain ``papermill`` and JupyterLab.
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

MIME = "application/vnd.workbench.record+json"
CURVE_MIME = "application/vnd.workbench.curve+json"


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
        return None if math.isnan(v) else v
    raise TypeError(
        f"record({name!r}, ...) takes a number or a string, got {type(value).__name__}; "
        "record a summary value (e.g. a mean) instead of a collection"
    )


def record(name: str, value: Any) -> Any:
    """Record a scalar (number or string) for this run and display it.

    Parameters
    ----------
    name : str
        Metric name, e.g. ``"test_accuracy"``.
    value : number or str
        The value; numpy/torch scalars are converted.

    Returns
    -------
    The converted value.
    """
    v = _to_scalar(name, value)
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - outside IPython
        print(f"{name} = {v!r}")
        return v
    text = f"{name} = {v:.6g}" if isinstance(v, float) else f"{name} = {v}"
    display({MIME: {"name": name, "value": v}, "text/plain": text}, raw=True)
    return v


def read_records(nb: Any) -> dict[str, Any]:
    """Values recorded in an executed notebook (a ``nbformat`` node or a path), last one wins."""
    if not hasattr(nb, "cells"):
        import nbformat

        nb = nbformat.read(str(nb), as_version=4)
    out: dict[str, Any] = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = o.get("data", {}) if o.get("output_type") in ("display_data", "execute_result") else {}
            if MIME in data:
                payload = data[MIME]
                if isinstance(payload, str):
                    payload = json.loads(payload)
                out[payload["name"]] = payload["value"]
    return out


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
    if len(xs) > 500:
        step = len(xs) / 500
        idx = sorted({int(i * step) for i in range(500)} | {len(xs) - 1})
        xs, ys = [xs[i] for i in idx], [ys[i] for i in idx]
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover
        return
    payload = {"name": name, "x": xs, "y": ys, "xlabel": xlabel, "ylabel": ylabel}
    display({CURVE_MIME: payload, "text/plain": ""}, raw=True)


def read_curves(nb: Any) -> dict[str, dict[str, Any]]:
    """Curves recorded in an executed notebook, by name."""
    if not hasattr(nb, "cells"):
        import nbformat

        nb = nbformat.read(str(nb), as_version=4)
    out: dict[str, dict[str, Any]] = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = o.get("data", {}) if o.get("output_type") == "display_data" else {}
            if CURVE_MIME in data:
                payload = data[CURVE_MIME]
                if isinstance(payload, str):
                    payload = json.loads(payload)
                out[payload["name"]] = {k: payload.get(k) for k in ("x", "y", "xlabel", "ylabel")}
    return out
