"""Scoring partitions: one worker call per input file, local processes or a Dask cluster."""

from __future__ import annotations

import atexit
import functools
import os
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import ModelError, WorkbenchError
from ._partitions import Partition, find_partitions

_MODELS: dict[str, Any] = {}  # folder -> predictor, one load per worker process
_FAILED: dict[str, BaseException] = {}  # folder -> why this worker could not load it (raised by every call)
_LOCK = threading.Lock()
_LOADS = [0]  # model loads in this process (BatchResult.loads: per worker)


class ModelLoadError(ModelError):
    """A worker could not load the model (it passed the checks of the parent): the whole run stops."""


def _model(folder: str) -> Any:
    """The verified model of ``folder``, loaded once in this process (a load that failed raises again)."""
    from ..models import load

    with _LOCK:  # a Dask worker's threads: one load
        if folder in _FAILED:
            raise ModelLoadError(_why(_FAILED[folder]))
        if folder not in _MODELS:
            try:
                _MODELS[folder] = load(folder)  # card and every file's sha256 verified on this worker
            except Exception as e:
                _FAILED[folder] = e
                raise ModelLoadError(_why(e)) from None
            _LOADS[0] += 1
        return _MODELS[folder]


def _start_worker(folder: str, threads: int) -> None:
    """A local worker's start: BLAS and Arrow at ``threads`` threads (the cores shared out among the workers),
    skops without scikit-learn's estimator walk, and the model loaded once, before the first partition."""
    import pyarrow as pa
    from threadpoolctl import threadpool_limits

    from ..models._skops_import import lean_skops

    threadpool_limits(threads)  # BLAS and OpenMP
    pa.set_cpu_count(threads)
    lean_skops()
    atexit.register(_quick_exit)  # last registered, first run: before the interpreter's own teardown
    try:
        _model(folder)
    except ModelLoadError:  # every call of this worker raises it; the parent stops the run at the first
        pass


def _quick_exit() -> None:
    """A spawned worker's end once the pool has sent it home (its results are written and sent): skip tearing
    down scikit-learn, SciPy, pandas and Arrow module by module, a second or more of every run (a worker
    forked by the forkserver ends with ``os._exit`` already)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)


def _batches(path: str, rows: int, columns: list[str] | None = None, encoded: list[str] | None = None) -> Iterator[Any]:
    """Tables of ``rows`` rows of one file (the last fewer), in file order: only ``columns`` (None: all),
    the text columns ``encoded`` read as dictionaries (a batch never spans a dictionary change, so the
    record batches of a file are gathered back into tables of ``rows`` rows)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if path.lower().endswith((".csv", ".tsv")):
        parse = pcsv.ParseOptions(delimiter="\t" if path.lower().endswith(".tsv") else ",")
        reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 22), parse_options=parse)
        for batch in reader:
            for start in range(0, batch.num_rows, rows):
                yield pa.Table.from_batches([batch.slice(start, rows)])
        return
    pending: list[Any] = []
    count = 0
    file = pq.ParquetFile(path, read_dictionary=encoded or None)
    for batch in file.iter_batches(batch_size=rows, columns=columns):
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows)
            pending, count = table.slice(rows).to_batches(), count - rows
    if count:
        yield pa.Table.from_batches(pending)


@functools.lru_cache(maxsize=1)
def _text_type() -> Any:
    """The Arrow type pandas gives a column of text (hive keys are written as pandas would have added them)."""
    import pandas as pd
    import pyarrow as pa

    return pa.Table.from_pandas(pd.DataFrame({"k": ["v"]}), preserve_index=False).column(0).type


def _with_keys(table: Any, keys: dict[str, str]) -> Any:
    """The hive keys as leading text columns (those the output lacks), as pandas would have added them."""
    import pyarrow as pa

    for k, v in keys.items():
        if k not in table.column_names:
            table = table.add_column(0, k, pa.repeat(pa.scalar(v, _text_type()), table.num_rows))
    return table


