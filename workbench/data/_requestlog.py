"""The request log that ``workbench serve`` writes, read back as a table (drift monitoring's ``current``).

Format (version 1): one folder per model; inside it one or more files, which may rotate (one per day
is usual: ``requests-2024-06-01.jsonl``). Each file holds one JSON object per line (JSON Lines,
UTF-8, optionally gzip-compressed as ``.jsonl.gz``)::

    {"ts": "2024-06-01T12:00:00.123Z", "model": "churn", "latency_ms": 3.2,
     "input": {"tenure": 12, "contract": "Month-to-month", ...},
     "output": {"prediction": "No", "proba_No": 0.81, "proba_Yes": 0.19}}

- ``ts``: ISO-8601 time of the request in UTC; ``model``: the served model's name; ``latency_ms``:
  the time to answer, in milliseconds (a float).
- ``input``: one request row, column name to value, as the model received it (the columns of the
  model card's ``input_schema``; JSON numbers, strings, booleans or null for a missing value).
- ``output``: what ``Predictor.predict`` returned for that row: ``prediction``, ``proba_<class>`` per
  class and, when the row failed, ``error``.
- rollout keys (``workbench serve`` with a challenger; read by the rollout notebook): ``request_id``
  (a hex string, the same on every row of one request and on its shadow copy), ``variant``
  (``"champion"``, ``"challenger"`` for a canary/A-B share, ``"shadow"`` for a copy scored off the
  answer path) and ``version`` (``NAME:VERSION`` when served from the registry, e.g. ``"churn:3"``,
  else the model files' 12-hex digest). They are always metadata columns; lines without them (older
  logs) read as variant ``champion`` with no request id or version. A reader that wants the traffic
  users saw (drift) keeps the lines whose variant is not ``shadow``.
- other top-level keys are kept as metadata too; blank lines are ignored.

Parquet files holding the same records flattened are read too: columns ``ts``, ``model``,
``latency_ms``, ``input.<column>`` and ``output.<name>``. A path may be one file, a folder (its
``.jsonl``/``.jsonl.gz``/``.ndjson``/``.parquet`` files, subfolders included, in name order) or a glob
pattern. Lines that are not JSON objects with an ``input`` object (a half-written last line, say)
are skipped and counted, never fatal, unless no line is readable.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DatasetError
from ._dataset import Dataset, frame_fingerprint

if TYPE_CHECKING:
    import pandas as pd

LOG_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
META_KEYS = ("ts", "model", "latency_ms")
ROLLOUT_KEYS = ("request_id", "variant", "version")
_GLOB_CHARS = "*?["


def _suffix(p: Path) -> str:
    return "".join(p.suffixes[-2:]).lower() if p.suffix.lower() == ".gz" else p.suffix.lower()


def _is_log_file(p: Path) -> bool:
    return _suffix(p) in LOG_SUFFIXES


def _parquet_is_log(p: Path) -> bool:
    try:
        import pyarrow.parquet as pq

        names = pq.read_schema(p).names
    except Exception:  # noqa: BLE001 - not a readable parquet file: not a log either
        return False
    return any(n.startswith("input.") for n in names)


def _is_log(p: Path) -> bool:
    return _is_log_file(p) or (p.suffix.lower() in (".parquet", ".pq") and _parquet_is_log(p))


def log_files(path: str | Path) -> list[Path] | None:
    """The request-log files at ``path`` (a log file, a folder of them, or a glob), or None when
    ``path`` is not a request log."""
    key = str(path)
    if any(ch in key for ch in _GLOB_CHARS) and not Path(key).exists():
        parts = Path(key).expanduser().parts
        i = next(i for i, part in enumerate(parts) if any(ch in part for ch in _GLOB_CHARS))
        root = Path(*parts[:i]) if i else Path(".")
        found = sorted(p for p in root.glob(str(Path(*parts[i:]))) if p.is_file())
        return [p for p in found if _is_log(p)] if found else None
    p = Path(key).expanduser()
    if p.is_file():
        return [p] if _is_log(p) else None
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".") and _is_log_file(f))
        parquet = sorted(f for f in p.rglob("*.parquet") if f.is_file() and _parquet_is_log(f))
        return sorted(files + parquet) or None
    return None


def _records(path: Path, stats: dict[str, Any]) -> list[dict]:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    out: list[dict] = []
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                stats["lines"] += 1
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    _skip(stats, path, i, f"not JSON ({e.msg})")
                    continue
                if not isinstance(rec, dict) or not isinstance(rec.get("input"), dict):
                    _skip(stats, path, i, "no 'input' object")
                    continue
                out.append(rec)
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise DatasetError(f"request log {str(path)!r} could not be read: {type(e).__name__}: {e}") from e
    return out


def _skip(stats: dict[str, Any], path: Path, line: int, why: str) -> None:
    stats["skipped"] += 1
    if len(stats["examples"]) < 5:
        stats["examples"].append(f"{path.name}:{line}: {why}")


def _frames_from_records(records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    import pandas as pd

    inputs = pd.DataFrame.from_records([r["input"] for r in records])
    outputs = pd.DataFrame.from_records([r["output"] if isinstance(r.get("output"), dict) else {} for r in records])
    meta_keys = list(dict.fromkeys([*(k for r in records[:1000] for k in r if k not in ("input", "output")),
                                    *(k for k in ROLLOUT_KEYS if any(k in r for r in records))]))
    meta = pd.DataFrame({k: [r.get(k) for r in records] for k in meta_keys})
    return inputs, outputs, meta


def _frames_from_parquet(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    import pandas as pd

    df = pd.read_parquet(path)
    inputs = df[[c for c in df.columns if c.startswith("input.")]].rename(columns=lambda c: c[len("input."):])
    outputs = df[[c for c in df.columns if c.startswith("output.")]].rename(columns=lambda c: c[len("output."):])
    meta = df[[c for c in df.columns if not c.startswith(("input.", "output."))]]
    return inputs.reset_index(drop=True), outputs.reset_index(drop=True), meta.reset_index(drop=True)


def read_request_log(path: str | Path, files: list[Path] | None = None) -> Dataset:
    """A request log (see the module docstring) as a :class:`Dataset`.

    ``frame`` holds the input columns, one row per logged request; ``extra["outputs"]`` the model's
    outputs (``prediction``, ``proba_<class>``, ...) and ``extra["meta"]`` ``ts`` (UTC datetimes),
    ``model``, ``latency_ms`` and the rollout keys (``request_id``, ``variant``, ``version``) on the same
    rows; ``extra["log"]`` says what was read: files, lines, skipped lines with examples, requests per
    model, first and last time.
    """
    import pandas as pd

    files = files if files is not None else log_files(path)
    if not files:
        raise DatasetError(f"{str(path)!r} holds no request-log files ({', '.join(LOG_SUFFIXES)} or Parquet with "
                           "input.<column> columns); see workbench.data.read_request_log for the format")
    stats: dict[str, Any] = {"lines": 0, "skipped": 0, "examples": []}
    parts = [_frames_from_parquet(f) if f.suffix.lower() in (".parquet", ".pq") else _frames_from_records(_records(f, stats))
             for f in files]
    parts = [p for p in parts if len(p[0])]
    if not parts:
        why = f"; skipped lines: {'; '.join(stats['examples'])}" if stats["skipped"] else ""
        raise DatasetError(f"request log {str(path)!r} has no requests ({len(files)} file(s), {stats['lines']} "
                           f"non-blank line(s)){why}: nothing to compare; check the path or the time window")
    inputs, outputs, meta = (pd.concat([p[i] for p in parts], ignore_index=True) for i in range(3))
    for key in ROLLOUT_KEYS:  # older lines (or a whole older log) lack them: served by the champion
        meta[key] = meta[key].astype(object).where(meta[key].notna(), None) if key in meta else None
    meta["variant"] = meta["variant"].fillna("champion")
    if "ts" in meta:
        meta["ts"] = pd.to_datetime(meta["ts"], utc=True, errors="coerce", format="ISO8601")
    if "latency_ms" in meta:
        meta["latency_ms"] = pd.to_numeric(meta["latency_ms"], errors="coerce")
    inputs.columns = [str(c) for c in inputs.columns]
    info = {"files": [str(f) for f in files], "lines": stats["lines"], "requests": len(inputs),
            "skipped_lines": stats["skipped"], "skipped_examples": stats["examples"],
            "models": dict(Counter(meta["model"].astype(str))) if "model" in meta else {},
            "first_ts": str(meta["ts"].min()) if "ts" in meta and meta["ts"].notna().any() else None,
            "last_ts": str(meta["ts"].max()) if "ts" in meta and meta["ts"].notna().any() else None}
    p = Path(str(path))
    name = p.stem.split(".")[0] if p.is_file() else (p.name or str(path))
    return Dataset(frame=inputs, name=name, source=f"request log {path}", fingerprint=frame_fingerprint(inputs),
                   description=f"{len(inputs):,} logged requests from {len(files)} file(s)",
                   extra={"outputs": outputs, "meta": meta, "log": info})
