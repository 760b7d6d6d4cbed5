"""Formatting values for people: one rule for numbers in headers, indexes, tables and the CLI."""

from __future__ import annotations

import json
from typing import Any


def fmt(value: Any, digits: int = 4) -> str:
    """A short display form: floats to ``digits`` significant digits, lists and dicts as JSON,
    anything else as ``str``."""
    if isinstance(value, float) or type(value).__name__ in ("float32", "float64", "float16"):
        return f"{float(value):.{digits}g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value)


def fmt_metrics(metrics: dict[str, Any], limit: int | None = None) -> str:
    """``name=value, ...`` for a one-line summary (the first ``limit`` items)."""
    items = list(metrics.items())[:limit] if limit else list(metrics.items())
    return ", ".join(f"{k}={fmt(v)}" for k, v in items)
