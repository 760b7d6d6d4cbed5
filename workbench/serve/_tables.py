"""``POST /models/{name}/predict`` for tabular models: JSON records or a CSV upload in, one row out per row.

JSON (``{"records": [...]}``) is validated on the raw bytes against the model's generated type. CSV
(a ``text/csv`` body, or a ``multipart/form-data`` upload in the field ``file``) is parsed in memory
(nothing is written to disk, no name from the request is ever a path) and checked the same way: every
input column present, numbers in numeric columns. The answer is JSON, or CSV with ``Accept: text/csv``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import time
from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..errors import WorkbenchError
from ._json import dumps
from ._logs import utc_now
from ._models import ServedModel
from ._schemas import error_details, too_many
from ._state import CACHE_MAX_ROWS, INLINE_ROWS, ServerState, compute

JSON_TYPES = ("application/json", "")
CSV_TYPES = ("text/csv", "application/csv", "text/plain")
MAX_CSV_COLUMNS = 4096


def unsupported(ctype: str, accepted: str) -> HTTPException:
    return HTTPException(415, f"unsupported Content-Type {ctype or 'none'!r}; send {accepted}")


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _invalid(msg: str, loc: list | None = None, kind: str = "value_error") -> HTTPException:
    return HTTPException(422, [{"loc": loc or ["body"], "msg": msg, "type": kind}])


def validate_json(sm: ServedModel, body: bytes, max_rows: int) -> list[dict[str, Any]]:
    """The records of a JSON request, validated (422 naming each bad field; 413 over the row limit)."""
    try:
        return sm.table.adapter.validate_json(body)["records"]
    except ValidationError as e:
        if too_many(e):
            raise HTTPException(413, f"too many records in one request (at most {max_rows:,}); send them in "
                                     "batches") from None
        raise HTTPException(422, error_details(e)) from None


def _csv_value(raw: Any, numeric: bool, column: str, row: int) -> Any:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    if not numeric:
        return str(raw)
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise _invalid(f"column {column!r} must hold numbers, got {str(raw)[:50]!r}", ["body", "csv", row, column],
                       "float_parsing") from None
    if not math.isfinite(value):
        raise _invalid(f"column {column!r} must hold finite numbers, got {str(raw)[:50]!r}", ["body", "csv", row, column],
                       "finite_number")
    return value


def parse_csv(sm: ServedModel, data: bytes, max_rows: int) -> list[dict[str, Any]]:
    """The records of a CSV upload: every input column required, numeric columns parsed, IDs kept."""
    import pandas as pd

    header = data.split(b"\n", 1)[0]
    if header.count(b",") >= MAX_CSV_COLUMNS:
        raise _invalid(f"the CSV header has over {MAX_CSV_COLUMNS:,} columns; send the model's input columns",
                       ["body", "csv"])
    wanted = {*sm.table.features, *sm.table.id_columns}
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=True, nrows=max_rows + 1, encoding="utf-8",
                            usecols=lambda c: c in wanted)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise _invalid(f"not a readable CSV file ({type(e).__name__}: {str(e)[:200]}); expected UTF-8 CSV with a "
                       "header row", ["body", "csv"]) from None
    if len(frame) > max_rows:
        raise HTTPException(413, f"too many rows in one request (at most {max_rows:,}); send them in batches")
    if frame.empty:
        raise _invalid("the CSV file has no rows", ["body", "csv"])
    missing = [c for c in sm.table.features if c not in frame.columns]
    if missing:
        raise _invalid(f"the CSV file lacks column(s) {', '.join(map(repr, missing))}; expected all of "
                       f"{', '.join(sm.table.features)} (values may be empty)", ["body", "csv"], "missing")
    roles = {c["name"]: c.get("role") == "numeric" for c in sm.card.input_schema.get("columns", [])}
    keep = [c for c in [*sm.table.features, *sm.table.id_columns] if c in frame.columns]
    columns = {c: frame[c].tolist() for c in keep}
    return [{c: _csv_value(columns[c][i], roles.get(c, False), c, i) for c in keep} for i in range(len(frame))]


async def read_form(request: Request, limit: int, what: str) -> Any:
    """The multipart form of ``request``; a malformed body is 422, well over ``limit`` files 413."""
    try:
        return await request.form(max_files=limit + 1, max_fields=limit + 8)
    except HTTPException as e:
        if e.status_code == 413:
            raise
        if "Too many files" in str(e.detail):
            raise HTTPException(413, f"too many {what} in one request (at most {limit}); send them in "
                                     "batches") from None
        raise HTTPException(422, [{"loc": ["body"], "msg": f"malformed multipart body: {e.detail}",
                                   "type": "multipart"}]) from None


async def read_table(state: ServerState, sm: ServedModel, request: Request) -> list[dict[str, Any]]:
    """The request's records, from JSON, a CSV body or a multipart CSV upload (415 for anything else)."""
    ctype = media_type(request)
    if ctype in JSON_TYPES:
        return validate_json(sm, await request.body(), state.config.max_rows)
    if ctype in CSV_TYPES:
        return parse_csv(sm, await request.body(), state.config.max_rows)
    if ctype == "multipart/form-data":
        form = await read_form(request, 1, "files")
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise _invalid("a multipart upload needs the CSV file in the field 'file'", ["body", "file"], "missing")
            return parse_csv(sm, await upload.read(), state.config.max_rows)
        finally:
            await form.close()
    raise unsupported(ctype, "application/json ({\"records\": [...]}), text/csv, or multipart/form-data with a "
                             "CSV in the field 'file'")


def _csv_answer(rows: list[dict[str, Any]]) -> Response:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv")


def _predict_records(sm: ServedModel, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bytes]:
    try:
        rows = sm.predictor.predict_records(records)
    except WorkbenchError as e:
        raise _invalid(str(e)) from None
    return rows, dumps(rows)


async def predict_table(state: ServerState, sm: ServedModel, request: Request) -> Response:
    """Predictions for records (see the module docstring); cached by model version + canonical records."""
    start = time.perf_counter()
    _, ts = utc_now()
    records = await read_table(state, sm, request)
    cacheable = len(records) <= CACHE_MAX_ROWS
    group = f"{sm.digest}:t:{hashlib.blake2b(dumps(records), digest_size=16).hexdigest()}" \
        if cacheable else ""
    rows_json = await state.cache.get(group) if cacheable else None
    rows: list | bytes | None = None
    m = state.metrics
    if rows_json is None:
        m.cache_misses.labels(sm.name).inc()
        rows, rows_json = await compute(_predict_records, sm, records, inline=len(records) <= INLINE_ROWS)
        if cacheable:
            await state.cache.set(group, rows_json)
    else:
        m.cache_hits.labels(sm.name).inc()
    m.rows.labels(sm.name).inc(len(records))
    state.request_log.add(sm.name, ts, 1000 * (time.perf_counter() - start), records,
                          rows if rows is not None else rows_json, skip=sm.table.id_columns)
    if "text/csv" in request.headers.get("accept", ""):
        return _csv_answer(from_json(rows_json))
    head = dumps({"model": sm.name, "version": sm.version})[:-1]
    return Response(head + b',"predictions":' + rows_json + b"}", media_type="application/json")
