"""An offline rollout: two saved models and a labelled table replayed as a served name's traffic.

``simulate(champion_dir, challenger_dir, table, folder, id_column=..., label_column=...)`` shuffles the
table's rows over ``days`` simulated days, scores every row with both models (through the saved-model
contract, :func:`workbench.models.load`) and writes what ``workbench serve`` would have logged: one
JSON line per row, one file per day (``<folder>/requests/<model>/requests-YYYYMMDD.jsonl``), with
``request_id``, ``variant`` and ``version``. Modes:

- ``ab``: a salted hash of the id column sends a ``challenger_share`` of the keys to the challenger
  (a key always gets the same variant); the others get the champion;
- ``shadow``: the champion answers every request; the challenger scores a copy (variant ``shadow``);
- ``both`` (also ``auto``): the A/B split, and the challenger also shadows the champion's requests.

The labels (the id and label columns) go to ``<folder>/labels.csv``. Latencies are simulated, not
measured (lognormal, the given medians), so a run is reproducible to the byte.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import DatasetError, ParameterError

MODES = ("ab", "shadow", "both", "auto")
LATENCY_SIGMA = 0.35  # lognormal spread of simulated latencies: p99 is about 2.3 x the median


def assign_variant(keys: Sequence[Any], share: float, salt: str = "") -> np.ndarray:
    """True where a key goes to the challenger: ``sha256(salt:key)`` read as a number in [0, 1) below
    ``share``. Sticky (a key always gets the same answer for the same salt) and independent of order."""
    if not 0 <= share <= 1:
        raise ParameterError(f"challenger_share must lie in [0, 1], got {share!r}")
    out = np.empty(len(keys), dtype=bool)
    for i, key in enumerate(keys):
        digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
        out[i] = int.from_bytes(digest[:8], "big") / 2.0**64 < share
    return out


@dataclass(frozen=True)
class Simulation:
    """What :func:`simulate` wrote: the log folder of the served name, the labels file and the counts."""

    log: Path
    labels: Path
    model: str
    mode: str
    days: int
    n_requests: int
    lines: dict[str, int]
    versions: dict[str, str]

    def summary(self) -> pd.DataFrame:
        rows = [("request log", str(self.log)), ("labels", str(self.labels)), ("served name", self.model),
                ("mode", self.mode), ("days", self.days), ("requests", f"{self.n_requests:,}"),
                *((f"{v} lines", f"{n:,}") for v, n in self.lines.items()),
                *((f"{v} version", s) for v, s in self.versions.items())]
        return pd.DataFrame(rows, columns=["", "value"]).set_index("")

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


def _table(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "frame"):
        return data.frame
    from ..data import load_dataset

    return load_dataset(str(data)).frame


def _check(mode: str, days: Any, share: Any, latency_ms: Any) -> None:
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or days < 1:
        raise ParameterError(f"days must be a whole number >= 1, got {days!r}")
    if mode != "shadow" and not 0 < share < 1:
        raise ParameterError(f"challenger_share must lie in (0, 1) for an A/B split, got {share!r}")
    if len(latency_ms) != 2 or any(not isinstance(v, (int, float)) or v <= 0 for v in latency_ms):
        raise ParameterError(f"latency_ms must be two medians > 0 (champion, challenger), got {latency_ms!r}")


def _outputs(predictor: Any, inputs: pd.DataFrame) -> list[dict]:
    from ..models import frame_records

    frame = predictor.predict(inputs)
    keys = set(getattr(predictor.card.input_schema, "id_columns", ()))
    return [{k: v for k, v in r.items() if k not in keys} for r in frame_records(frame)]


def _schedule(n: int, days: int, start: str, rng: np.random.Generator) -> pd.DatetimeIndex:
    """Request times: ``n`` requests spread evenly over ``days`` days, random seconds within each day, in order."""
    day = np.arange(n) * days // max(n, 1)
    seconds = np.sort(rng.uniform(0, 86_400, n) + day * 86_400.0)
    return pd.Timestamp(start, tz="UTC") + pd.to_timedelta(seconds, unit="s")


def simulate(champion: Any, challenger: Any, data: Any, folder: str | Path, *, id_column: str, label_column: str,
             model: str = "churn", mode: str = "ab", days: int = 14, challenger_share: float = 0.5, seed: int = 0,
             salt: str = "", versions: tuple[str, str] | None = None, latency_ms: tuple[float, float] = (20.0, 20.0),
             start: str = "2024-06-01", compress: bool = False) -> Simulation:
    """Replay a labelled table as ``model``'s traffic served by two saved models; see the module docstring.

    Parameters
    ----------
    champion, challenger : saved-model folders (or loaded predictors).
    data : the labelled table (a DataFrame, a Dataset, a registered name or a path): rows never seen in training.
    folder : where the log and the labels are written.
    id_column, label_column : the key of each row (unique) and the true outcome.
    versions : the logged versions (default ``MODEL:1`` and ``MODEL:2``, as if served from the registry).
    salt : the assignment hash's salt (default: the served name).
    compress : write ``.jsonl.gz`` files (a tenth of the size; the reader takes both).
    """
    from ..models import frame_records, load

    _check(mode, days, challenger_share, latency_ms)
    mode = "both" if mode == "auto" else mode
    frame = _table(data)
    for col, arg in ((id_column, "id_column"), (label_column, "label_column")):
        if col not in frame.columns:
            raise DatasetError(f"{arg} {col!r} is not a column of the table; columns: {', '.join(map(str, frame.columns))}")
    if frame[id_column].duplicated().any() or frame[id_column].isna().any():
        raise DatasetError(f"id_column {id_column!r} must be unique and never missing: it keys the labels")
    models = [load(m) if isinstance(m, (str, Path)) else m for m in (champion, challenger)]
    versions = tuple(versions or (f"{model}:1", f"{model}:2"))
    rng = np.random.default_rng(seed)
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    inputs = frame.drop(columns=[label_column])
    outs = [_outputs(p, inputs) for p in models]
    records = frame_records(inputs)
    to_challenger = assign_variant(frame[id_column].tolist(), challenger_share, salt or model) if mode != "shadow" \
        else np.zeros(len(frame), dtype=bool)
    ts = _schedule(len(frame), int(days), start, rng)
    latency = np.exp(rng.normal(0, LATENCY_SIGMA, (2, len(frame)))) * np.asarray(latency_ms, dtype=float)[:, None]
    request_ids = [rng.bytes(8).hex() for _ in range(len(frame))]
    log_dir = Path(folder) / "requests" / model
    files: dict[str, list[str]] = {}
    counts = {"champion": 0, "challenger": 0, "shadow": 0}
    for i, t in enumerate(ts):
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
        served = int(to_challenger[i])
        lines = [(("challenger" if served else "champion"), served)]
        if mode != "ab" and not served:
            lines.append(("shadow", 1))
        for variant, m in lines:
            files.setdefault(t.strftime("%Y%m%d"), []).append(json.dumps(
                {"ts": stamp, "model": model, "latency_ms": round(float(latency[m, i]), 3), "input": records[i],
                 "output": outs[m][i], "request_id": request_ids[i], "variant": variant, "version": versions[m]}))
            counts[variant] += 1
    _write(log_dir, files, compress)
    labels = Path(folder) / "labels.csv"
    frame[[id_column, label_column]].to_csv(labels, index=False)
    return Simulation(log_dir, labels, model, mode, int(days), len(frame), {k: v for k, v in counts.items() if v},
                      {"champion": versions[0], "challenger": versions[1]})


def _write(log_dir: Path, files: dict[str, list[str]], compress: bool) -> None:
    import gzip

    from ..core.io import atomic_write_bytes

    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("requests-*.jsonl*"):  # a rerun into the same folder replaces, never appends
        old.unlink()
    for day, lines in files.items():
        data = ("\n".join(lines) + "\n").encode("utf-8")
        suffix = ".jsonl.gz" if compress else ".jsonl"
        atomic_write_bytes(log_dir / f"requests-{day}{suffix}", gzip.compress(data, mtime=0) if compress else data)
