"""The endpoint of models with a table input (:class:`TableEndpoint`): ``POST /models/{name}/predict``
takes JSON records or a CSV upload, and answers one row per row.

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

from ..core.csvsafe import neutralize
from ..errors import WorkbenchError
from ._config import ServeConfig
from ._endpoint import ServedModel
from ._http import JSON_TYPES, error_details, explain_query, invalid, media_type, read_form, too_many, unsupported
from ._json import dumps
from ._logs import utc_now
from ._openapi import NUMBER_OR_NULL, SCALAR, TEXT_OR_NULL, answer, errors, prediction_row
from ._schemas import table_schema
from ._state import CACHE_MAX_ROWS, INLINE_ROWS, ServerState, compute

CSV_TYPES = ("text/csv", "application/csv", "text/plain")
MAX_CSV_COLUMNS = 4096
MAX_CSV_HEADER = 256 << 10
INLINE_BYTES = 64 << 10
"""Bodies up to this size are parsed on the event loop (well under a millisecond); larger ones in a worker
thread, so a big or crafted body never holds up other requests, ``/health`` included."""


class TableEndpoint(ServedModel):
    """A model with a table input: ``POST /models/<name>/predict`` takes records (JSON) or a CSV upload."""

    input_type = "table"
    label = "table"

    def __init__(self, name: str, folder: Any, predictor: Any, config: ServeConfig):
        super().__init__(name, folder, predictor, config)
        self.table = table_schema(name, self.card, config.max_rows)
        self.components = self.table.components
        self.numeric = {c.name: c.numeric for c in self.card.input_schema.columns}
        self.explains = bool(getattr(predictor, "explains", False))

    def _doc(self) -> dict[str, Any]:
        t = self.table
        content = {
            "application/json": {"schema": t.request},
            "text/csv": {"schema": {"type": "string", "description": "CSV with a header row holding every input column"}},
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary", "description": "a CSV file"}}}},
        }
        row = prediction_row(self, {c: SCALAR for c in t.id_columns})
        width = len(t.features) if self.explains else 0
        for i in range(1, width + 1):
            row["properties"][f"explain_{i}_feature"] = TEXT_OR_NULL
            row["properties"][f"explain_{i}_value"] = NUMBER_OR_NULL
        rows = answer(self.name, row)
        explain = {"name": "explain", "in": "query", "required": False,
                   "schema": {"type": "integer", "minimum": 1, "maximum": width},
                   "description": ("add the K largest contributions (SHAP values, in the model's margin: log-odds of "
                                   "the positive class, or the value) per row as explain_<i>_feature and "
                                   "explain_<i>_value; tabular binary classification and regression models")}
        return {"summary": f"Predict {self.card.task} {self.card.name!r}: records (JSON) or a CSV upload",
                "description": (f"Input columns: {', '.join(t.features)}. Up to {self.config.max_rows:,} rows per "
                                "request. Answers JSON, or CSV with 'Accept: text/csv'."),
                "extra": {"parameters": [explain] if width else [], "requestBody": {"required": True, "content": content},
                          "responses": {"200": {"description": "one prediction per record, in order", "content": {
                              "application/json": {"schema": rows}, "text/csv": {"schema": {"type": "string"}}}},
                              **errors({413: "too many rows or too large a body", 415: "unsupported media type",
                                        422: "invalid input, the field named; or an invalid explain"})}}}

    async def predict(self, state: ServerState, request: Request) -> Response:
        """Predictions for records (see the module docstring); cached by model version + canonical records."""
        start = time.perf_counter()
        _, ts = utc_now()
        k = explain_query(request, len(self.table.features), self.explains)
        records = await self.read(request)
        cacheable = len(records) <= CACHE_MAX_ROWS
        group = f"{self.digest}:t{k or ''}:{hashlib.blake2b(dumps(records), digest_size=16).hexdigest()}" if cacheable else ""
        rows_json = await state.cache.get(group) if cacheable else None
        rows: list | bytes | None = None
        m = state.metrics
        if rows_json is None:
            m.cache_misses.labels(self.name).inc()
            # explanations may take a permutation explainer's many evaluations: never on the event loop
            rows, rows_json = await compute(self._predict, records, k, inline=k is None and len(records) <= INLINE_ROWS)
            if cacheable:
                await state.cache.set(group, rows_json)
        else:
            m.cache_hits.labels(self.name).inc()
        m.rows.labels(self.name).inc(len(records))
        state.request_log.add(self.name, ts, 1000 * (time.perf_counter() - start), records,
                              rows if rows is not None else rows_json, skip=self.table.id_columns)
        if "text/csv" in request.headers.get("accept", ""):
            return _csv_answer(from_json(rows_json), self.config.neutralize_formulas)
        return self.predictions(rows_json)

    def _predict(self, records: list[dict[str, Any]], k: int | None = None) -> tuple[list[dict[str, Any]], bytes]:
        try:
            rows = self.predictor.predict_records(records) if k is None else self.predictor.explain_records(records, k)
        except WorkbenchError as e:
            raise invalid(str(e)) from None
        return rows, dumps(rows)

    async def read(self, request: Request) -> list[dict[str, Any]]:
        """The request's records, from JSON, a CSV body or a multipart CSV upload (415 for anything else)."""
        ctype = media_type(request)
        if ctype in JSON_TYPES:
            body = await request.body()
            return await compute(self.validate_json, body, inline=len(body) <= INLINE_BYTES)
        if ctype in CSV_TYPES:
            body = await request.body()
            return await compute(self.parse_csv, body, inline=len(body) <= INLINE_BYTES)
        if ctype == "multipart/form-data":
            form = await read_form(request, 1, "files")
            try:
                upload = form.get("file")
                if upload is None or isinstance(upload, str):
                    raise invalid("a multipart upload needs the CSV file in the field 'file'", ["body", "file"],
                                  "missing")
                body = await upload.read()
                return await compute(self.parse_csv, body, inline=len(body) <= INLINE_BYTES)
            finally:
                await form.close()
        raise unsupported(ctype, "application/json ({\"records\": [...]}), text/csv, or multipart/form-data with a "
                                 "CSV in the field 'file'")

    def validate_json(self, body: bytes) -> list[dict[str, Any]]:
        """The records of a JSON request, validated (422 naming each bad field; 413 over the row limit)."""
        try:
            return self.table.adapter.validate_json(body)["records"]
        except ValidationError as e:
            if too_many(e):
                raise HTTPException(413, f"too many records in one request (at most {self.config.max_rows:,}); "
                                         "send them in batches") from None
            raise HTTPException(422, error_details(e)) from None

    def parse_csv(self, data: bytes) -> list[dict[str, Any]]:
        """The records of a CSV upload: every input column required, numeric columns parsed, IDs kept."""
        import pandas as pd

        features, ids, max_rows = self.table.features, self.table.id_columns, self.config.max_rows
        check_header(data)
        wanted = {*features, *ids}
        try:
            # index_col=False: a first row with more fields than the header is never read as a many-level index
            # (10,000 extra fields took 12 s, quadratic; now linear)
            frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=True, nrows=max_rows + 1,
                                encoding="utf-8", usecols=lambda c: c in wanted, index_col=False)
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
            raise invalid(f"not a readable CSV file ({type(e).__name__}: {str(e)[:200]}); expected UTF-8 CSV with a "
                          "header row", ["body", "csv"]) from None
        if len(frame) > max_rows:
            raise HTTPException(413, f"too many rows in one request (at most {max_rows:,}); send them in batches")
        if frame.empty:
            raise invalid("the CSV file has no rows", ["body", "csv"])
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise invalid(f"the CSV file lacks column(s) {', '.join(map(repr, missing))}; expected all of "
                          f"{', '.join(features)} (values may be empty)", ["body", "csv"], "missing")
        keep = [c for c in [*features, *ids] if c in frame.columns]
        columns = {c: frame[c].tolist() for c in keep}
        return [{c: _csv_value(columns[c][i], self.numeric.get(c, False), c, i) for c in keep}
                for i in range(len(frame))]