def _writer(path: Path, schema: Any) -> Any:
    """A Parquet writer for one output file: snappy, dictionary pages only for text columns (the labels, hive
    keys, text IDs; probabilities are all distinct: a dictionary attempt there only costs)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    return pq.ParquetWriter(path, schema, compression="snappy", use_dictionary=text or False)


def _widens(old: Any, new: Any) -> bool:
    """Whether a column the file holds as all-missing (``error`` while no row failed) has values in ``new``."""
    import pyarrow as pa

    return any(pa.types.is_null(f.type) and not pa.types.is_null(new.field(f.name).type)
               for f in old if f.name in new.names)


def _rewrite(writer: Any, tmp: Path, schema: Any) -> tuple[Any, Path]:
    """The rows written so far copied, row group by row group, into a new temporary file whose all-missing
    columns take the types ``schema`` gives them (the first reason in ``error`` after batches without one);
    its writer, open for the next batches, and its path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer.close()
    wider = pa.schema([schema.field(f.name) if pa.types.is_null(f.type) and f.name in schema.names else f
                       for f in writer.schema], metadata=writer.schema.metadata)
    copy = tmp.with_name(tmp.name + ".wide")
    new = _writer(copy, wider)
    done = pq.ParquetFile(tmp)
    for i in range(done.num_row_groups):
        new.write_table(done.read_row_group(i).cast(wider))
    tmp.unlink()
    return new, copy


def _read_plan(model: Any, src: str, arrays: bool) -> tuple[list[str] | None, list[str]]:
    """The columns to read and the text columns to read as dictionaries (``Predictor.arrow_columns``)."""
    if not arrays or src.lower().endswith((".csv", ".tsv")):
        return None, []
    import pyarrow.parquet as pq

    return model.arrow_columns(pq.read_schema(src))


