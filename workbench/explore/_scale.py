"""Exploration of a Parquet dataset larger than memory: which engine, one scan for the column statistics
(``data._scan``: exact counts, moments, missing patterns and duplicates; quantiles and histograms exact
up to 50,000 distinct values, else from a KLL sketch) that also draws the seeded sample the heavy
statistics use, and a second pass, on demand, for target rates by group over every row.

``open_data(data, ...)`` decides: ``engine`` "pandas" reads the table into memory; "dask" or "sketch" scan
it out of core; "auto" scans a Parquet dataset (a file, folder of files, hive-partitioned folders or a glob)
of more than ``max_rows`` rows and reads anything else into memory. Bad input fails before any scan.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from ..batch._partitions import Partition, find_partitions
from ..core.parallel import cpu_count
from ..data._profile import SampleInfo, as_float, prepare_frame
from ..data._scan_table import ScanResult, TableScan, conform, finish
from ..errors import DatasetError, WorkbenchError
from ._relations import TargetInfo, bin_codes, bin_labels, rate_table, target_vector

ENGINES = ("auto", "pandas", "dask", "sketch")
BATCH_ROWS = 262_144
MAX_WORKERS = 6  # engine dask: each worker holds a batch and its imports (~0.5 GB), so at most ~3 GB in all


def _frames(parts: list[Partition], columns: list[str] | None = None, batch_rows: int | None = None
            ) -> Iterator[pd.DataFrame]:
    """Record batches of the partitions as frames, hive keys (``key=value`` folders) as trailing text columns."""
    import pyarrow.parquet as pq

    for p in parts:
        f = pq.ParquetFile(p.path)
        own = None if columns is None else [c for c in columns if c in f.schema_arrow.names]
        for batch in f.iter_batches(batch_size=batch_rows or BATCH_ROWS, columns=own):
            frame = batch.to_pandas()
            for k, v in p.keys.items():
                if k not in frame.columns and (columns is None or k in columns):
                    frame[k] = pd.Series([v] * len(frame), dtype=object)
            yield frame


@dataclass
class Scaled:
    """An exploration out of core: the files, the scan over every row, the sample, and target tables."""

    files: list[Partition]
    engine: str
    scan: ScanResult
    sample: pd.DataFrame
    info: SampleInfo
    special: dict[str, str]
    notes: list[str]
    plan: dict[str, str]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    lock: Any = field(default_factory=threading.Lock, repr=False)  # one target pass, whoever asks first

    @property
    def rows(self) -> int:
        return int(self.scan.overview["rows"])

    def describe(self) -> str:
        approx = self.scan.approx
        workers = " by parallel worker processes" if self.engine == "dask" else ""
        text = (f"Out of core (engine {self.engine}): {len(self.files):,} Parquet file(s) read in batches of "
                f"{BATCH_ROWS:,} rows{workers}; counts, missing values, moments, category frequencies, missing patterns, "
                "duplicate rows and target rates are exact over all rows")
        if approx:
            text += (f"; quantiles and histograms of {', '.join(approx)} (more than 50,000 distinct values) come from "
                     f"a KLL sketch (rank error at most {max(approx.values()):.2%}, 99% confidence), their distinct "
                     "counts are estimated (about ±1.6%) and their most frequent value is a lower bound")
        return text + "."

    def target_tables(self, columns: list[str], kinds: dict[str, str], target: str, info: TargetInfo
                      ) -> dict[str, pd.DataFrame]:
        """Target rate (or mean) by group of each of ``columns`` over every row, in one more pass."""
        with self.lock:
            todo = [c for c in columns if c not in self.tables]
            if todo:
                self.tables.update(_target_pass(self, todo, kinds, target, info))
            return {c: self.tables[c] for c in columns}


def _groups(scaled: Scaled, column: str, kind: str) -> tuple[Any, list[str]]:
    """How a column's values become groups (bin edges or the top 15 values) and the group labels, as
    ``group_codes`` makes them in memory."""
    missing = int(scaled.scan.summary.loc[column, "missing"]) > 0
    if kind in ("numeric", "datetime"):
        d = scaled.scan.extras["deciles"].get(column)
        edges = np.unique(d) if d is not None else np.array([0.0])
        labels = bin_labels(edges, kind)
        return edges, labels + (["(missing)"] if missing else [])
    _, uniq, counts = scaled.scan.extras["factorized"][column]
    keep = np.argsort(-counts, kind="stable")[:15]
    keep = keep[counts[keep] > 0]
    labels = [str(uniq[i])[:40] for i in keep]
    if int(scaled.scan.summary.loc[column, "n_unique"]) > len(keep):
        labels.append("(other)")
    return pd.Index(uniq[keep], dtype=object), labels + (["(missing)"] if missing else [])


def _codes(s: pd.Series, kind: str, how: Any, labels: list[str]) -> np.ndarray:
    if kind in ("numeric", "datetime"):
        v = as_float(s)
        codes = bin_codes(v, how)
        codes[np.isnan(v)] = len(labels) - 1
        return codes
    codes, uniq = pd.factorize(s)  # the batch's values, then each distinct value to its group
    group = how.get_indexer(pd.Index(np.asarray(uniq, dtype=object), dtype=object)).astype(np.int64)
    group[group < 0] = len(how)  # "(other)"
    return np.where(codes < 0, len(labels) - 1, np.append(group, 0)[codes])


def _target_pass(scaled: Scaled, columns: list[str], kinds: dict[str, str], target: str, info: TargetInfo
                 ) -> dict[str, pd.DataFrame]:
    groups = {c: _groups(scaled, c, kinds[c]) for c in columns}
    sums = {c: np.zeros((3, len(groups[c][1]))) for c in columns}
    plan = {c: scaled.plan[c] for c in [target, *columns]}
    for frame in _frames(scaled.files, list(plan)):
        frame = conform(frame, plan, scaled.special)
        y = target_vector(frame[target], info)
        ok = ~np.isnan(y)
        yv = y[ok]
        for c in columns:
            how, labels = groups[c]
            codes = _codes(frame[c], kinds[c], how, labels)[ok]
            k = len(labels)
            sums[c] += [np.bincount(codes, minlength=k), np.bincount(codes, weights=yv, minlength=k),
                        np.bincount(codes, weights=yv * yv, minlength=k)]
    return {c: rate_table(groups[c][1], sums[c][0], sums[c][1], sums[c][2], info.kind) for c in columns}


def _footer_rows(parts: list[Partition]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p.path).metadata.num_rows for p in parts)


def _parquet_files(data: Any, required: bool) -> list[Partition] | None:
    """The partitions of ``data`` when it names a Parquet dataset (file, folder, hive folders, glob); else
    None, or (``required``) a one-line error naming what is wrong."""
    if not isinstance(data, (str, Path)):
        return None
    text = str(data)
    if not required and not (Path(text).exists() or any(ch in text for ch in "*?[")):
        return None  # a registered dataset name
    try:
        parts = find_partitions(text)
    except WorkbenchError as e:
        if required:
            raise DatasetError(str(e)) from None
        return None
    if all(p.path.lower().endswith((".parquet", ".pq")) for p in parts):
        return parts
    if required:
        raise DatasetError(f"{text!r} holds CSV files: out-of-core exploration reads Parquet datasets; convert them, "
                           "or use engine 'pandas'")
    return None


def _check_engine(engine: str, max_rows: Any) -> None:
    from ..errors import ParameterError

    if engine not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(ENGINES)} (engine={engine!r})")
    if not isinstance(max_rows, (int, np.integer)) or isinstance(max_rows, bool) or max_rows < 0:
        raise ParameterError(f"max_rows must be an int >= 0 (max_rows={max_rows!r})")


def open_data(data: Any, target: str | None, engine: str = "auto", max_rows: int = 1_000_000,
              heavy_rows: int = 100_000, seed: int = 0, scheduler: str = "") -> tuple[Any, Scaled | None]:
    """``(table, scaled)``: the table in memory (a Dataset or DataFrame) and None, or, out of core, the
    seeded sample and the :class:`Scaled` scan over every row (on the Dask cluster at ``scheduler`` when
    given). Checks everything before reading rows."""
    from ..errors import ParameterError

    _check_engine(engine, max_rows)
    if scheduler and engine == "pandas":
        raise ParameterError("scheduler scans a Parquet dataset out of core: use engine 'auto', 'dask' or 'sketch', "
                             "or set scheduler to ''")
    files = _parquet_files(data, engine in ("dask", "sketch") and isinstance(data, (str, Path)))
    if engine in ("dask", "sketch") and files is None:
        raise ParameterError(f"engine {engine!r} takes a Parquet dataset (a file, folder or glob of .parquet files); "
                             "give its path, or engine 'auto' or 'pandas'")
    rows = _footer_rows(files) if files else 0
    if files is None or engine == "pandas" or (engine == "auto" and not (max_rows and rows > max_rows)):
        return _in_memory(data, files, target), None
    return None, scan_dataset(files, target, engine, heavy_rows or max_rows or 100_000, seed, rows, scheduler)


def _in_memory(data: Any, files: list[Partition] | None, target: str | None) -> Any:
    if files is None or (len(files) == 1 and Path(str(data)).is_file()):
        if isinstance(data, (str, Path)):
            from ..data import load_dataset

            return load_dataset(data, target=target or None)
        return data
    frame = pd.concat(list(_frames(files)), ignore_index=True)
    if target and target not in frame.columns:
        raise DatasetError(f"target column {target!r} not in the table; columns: {', '.join(frame.columns)}; "
                           "set target to one of them, or to '' for none")
    return frame


def scan_dataset(files: list[Partition], target: str | None, engine: str, sample_rows: int, seed: int,
                 rows: int, scheduler: str = "") -> Scaled:
    """Check the schema (the target), then scan every row of ``files`` and draw the seeded sample: here, or
    on the Dask cluster at ``scheduler`` (its workers read the same paths and write duplicate-row hashes to
    this machine's temporary folder, which they must share: a LocalCluster, or ``TMPDIR`` on a shared
    filesystem)."""
    import pyarrow.parquet as pq

    def columns(p: Partition) -> list[str]:
        own = pq.read_schema(p.path).names
        return own + [k for k in p.keys if k not in own]

    names = columns(files[0])
    for p in files[1:]:  # footers only: a file of another table fails now, not half-way through the scan
        other = columns(p)
        if set(other) != set(names):
            lost, extra = [c for c in names if c not in other], [c for c in other if c not in names]
            raise DatasetError(f"{p.path!r} has other columns than {files[0].path!r} (missing: {', '.join(lost) or '-'};"
                               f" extra: {', '.join(extra) or '-'}): give the files of one table")
    if target and target not in names:
        raise DatasetError(f"target column {target!r} not in the table; columns: {', '.join(names)}; "
                           "set target to one of them, or to '' for none")
    if rows == 0:
        raise DatasetError(f"the dataset of {files[0].path!r} ({len(files)} files) has no rows: nothing to explore")
    with _cluster(scheduler) as client:
        return _scan(files, engine, sample_rows, seed, rows, client)


def _cluster(scheduler: str) -> Any:
    """The Dask client of ``scheduler`` (checked now: reachable), or a null context for none."""
    import contextlib

    if not scheduler:
        return contextlib.nullcontext(None)
    from ..core.parallel import dask_client

    return dask_client(scheduler)


def _scan(files: list[Partition], engine: str, sample_rows: int, seed: int, rows: int, client: Any) -> Scaled:
    first = next(_frames(files, batch_rows=10_000))  # the types every batch gets: those of the first rows
    plan, special, notes = prepare_frame(first)
    share = min(1.0, sample_rows / rows)
    if client is not None:  # as many chunks as the cluster has threads
        threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
        jobs = max(1, min(len(files), threads))
    else:
        jobs = min(cpu_count(), len(files), MAX_WORKERS) if engine == "dask" else 1
    cuts = [round(i * len(files) / jobs) for i in range(jobs + 1)]
    with tempfile.TemporaryDirectory(prefix="workbench-scan-") as spill:
        calls = [(files[a:b], a, plan, special, rows, spill, share, seed, 1 if jobs > 1 else None)
                 for a, b in zip(cuts[:-1], cuts[1:])]
        if client is not None:  # consecutive files per cluster worker; the parts merge in row order
            _check_spill(client, spill)
            parts = client.gather(client.map(scan_files, *zip(*calls), pure=False))
        elif jobs > 1:  # consecutive files per local worker process; the parts merge in row order
            import dask

            parts = dask.compute(*[dask.delayed(scan_files)(*c) for c in calls], scheduler="processes",
                                 num_workers=jobs)
        else:
            parts = [scan_files(*calls[0])]
        scan = parts[0][0]
        for other, _ in parts[1:]:
            scan.merge(other)
        result = finish(scan)
    typed = {c: str(t) for c, t in plan.dtypes.items()}
    sample = conform(pd.concat([p[1] for p in parts], ignore_index=True), typed, special)
    return Scaled(files, engine, result, sample, SampleInfo(rows, len(sample), seed), special, notes, typed)


def _check_spill(client: Any, spill: str) -> None:
    """Every worker sees the spill folder (duplicate-row hashes go there), else a one-line error, before the scan."""
    import os

    blind = [w for w, seen in client.run(os.path.isdir, spill).items() if not seen]
    if blind:
        raise DatasetError(f"the Dask worker(s) {', '.join(blind)} cannot see this machine's temporary folder {spill}, "
                           "where the scan spills duplicate-row hashes: run the workers here (a LocalCluster) or set "
                           "TMPDIR to a folder every worker shares, or set scheduler to ''")


def scan_files(files: list[Partition], start: int, plan: pd.DataFrame, special: dict[str, str], rows: int,
               spill: str, share: float, seed: int, threads: int | None) -> tuple[TableScan, pd.DataFrame]:
    """The scan of some consecutive files, and the rows each keeps with probability ``share`` (the seeded
    sample: a generator per file, seeded by ``seed`` and the file's position, whoever scans it)."""
    scan = TableScan(plan, special, rows, spill, threads)
    kept = []
    for i, part in enumerate(files):
        rng = np.random.default_rng([seed, start + i])
        for frame in _frames([part]):
            kept.append(frame[rng.random(len(frame)) < share])
            scan.add(frame)
    return scan, pd.concat(kept, ignore_index=True)
