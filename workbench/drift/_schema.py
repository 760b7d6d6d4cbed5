"""Both tables side by side: loading (datasets, files, request logs), the seeded sample, and the
schema comparison. Missing or extra columns, changed types, ID-like and empty columns become
findings, never crashes; an empty table is an error that says so."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..data import Dataset, column_kind, id_like, load_dataset, plant_shift, prepare_frame
from ..errors import DatasetError

OUTPUT_PREFIX = "proba_"


def is_output_column(name: str) -> bool:
    """Whether a column holds a model's output (``prediction``, ``proba_<class>``, ``error``)."""
    return name in ("prediction", "error") or name.startswith(OUTPUT_PREFIX)


@dataclass
class Side:
    """One table as compared: where it came from, its size, the rows used and the model outputs it carries."""

    role: str
    name: str
    source: str
    rows: int
    raw: pd.DataFrame
    outputs: pd.DataFrame | None = None
    log: dict[str, Any] | None = None

    @property
    def sampled(self) -> bool:
        return len(self.raw) < self.rows


def load_side(data: Any, role: str) -> Dataset:
    """A :class:`Dataset` from a name or path (:func:`workbench.data.load_dataset`: registered table,
    CSV/TSV/Parquet, request log), a Dataset or a DataFrame; an empty table is an error."""
    if isinstance(data, Dataset):
        ds = data
    elif isinstance(data, pd.DataFrame):
        ds = Dataset(frame=data, name=role, source="a DataFrame", fingerprint="")
    elif isinstance(data, str) and data.strip():
        ds = load_dataset(data)
    else:
        raise DatasetError(f"{role} must be a registered dataset name, a .csv/.parquet path or a request log (.jsonl "
                           f"file or folder); got {data!r}")
    n, k = ds.frame.shape
    if n == 0 or k == 0:
        raise DatasetError(f"the {role} table {ds.name!r} is empty ({n} rows, {k} columns): nothing to compare; "
                           f"check the file, the log folder or its time window")
    return ds


def _sample(ds: Dataset, role: str, max_rows: int, seed: int, shift: dict | None) -> Side:
    frame = ds.frame
    outputs = ds.extra.get("outputs") if isinstance(ds.extra.get("outputs"), pd.DataFrame) else None
    inline = [c for c in frame.columns if is_output_column(str(c))]
    if inline:  # a scored table carries its predictions: they are outputs, not features
        outputs = frame[inline] if outputs is None else outputs
        frame = frame.drop(columns=inline)
    n = len(frame)
    if max_rows and n > max_rows:
        idx = np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))
        frame = frame.iloc[idx]
        outputs = outputs.iloc[idx] if outputs is not None and len(outputs) == n else outputs
    if shift:
        frame = plant_shift(frame, shift, seed=seed)
    frame = frame.reset_index(drop=True)
    outputs = outputs.reset_index(drop=True) if outputs is not None and len(outputs.columns) else None
    return Side(role, ds.name, ds.source, n, frame, outputs, ds.extra.get("log"))


def sides(reference: Any, current: Any, *, max_rows: int, seed: int, shift: dict | None) -> tuple[Side, Side]:
    """Both tables loaded, checked non-empty, sampled above ``max_rows`` (seeded) and, for what-if
    checks, with ``shift`` planted into current."""
    ref = load_side(reference, "reference")
    cur = load_side(current, "current")
    return _sample(ref, "reference", max_rows, seed, None), _sample(cur, "current", max_rows, seed + 1, shift)


# ----------------------------------------------------------------------------- schema


@dataclass
class Schema:
    """The columns compared, their kinds, the prepared frames and the findings about the schemas."""

    ref: pd.DataFrame
    cur: pd.DataFrame
    kinds: dict[str, str]
    findings: list[dict[str, str]] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)

    def add(self, severity: str, column: str, finding: str) -> None:
        self.findings.append({"severity": severity, "column": column, "finding": finding})


