"""Scoring partitions: one worker call per input file, local processes or a Dask cluster."""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import WorkbenchError
from ._partitions import Partition, find_partitions

_MODELS: dict[str, Any] = {}  # folder -> predictor, one load per worker process


def _model(folder: str) -> Any:
    if folder not in _MODELS:
        from ..models import load

        _MODELS[folder] = load(folder)  # card and every file's sha256 verified on this worker
    return _MODELS[folder]


def _batches(path: str, rows: int) -> Iterator[Any]:
    """Record batches of at most ``rows`` rows of one file, in file order."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if path.lower().endswith((".csv", ".tsv")):
        parse = pcsv.ParseOptions(delimiter="\t" if path.lower().endswith(".tsv") else ",")
        reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 22), parse_options=parse)
        for batch in reader:
            for start in range(0, batch.num_rows, rows):
                yield batch.slice(start, rows)
        return
    yield from pq.ParquetFile(path).iter_batches(batch_size=rows)


def _with_keys(table: Any, keys: dict[str, str]) -> Any:
    """The hive keys as leading text columns (those the output lacks), as pandas would have added them."""
    import pandas as pd
    import pyarrow as pa

    for k, v in keys.items():
        if k not in table.column_names:
            text = pa.Table.from_pandas(pd.DataFrame({k: [v]}), preserve_index=False).column(0).type
            table = table.add_column(0, k, pa.array([v] * table.num_rows, text))
    return table


def score_partition(folder: str, src: str, dst: str, keys: dict[str, str], rows: int, arrays: bool = True) -> int:
    """Score one file into ``dst`` (Parquet, written to a temporary name then renamed); the rows scored.
    ``arrays``: each record batch through ``Predictor.predict_arrow`` (whole arrays where the model compiles),
    else through ``Predictor.predict`` on a pandas frame (the reference path)."""
    import pyarrow.parquet as pq

    from ..models import Predictor

    model = _model(folder)
    tmp = Path(dst).with_name(f".{Path(dst).name}.{os.getpid()}.tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    writer, n = None, 0
    try:
        for batch in _batches(src, rows):
            out = model.predict_arrow(batch) if arrays else Predictor.predict_arrow(model, batch)
            table = _with_keys(out, keys)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            elif table.schema != writer.schema:
                table = table.cast(writer.schema)
            writer.write_table(table)
            n += batch.num_rows
        if writer is None:
            raise WorkbenchError(f"{src} has no rows")
        writer.close()
        writer = None
        os.replace(tmp, dst)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    return n


@dataclass
class BatchResult:
    """What a batch run did: the rows scored, the files written, the partitions that failed and why."""

    rows: int = 0
    written: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        line = f"scored {self.rows} row(s) into {len(self.written)} file(s)"
        return line + (f"; {len(self.failed)} partition(s) failed" if self.failed else "")


def _rows(p: Partition) -> int | None:
    import pyarrow.parquet as pq

    try:
        return None if p.path.lower().endswith((".csv", ".tsv")) else pq.ParquetFile(p.path).metadata.num_rows
    except Exception:
        return None


def _why(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return f"{type(e).__name__}: {text}" if not isinstance(e, WorkbenchError) else text


def _local(calls: list[tuple], jobs: int, done: Callable[[int, Any, BaseException | None], None]) -> None:
    if jobs <= 1:
        for i, call in enumerate(calls):
            try:
                done(i, score_partition(*call), None)
            except Exception as e:  # one bad partition: reported, the others go on
                done(i, None, e)
        return
    import multiprocessing as mp

    from ..models._skops_import import lean_skops

    # workers of our own: skops without scikit-learn's estimator walk (seconds of each worker's start)
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=lean_skops) as pool:
        pending = {pool.submit(score_partition, *call): i for i, call in enumerate(calls)}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                i = pending.pop(f)
                e = f.exception()
                done(i, None if e else f.result(), e)


def _dask(calls: list[tuple], scheduler: str, done: Callable[[int, Any, BaseException | None], None]) -> None:
    from distributed import Client, as_completed

    with Client(scheduler, timeout="30s") as client:
        futures = [client.submit(score_partition, *call, pure=False, key=f"workbench-score-{i}-{os.getpid()}")
                   for i, call in enumerate(calls)]
        index = {f.key: i for i, f in enumerate(futures)}
        for f in as_completed(futures):
            e = f.exception() if f.status == "error" else None
            done(index[f.key], None if e else f.result(), e)


def score_dataset(folder: str | Path, data: str | Path, out: str | Path, jobs: int = 1, scheduler: str | None = None,
                  partition_rows: int = 200_000, progress: bool = True, arrays: bool = True) -> BatchResult:
    """Score every partition of ``data`` with the model in ``folder`` into the Parquet dataset ``out``.

    Each input file gives ``out/<its relative path>.parquet`` with the columns of ``Predictor.predict``
    plus the hive partition keys, rows in input order. A partition that fails (unreadable, a missing
    column) is named in ``BatchResult.failed``; the others are written. ``arrays=False`` scores each batch
    through ``Predictor.predict`` on a pandas frame instead of on whole arrays (same output; benchmarks compare).
    """
    if partition_rows < 1:
        raise WorkbenchError(f"partition_rows must be an integer >= 1 (partition_rows={partition_rows})")
    if jobs < 1:
        raise WorkbenchError(f"jobs must be an integer >= 1 (jobs={jobs})")
    from ..models import load

    if load(folder).card.kind != "tabular":  # verified here first: a bad model folder stops before any work
        raise WorkbenchError("batch scoring takes tabular models; give image files or folders without --jobs, "
                             "--scheduler or --partition-rows for a vision model")
    parts = find_partitions(data)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    folder = str(Path(folder).resolve())
    calls = [(folder, str(Path(p.path).resolve()), str((out / p.output_name).resolve()), p.keys, partition_rows, arrays)
             for p in parts]
    sizes = [_rows(p) for p in parts]
    result = BatchResult()
    from tqdm.auto import tqdm

    total = sum(sizes) if all(s is not None for s in sizes) else None
    bar = tqdm(total=total, unit="row", unit_scale=True, disable=not progress, desc="predict")

    def done(i: int, rows: Any, error: BaseException | None) -> None:
        if error is not None:
            result.failed[parts[i].name] = _why(error)
            bar.write(f"workbench: partition {parts[i].name} failed: {result.failed[parts[i].name]}")
            rows = (sizes[i] or 0) if total is not None else 0
        else:
            result.rows += rows
            result.written.append(calls[i][2])
        bar.update(rows)

    try:
        if scheduler:
            _dask(calls, scheduler, done)
        else:
            _local(calls, jobs, done)
    finally:
        bar.close()
    result.written.sort()
    return result
