"""What an exploration keeps for the run: its headline values, recorded."""

from __future__ import annotations

from typing import Any

from ..core.journal import record as record_value
from ._exploration import Exploration


def record(exploration: Exploration) -> dict[str, Any]:
    """Record the exploration's :meth:`~Exploration.headline` values (rows, columns, missing share,
    duplicate rows, alerts, and the target rate of a binary target) with ``workbench.record``; they show
    in the report header and the run index. Returns them."""
    values = exploration.headline()
    for k, v in values.items():
        record_value(k, v)
    return values