def _family(s: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return "number"
    return "text"


def _as_text(s: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(s.dtype) and np.all(np.mod(s.dropna().to_numpy(dtype=float), 1) == 0):
        s = s.astype("Int64")  # 1.0 read from JSON or a CSV with gaps is the category "1"
    return s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))


def _coerce(ref: pd.Series, cur: pd.Series, kind: str) -> tuple[pd.Series, pd.Series, str]:
    """Both columns as one kind of values (the reference's: numbers and dates stay so, categories and
    booleans compare as text), and what was done (empty when nothing was needed)."""
    fr, fc = _family(ref), _family(cur)
    if fr == fc:
        return ref, cur, ""
    what = f"type changed: {ref.dtype} in reference, {cur.dtype} in current; compared as "
    if kind in ("numeric", "datetime"):
        if fr == "number":
            new = pd.to_numeric(cur.where(cur.notna(), None).astype(object), errors="coerce")
        else:
            new = pd.to_datetime(cur, errors="coerce", utc=True, format="mixed").dt.tz_convert(None)
    else:
        fr, ref, new = "text", _as_text(ref), _as_text(cur)
    bad = cur.notna() & new.isna()
    what += fr
    if bad.any():
        examples = ", ".join(repr(v) for v in cur[bad].astype(str).unique()[:3])
        what += f"; {int(bad.sum()):,} value(s) are not {fr}s and count as missing (e.g. {examples})"
    return ref, new, what


def _selected(ref: pd.DataFrame, cur: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    if not columns:
        return list(ref.columns)
    unknown = [c for c in columns if c not in ref.columns and c not in cur.columns]
    if unknown:
        raise DatasetError(f"column(s) {', '.join(map(repr, unknown))} in neither table; reference columns: "
                           f"{', '.join(ref.columns)}; current columns: {', '.join(cur.columns)}")
    return list(dict.fromkeys(columns))


def compare_schemas(ref_raw: pd.DataFrame, cur_raw: pd.DataFrame, *, columns: Sequence[str] = (),
                    exclude: dict[str, str] | None = None) -> Schema:
    """Prepare both frames (:func:`workbench.data.prepare_frame`), choose the compared columns (the
    given ones, else all the reference has) and record every schema difference as a finding."""
    ref, special, notes_r = prepare_frame(ref_raw)
    cur, special_c, notes_c = prepare_frame(cur_raw)
    schema = Schema(ref, cur, {}, excluded=dict(exclude or {}))
    for side, notes in (("reference", notes_r), ("current", notes_c)):
        for note in notes:
            schema.add("info", "", f"{side}: {note}")
    selected = _selected(ref, cur, columns)
    for c, why in schema.excluded.items():
        if c in ref.columns or c in cur.columns:
            schema.add("info", c, f"not compared: {why}")
    for c in [c for c in cur.columns if c not in ref.columns and c not in schema.excluded]:
        schema.add("warning" if c in selected else "info", c, "only in current: not compared (a new input?)")
    for c in selected:
        if c in schema.excluded:
            continue
        if c not in cur.columns:
            schema.add("warning", c, "missing in current: not compared")
            continue
        if c not in ref.columns:
            continue
        _add_column(schema, c, special.get(c) or special_c.get(c))
    return schema


def _add_column(schema: Schema, c: str, special: str | None) -> None:
    why = id_like(schema.ref[c], c)
    if why:
        schema.excluded[c] = f"ID-like ({why})"
        schema.add("info", c, f"not compared: ID-like ({why}); new IDs are expected, not drift")
        return
    kind = column_kind(schema.ref[c], special)
    schema.ref[c], schema.cur[c], what = _coerce(schema.ref[c], schema.cur[c], kind)
    if what:
        schema.add("warning", c, what)
    if kind == "empty" and schema.cur[c].isna().all():
        schema.excluded[c] = "empty in both tables"
        schema.add("info", c, "not compared: every value missing in both tables")
        return
    if kind == "empty":  # only the current side has values: compare them as what they are
        kind = column_kind(schema.cur[c], special)
        schema.add("warning", c, "every value missing in reference")
    schema.kinds[c] = kind