def score_partition(folder: str, src: str, dst: str, keys: dict[str, str], rows: int, arrays: bool = True) -> int:
    """Score one file into ``dst`` (Parquet, written to a temporary name then renamed); the rows scored.
    ``arrays``: only the columns the model reads, each table of ``rows`` rows through ``Predictor.predict_arrow``
    (whole arrays where the model compiles), else all columns through ``Predictor.predict`` on a pandas frame
    (the reference path)."""
    from ..models import Predictor

    model = _model(folder)
    columns, encoded = _read_plan(model, src, arrays)
    tmp = Path(dst).with_name(f".{Path(dst).name}.{os.getpid()}.tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    writer, n, path = None, 0, tmp
    try:
        for batch in _batches(src, rows, columns, encoded):
            out = model.predict_arrow(batch, encoded) if arrays else Predictor.predict_arrow(model, batch)
            table = _with_keys(out, keys)
            if writer is None:
                writer = _writer(path, table.schema)
            elif _widens(writer.schema, table.schema):
                writer, path = _rewrite(writer, path, table.schema)
            if table.schema != writer.schema:
                table = table.cast(writer.schema)
            writer.write_table(table)
            n += batch.num_rows
        if writer is None:
            raise WorkbenchError(f"{src} has no rows")
        writer.close()
        writer = None
        os.replace(path, dst)
    finally:
        if writer is not None:
            writer.close()
        for p in (tmp, path):
            p.unlink(missing_ok=True)
    return n


def _work(*call: Any) -> tuple[int, int, int]:
    """:func:`score_partition` in a worker: the rows, this process's id and its count of model loads."""
    return score_partition(*call), os.getpid(), _LOADS[0]


@dataclass
class BatchResult:
    """What a batch run did: the rows scored, the files written, the partitions that failed and why, and per
    worker process (its id) how many times it loaded the model (once each: workers stay warm)."""

    rows: int = 0
    written: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    loads: dict[int, int] = field(default_factory=dict)

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


Done = Callable[[int, Any, BaseException | None], None]


def _local(calls: list[tuple], jobs: int, done: Done) -> None:
    if jobs <= 1:
        for i, call in enumerate(calls):
            try:
                value = _work(*call)
            except Exception as e:  # one bad partition: reported, the others go on
                done(i, None, e)
            else:
                done(i, value, None)
        return
    import multiprocessing as mp

    workers = min(jobs, len(calls))
    # workers of our own, started once and kept for every partition, each loading the model in its initializer;
    # forked from a server that imported Arrow, scikit-learn and skops once, before any thread (no inherited
    # locks; spawned where there is no forkserver)
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["workbench.batch._preload"])
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_start_worker,
                               initargs=(calls[0][0], max(1, (os.cpu_count() or 1) // workers)))
    try:
        pending = {pool.submit(_work, *call): i for i, call in enumerate(calls)}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                i = pending.pop(f)
                e = f.exception()
                done(i, None if e else f.result(), e)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask(calls: list[tuple], scheduler: str, done: Done) -> None:
    from distributed import Client, as_completed

    with Client(scheduler, timeout="30s") as client:
        futures = [client.submit(_work, *call, pure=False, key=f"workbench-score-{i}-{os.getpid()}")
                   for i, call in enumerate(calls)]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for f in as_completed(futures):
                e = f.exception() if f.status == "error" else None
                done(index[f.key], None if e else f.result(), e)
        finally:
            client.cancel(futures)


def _check_model(folder: str, local: bool) -> None:
    """The model folder checked before any partition is read: its card names a tabular model and every file's
    sha256 matches; in this process (``local``: it scores) the model is loaded, else each worker loads it."""
    from ..models import read_card, verify

    card = read_card(folder)
    if card.kind != "tabular":
        raise WorkbenchError("batch scoring takes tabular models; give image files or folders without --jobs, "
                             "--scheduler or --partition-rows for a vision model")
    if local:  # loaded afresh and verified for this run; the partitions reuse it
        _MODELS.pop(folder, None)
        _FAILED.pop(folder, None)
        _model(folder)
    else:
        verify(folder, card)


def score_dataset(folder: str | Path, data: str | Path, out: str | Path, jobs: int = 1, scheduler: str | None = None,
                  partition_rows: int = 200_000, progress: bool = True, arrays: bool = True) -> BatchResult:
    """Score every partition of ``data`` with the model in ``folder`` into the Parquet dataset ``out``.

    Each input file gives ``out/<its relative path>.parquet`` with the columns of ``Predictor.predict``
    plus the hive partition keys, rows in input order. A partition that fails (unreadable, a missing
    column) is named in ``BatchResult.failed``; the others are written. A model a worker cannot load stops
    the run (:class:`ModelLoadError`). ``arrays=False`` scores each batch through ``Predictor.predict`` on a
    pandas frame instead of on whole arrays (same output; benchmarks compare).
    """
    if partition_rows < 1:
        raise WorkbenchError(f"partition_rows must be an integer >= 1 (partition_rows={partition_rows})")
    if jobs < 1:
        raise WorkbenchError(f"jobs must be an integer >= 1 (jobs={jobs})")
    folder = str(Path(folder).resolve())
    _check_model(folder, local=not scheduler and jobs == 1)
    parts = find_partitions(data)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    calls = [(folder, str(Path(p.path).resolve()), str((out / p.output_name).resolve()), p.keys, partition_rows, arrays)
             for p in parts]
    sizes = [_rows(p) for p in parts]
    result = BatchResult()
    from tqdm.auto import tqdm

    total = sum(sizes) if all(s is not None for s in sizes) else None
    bar = tqdm(total=total, unit="row", unit_scale=True, disable=not progress, desc="predict")

    def done(i: int, value: Any, error: BaseException | None) -> None:
        if isinstance(error, ModelLoadError):
            raise ModelLoadError(f"the model in {folder} could not be loaded: {error}") from None
        rows = 0
        if error is not None:
            result.failed[parts[i].name] = _why(error)
            bar.write(f"workbench: partition {parts[i].name} failed: {result.failed[parts[i].name]}")
            rows = (sizes[i] or 0) if total is not None else 0
        else:
            rows, pid, loads = value
            result.rows += rows
            result.written.append(calls[i][2])
            result.loads[pid] = loads
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
