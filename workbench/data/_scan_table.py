"""A table's scan out of core: every column's :class:`~._scan.ColumnScan` over record batches, the
missing-value patterns, the memory, and the row hashes for the duplicate count (spilled to bucket files by the
hash's top bits, a bucket in memory at a time). Scans of consecutive parts of a table merge (in row order)
into the scan of the whole; :func:`finish` turns one into what ``column_summary``, ``overview`` and
``missing_patterns`` give in memory (see :mod:`._scan`)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.parallel import parallel_map
from ._profile import SUMMARY_COLUMNS, prepare_frame
from ._scan import ColumnScan, _scans_as_numbers, summary_row

BUCKET_ROWS = 4_000_000  # row hashes per spill bucket (32 MB): the duplicate count's memory


class TableScan:
    """Every column's :class:`ColumnScan`, the missing-value patterns, the row hashes (spilled), memory."""

    def __init__(self, plan: pd.DataFrame, special: dict[str, str], total_rows: int, spill: str,
                 threads: int | None = None):
        self.plan = {c: str(t) for c, t in plan.dtypes.items()}
        self.threads = threads
        self.tag = uuid.uuid4().hex[:12]  # this part's spill files
        self.special = special
        self.columns = {c: ColumnScan(c, _scans_as_numbers(plan[c])) for c in plan.columns}
        self.rows = 0
        self.memory = 0
        self.patterns: dict[Any, int] = {}
        self.bits = max(0, math.ceil(math.log2(max(1, total_rows) / BUCKET_ROWS)))
        self.spill = Path(spill)

    def add(self, frame: pd.DataFrame) -> None:
        frame = conform(frame, self.plan, self.special)
        masks = parallel_map(lambda c: self.columns[c].add(frame[c]), list(self.columns), heavy=len(frame) >= 50_000,
                             threads=self.threads)
        self.rows += len(frame)
        self.memory += int(frame.memory_usage(deep=True, index=False).sum())
        self._count_patterns(masks)
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        bucket = (hashed >> np.uint64(64 - self.bits)).astype(np.int64) if self.bits else np.zeros(len(hashed), int)
        for b in np.unique(bucket):
            with open(self.spill / f"rows-{b}-{self.tag}.u64", "ab") as f:
                f.write(hashed[bucket == b].tobytes())

    def _count_patterns(self, masks: list[np.ndarray]) -> None:
        if len(masks) <= 62:
            keys: Any = np.zeros(len(masks[0]), dtype=np.int64)
            for j, m in enumerate(masks):
                keys |= m.astype(np.int64) << j
        else:
            keys = np.array([b.tobytes() for b in np.packbits(np.column_stack(masks), axis=1)], dtype=object)
        codes, uniq = pd.factorize(keys)
        for key, n in zip(uniq, np.bincount(codes)):
            self.patterns[key] = self.patterns.get(key, 0) + int(n)

    def merge(self, other: TableScan) -> TableScan:
        """Fold in the scan of the rows that follow (their spill files are in the same folder)."""
        for name, c in self.columns.items():
            c.merge(other.columns[name])
        self.rows += other.rows
        self.memory += other.memory
        for key, n in other.patterns.items():
            self.patterns[key] = self.patterns.get(key, 0) + n
        return self

    def duplicate_rows(self) -> int:
        """Rows equal to an earlier row: per bucket, the hashes of every part, counted in memory."""
        dup = 0
        for b in range(2 ** self.bits):
            parts = sorted(self.spill.glob(f"rows-{b}-*.u64"))
            if parts:
                h = np.concatenate([np.fromfile(f, dtype=np.uint64) for f in parts])
                h.sort()  # in place: faster than a hash table on random 64-bit keys
                dup += int(np.count_nonzero(h[1:] == h[:-1]))
        return dup

    def missing_patterns(self, top: int = 10) -> pd.DataFrame:
        """As :func:`missing_patterns` gives them in memory (ties in order of first appearance)."""
        names = list(self.columns)
        if not any(c.missing for c in self.columns.values()):
            return pd.DataFrame(columns=["missing columns", "rows", "fraction"])
        order = sorted(self.patterns.items(), key=lambda kv: -kv[1])[:top]  # sorted() is stable
        rows = []
        for key, n in order:
            if isinstance(key, bytes):
                bits = np.unpackbits(np.frombuffer(key, dtype=np.uint8))[: len(names)]
                cols = [c for c, b in zip(names, bits) if b]
            else:
                cols = [c for j, c in enumerate(names) if int(key) >> j & 1]
            rows.append({"missing columns": ", ".join(cols) if cols else "(none)", "rows": n, "fraction": n / self.rows})
        return pd.DataFrame(rows)


