"""Out-of-core column aggregates of a table too large for one process: mergeable, exact where cheap.

``profile_dataset(data)`` reads a Parquet dataset (or CSV files) in record batches and keeps, per
column: rows, missing values, and either exact moments (count, sum, sum of squares, min, max) plus an
Apache DataSketches KLL quantile sketch (numbers), or exact value counts (everything else). Profiles
of two parts merge (``merge``), so files can be profiled anywhere and combined. The KLL sketch's
normalized rank error (``rank_error``, about 1.7/k^0.95 with 99% confidence) bounds every CDF and
quantile read from it; nothing is sampled.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

SKETCH_K = 800  # KLL accuracy parameter: rank error ~0.4% at 99% confidence


@dataclass
class ColumnAggregate:
    """One column's aggregates; ``numeric`` columns hold moments and a KLL sketch, others value counts."""

    name: str
    numeric: bool
    rows: int = 0
    missing: int = 0
    count: int = 0
    total: float = 0.0
    squares: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    counts: Counter = field(default_factory=Counter)
    sketch: Any = None

    def __post_init__(self) -> None:
        if self.numeric and self.sketch is None:
            from datasketches import kll_doubles_sketch

            self.sketch = kll_doubles_sketch(SKETCH_K)

    def add(self, values: Any) -> None:
        """Fold in a pyarrow array (or chunked array) of this column."""
        import numpy as np

        self.rows += len(values)
        if self.numeric:
            v = values.to_numpy(zero_copy_only=False).astype(float)
            finite = v[np.isfinite(v)]
            self.missing += int(len(v) - len(finite))
            if len(finite):
                self.count += len(finite)
                self.total += float(finite.sum())
                self.squares += float((finite * finite).sum())  # not np.dot: BLAS rounds by thread count
                self.low, self.high = min(self.low, float(finite.min())), max(self.high, float(finite.max()))
                self.sketch.update(finite)
            return
        self.missing += values.null_count
        counted = values.drop_null().value_counts()
        for item in counted.to_pylist():
            self.counts[item["values"]] += item["counts"]

    def __getstate__(self) -> dict:  # the KLL sketch does not pickle: it travels (to and from Dask workers) as bytes
        state = dict(self.__dict__)
        state["sketch"] = self.sketch.serialize() if self.sketch is not None else None
        return state

    def __setstate__(self, state: dict) -> None:
        if state.get("sketch") is not None:
            from datasketches import kll_doubles_sketch

            state = {**state, "sketch": kll_doubles_sketch.deserialize(state["sketch"])}
        self.__dict__.update(state)

    def merge(self, other: ColumnAggregate) -> None:
        self.rows += other.rows
        self.missing += other.missing
        if self.numeric:
            self.count += other.count
            self.total += other.total
            self.squares += other.squares
            self.low, self.high = min(self.low, other.low), max(self.high, other.high)
            self.sketch.merge(other.sketch)
        else:
            self.counts.update(other.counts)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    @property
    def std(self) -> float:
        """Population standard deviation from the exact moments."""
        if not self.count:
            return math.nan
        return math.sqrt(max(0.0, self.squares / self.count - self.mean ** 2))

    @property
    def rank_error(self) -> float:
        """The sketch's normalized rank error (99% confidence); 0 for exact value counts."""
        return float(self.sketch.normalized_rank_error(False)) if self.numeric and self.count else 0.0


@dataclass
class TableProfile:
    """Aggregates of every column of a table, in column order."""

    columns: dict[str, ColumnAggregate]
    rows: int = 0

    def merge(self, other: TableProfile) -> TableProfile:
        for name, agg in other.columns.items():
            if name in self.columns:
                self.columns[name].merge(agg)
            else:
                self.columns[name] = agg
        self.rows += other.rows
        return self


def _is_numeric(t: Any) -> bool:
    import pyarrow as pa

    return (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)) and not pa.types.is_boolean(t)


def _batches(files: Iterable[str], columns: list[str] | None, rows: int) -> Iterator[Any]:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    for f in files:
        if f.lower().endswith((".csv", ".tsv")):
            yield from pcsv.open_csv(f)
        else:
            yield from pq.ParquetFile(f).iter_batches(batch_size=rows, columns=columns)


def profile_files(files: Iterable[str], columns: list[str] | None = None, batch_rows: int = 262_144) -> TableProfile:
    """The aggregates of the rows of ``files`` (Parquet or CSV), read one record batch at a time."""
    profile = TableProfile({})
    for batch in _batches([str(f) for f in files], columns, batch_rows):
        for name in columns or batch.schema.names:
            if name not in batch.schema.names:
                continue
            if name not in profile.columns:
                profile.columns[name] = ColumnAggregate(name, _is_numeric(batch.schema.field(name).type))
            profile.columns[name].add(batch.column(name))
        profile.rows += batch.num_rows
    return profile