def check_header(data: bytes) -> None:
    """422 unless the CSV's header record (read as CSV: a quoted field may hold newlines and commas) ends within
    :data:`MAX_CSV_HEADER` bytes and has fewer than :data:`MAX_CSV_COLUMNS` fields; before pandas sees the body."""
    head = data[:MAX_CSV_HEADER + 1].decode("utf-8", errors="replace")
    lines = head.splitlines(keepends=True)
    used = [0]

    def counted():
        for line in lines:
            used[0] += len(line)
            yield line

    try:
        header = next(csv.reader(counted()), [])
    except csv.Error as e:
        raise invalid(f"not a readable CSV header ({e}); expected UTF-8 CSV with a header row", ["body", "csv"]) from None
    if used[0] >= len(head) and len(data) > MAX_CSV_HEADER:
        raise invalid(f"the CSV header row is over {MAX_CSV_HEADER >> 10} KiB (a quoted field left open?); send the "
                      "model's input columns", ["body", "csv"])
    if len(header) >= MAX_CSV_COLUMNS:
        raise invalid(f"the CSV header has over {MAX_CSV_COLUMNS:,} columns; send the model's input columns",
                      ["body", "csv"])


def _csv_value(raw: Any, numeric: bool, column: str, row: int) -> Any:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    if not numeric:
        return str(raw)
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise invalid(f"column {column!r} must hold numbers, got {str(raw)[:50]!r}", ["body", "csv", row, column],
                      "float_parsing") from None
    if not math.isfinite(value):
        raise invalid(f"column {column!r} must hold finite numbers, got {str(raw)[:50]!r}", ["body", "csv", row, column],
                      "finite_number")
    return value


def _csv_answer(rows: list[dict[str, Any]], neutralize_formulas: bool = True) -> Response:
    out = io.StringIO()
    if rows and neutralize_formulas:  # text echoed from the request must not run as a spreadsheet formula
        rows = [{neutralize(k): neutralize(v) for k, v in row.items()} for row in rows]
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")  # RFC 4180: a CR in a cell is quoted
        writer.writeheader()
        writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv")
