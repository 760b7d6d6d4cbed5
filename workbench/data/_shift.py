"""Planted shifts: a copy of a table with known changes, to check that a drift monitor catches them.

``plant_shift(frame, {"monthly_charges": {"scale": 1.15}, "tenure": {"add": 6},
"contract": {"set": "Month-to-month", "fraction": 0.3}})`` returns a copy in which
``monthly_charges`` is 15% higher, ``tenure`` 6 higher and a seeded 30% of rows have their
``contract`` set to ``"Month-to-month"``. Operations per column (one per column):

- ``{"scale": k}``: numbers multiplied by ``k``;
- ``{"add": d}``: ``d`` added to numbers;
- ``{"set": value}``: values replaced by ``value`` (text or number);
- ``{"missing": f}``: a share ``f`` of rows blanked (a broken feed).

``fraction`` (default 1) limits any operation to a seeded random share of rows (exactly that share). The
registered drift pair built with it (``telco_churn_drifted``) is in :mod:`._catalog`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..errors import DatasetError

if TYPE_CHECKING:
    import pandas as pd

OPERATIONS = ("scale", "add", "set", "missing")


def _operation(column: str, op: Any) -> tuple[str, Any, float]:
    if not isinstance(op, Mapping):
        raise DatasetError(f"shift for column {column!r} must be a mapping like {{scale: 1.15}}, {{add: 6}}, "
                           f"{{set: value, fraction: 0.3}} or {{missing: 0.2}}; got {op!r}")
    unknown = [k for k in op if k not in (*OPERATIONS, "fraction")]
    kinds = [k for k in op if k in OPERATIONS]
    if unknown or len(kinds) != 1:
        raise DatasetError(f"shift for column {column!r} needs exactly one of {', '.join(OPERATIONS)} (plus an optional "
                           f"fraction); got {dict(op)!r}")
    kind = kinds[0]
    fraction = op.get("missing") if kind == "missing" else op.get("fraction", 1.0)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise DatasetError(f"shift for column {column!r}: the share of rows must be a number in (0, 1], got {fraction!r}")
    value = op[kind]
    if kind in ("scale", "add") and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise DatasetError(f"shift for column {column!r}: {kind} needs a number, got {value!r}")
    return kind, value, float(fraction)


def plant_shift(frame: pd.DataFrame, spec: Mapping[str, Any] | None, seed: int = 0) -> pd.DataFrame:
    """A copy of ``frame`` with the shifts of ``spec`` planted (see the module docstring).

    Every column and operation is checked before anything changes; the rows an operation touches
    are a seeded random share (``fraction``), drawn independently per column.
    """
    import numpy as np
    import pandas as pd

    spec = dict(spec or {})
    if not isinstance(frame, pd.DataFrame):
        raise DatasetError(f"plant_shift needs a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in spec if c not in frame.columns]
    if missing:
        raise DatasetError(f"cannot plant a shift in {', '.join(map(repr, missing))}: not a column; columns: "
                           f"{', '.join(map(str, frame.columns))}")
    ops = {c: _operation(c, op) for c, op in spec.items()}
    for c, (kind, _, _) in ops.items():
        if kind in ("scale", "add") and not (pd.api.types.is_numeric_dtype(frame[c]) and
                                             not pd.api.types.is_bool_dtype(frame[c])):
            raise DatasetError(f"cannot {kind} column {c!r}: it holds {frame[c].dtype} values, not numbers; "
                               "use {set: value, fraction: f} for categories")
    out = frame.copy()
    rng = np.random.default_rng(seed)
    for c, (kind, value, fraction) in ops.items():
        keep = np.ones(len(out), dtype=bool)
        keep[rng.choice(len(out), size=round(fraction * len(out)), replace=False)] = False
        s = out[c]
        if kind in ("scale", "add"):
            out[c] = (s * value if kind == "scale" else s + value).where(~keep, s)
        elif kind == "missing":
            out[c] = s.where(keep)
        else:
            try:
                out[c] = s.where(keep, value)
            except (TypeError, ValueError):  # a text value into a number column: the column becomes text
                out[c] = s.astype(object).where(keep, value)
    return out