def conform(frame: pd.DataFrame, plan: dict[str, str], special: dict[str, str]) -> pd.DataFrame:
    """A batch typed as ``prepare_frame`` typed the sample ``plan`` came from (same kinds in every batch)."""
    out, _, _ = prepare_frame(frame)
    for c, dtype in plan.items():
        s = out[c]
        if dtype.startswith("datetime64") and not pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[c] = pd.to_datetime(s, format="ISO8601", errors="coerce", utc=True).dt.tz_convert(None)
        elif c in special and s.dtype != object:
            out[c] = s.astype(object).where(s.isna(), s.astype(str))
        elif (dtype.startswith(("int", "float", "Int", "Float"))) and not pd.api.types.is_numeric_dtype(s.dtype):
            out[c] = pd.to_numeric(s, errors="coerce")
        elif not dtype.startswith("datetime64") and pd.api.types.is_datetime64_any_dtype(s.dtype) \
                and plan[c] == "object":
            out[c] = frame[c]  # read as text in the sample: keep the text
    return out


@dataclass
class ScanResult:
    """What one pass gives: the summary and its extras as ``column_summary`` gives them, the overview, the
    missing-value patterns, the columns whose quantiles come from a sketch (their rank error), and each
    column's value counts (``Series`` value -> rows; the ``TOP_KEEP`` most frequent where not exact)."""

    summary: pd.DataFrame
    extras: dict[str, dict]
    overview: dict[str, Any]
    patterns: pd.DataFrame
    approx: dict[str, float]
    counts: dict[str, pd.Series]


def finish(scan: TableScan) -> ScanResult:
    """The :class:`ScanResult` of a (merged) scan, its spill folder still there: what the in-memory path
    computes, see :mod:`._scan`."""
    special = scan.special
    duplicates = scan.duplicate_rows()
    for c in scan.columns.values():
        c.finish()
    rows = [summary_row(c, scan.plan[name], special.get(name)) for name, c in scan.columns.items()]
    extras = {key: {r["column"]: r.pop(f"_{key}") for r in rows if f"_{key}" in r}
              for key in ("deciles", "quantiles", "factorized", "hist")}
    extras.update(missing={}, order={})
    summary = pd.DataFrame(rows).reindex(columns=SUMMARY_COLUMNS).set_index("column")
    n, k = scan.rows, len(scan.columns)
    missing = int(summary["missing"].sum())
    overview = {"rows": n, "columns": k, "memory_mb": scan.memory / 2 ** 20, "duplicate_rows": duplicates,
                "duplicate_fraction": duplicates / n if n else 0.0, "missing_cells": missing,
                "missing_fraction": missing / (n * k) if n and k else 0.0,
                "kinds": summary["kind"].value_counts().to_dict(),
                "dtypes": {str(t): int(c) for t, c in summary["dtype"].value_counts().items()}}
    approx = {c: s.rank_error for c, s in scan.columns.items() if not s.exact}
    counts = {c: pd.Series(s.counts, index=s.values) if s.numeric else s.values for c, s in scan.columns.items()}
    return ScanResult(summary, extras, overview, scan.missing_patterns(), approx, counts)