def dataset_files(data: str | Path) -> list[str]:
    """The data files of a Parquet dataset: a folder (recursive), a glob, or one file."""
    import glob

    text = str(data)
    if any(ch in text for ch in "*?["):
        files = sorted(glob.glob(text, recursive=True))
    elif Path(text).is_dir():
        files = sorted(str(p) for p in Path(text).rglob("*") if p.suffix.lower() in (".parquet", ".pq", ".csv")
                       and not any(s.startswith((".", "_")) for s in p.relative_to(text).parts))
    else:
        files = [text] if Path(text).is_file() else []
    if not files:
        from ..errors import DatasetError

        raise DatasetError(f"{text!r} names no Parquet or CSV files; give a file, a dataset folder or a glob")
    return files


CHUNKS = 8  # groups of consecutive files profiled apart (here or on Dask workers), then merged in file order


def profile_dataset(data: str | Path, columns: list[str] | None = None, batch_rows: int = 262_144,
                    scheduler: str = "") -> TableProfile:
    """Aggregates of every column of the dataset ``data`` (see :func:`dataset_files`), out of core.

    The files are profiled in up to ``CHUNKS`` groups of consecutive files, here or (``scheduler``, a Dask
    scheduler address) on that cluster's workers, which must read the same paths; the groups' profiles
    merge in file order, so both give the same counts, moments, minima and maxima and value counts. The
    KLL sketches compact at random (Apache DataSketches draws its own seed), so their quantiles vary from
    run to run within ``rank_error`` whichever path runs."""
    files = dataset_files(data)
    cuts = sorted({round(i * len(files) / min(CHUNKS, len(files))) for i in range(min(CHUNKS, len(files)) + 1)})
    groups = [files[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    if scheduler:
        from ..core.parallel import dask_client

        with dask_client(scheduler) as client:
            futures = client.map(profile_files, groups, columns=columns, batch_rows=batch_rows, pure=False)
            parts = client.gather(futures)
    else:
        parts = [profile_files(g, columns, batch_rows) for g in groups]
    profile = parts[0]
    for other in parts[1:]:
        profile.merge(other)
    return profile


def sample_dataset(data: str | Path, rows: int, seed: int = 0) -> Any:
    """A seeded random sample of about ``rows`` rows of the dataset ``data`` as a DataFrame (each row kept
    with probability rows / total), read one record batch at a time; the whole table when it is smaller."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = dataset_files(data)
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files if not f.lower().endswith((".csv", ".tsv")))
    share = 1.0 if not total or rows <= 0 else min(1.0, rows / total)
    rng = np.random.default_rng(seed)
    kept = []
    for batch in _batches(files, None, 262_144):
        kept.append(batch.filter(pa.array(rng.random(batch.num_rows) < share)) if share < 1 else batch)
    return pa.Table.from_batches(kept).to_pandas()


def dataset_rows(data: str | Path) -> int | None:
    """The rows of a Parquet dataset from its files' footers (None if it has CSV files or is not a dataset)."""
    import pyarrow.parquet as pq

    from ._requestlog import log_files

    try:
        if log_files(data):  # request logs are read by load_dataset (inputs, outputs apart)
            return None
        files = dataset_files(data)
    except Exception:
        return None
    if any(f.lower().endswith((".csv", ".tsv")) for f in files):
        return None
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def summary_table(profile: TableProfile, top: int = 3) -> Any:
    """One row per column from the aggregates: rows, missing share, distinct (exact for categories),
    mean, std, min, max (exact), quartiles (KLL, within ``rank_error``) and the top categories."""
    import pandas as pd

    rows = []
    for name, a in profile.columns.items():
        row: dict[str, Any] = {"column": name, "kind": "numeric" if a.numeric else "categorical", "rows": a.rows,
                               "missing_share": a.missing / a.rows if a.rows else math.nan}
        if a.numeric and a.count:
            q = a.sketch.get_quantiles([0.25, 0.5, 0.75])
            row.update(mean=a.mean, std=a.std, min=a.low, p25=q[0], median=q[1], p75=q[2], max=a.high,
                       rank_error=a.rank_error)
        elif not a.numeric:
            total = sum(a.counts.values())
            row.update(distinct=len(a.counts), top=", ".join(f"{k} ({v / total:.1%})" for k, v in a.counts.most_common(top)))
        rows.append(row)
    return pd.DataFrame(rows)
