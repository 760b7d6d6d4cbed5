"""A served name's request log as the rollout analysis reads it, and the labels that arrive later.

The log is the one ``workbench serve`` writes (:mod:`workbench.data._requestlog` specifies it), with
the rollout keys ``request_id``, ``variant`` (``champion``, ``challenger``, ``shadow``) and
``version``. Lines without them (older logs) count as the champion's. The experiment starts at the
first challenger or shadow line: champion lines before it are left out (they were not part of the
split). Each variant is analysed at one version: the one given, else its most frequent in the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DatasetError
from ._outcomes import key_texts

VARIANTS = ("champion", "challenger", "shadow")


@dataclass
class Requests:
    """The experiment's log lines: one row per logged row, with ``request_id``, ``variant``, ``version``,
    ``ts``, ``day``, ``latency_ms``, ``error`` (bool), ``key`` (the id column's value) and the outputs
    (``prediction``, ``proba_<class>`` or, for a recommender, ``items``)."""

    lines: pd.DataFrame
    model: str
    task: str  # binary, multiclass, regression or ranking
    classes: list[str]
    versions: dict[str, str]
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def of(self, variant: str) -> pd.DataFrame:
        return self.lines[self.lines["variant"] == variant]

    def counts(self) -> dict[str, int]:
        """Requests (distinct request ids) per variant present in the log."""
        got = self.lines.groupby("variant")["request_id"].nunique()
        return {v: int(got[v]) for v in VARIANTS if v in got.index}

    @property
    def days(self) -> list[str]:
        return sorted(self.lines["day"].unique().tolist())


def _load(log: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    from ..data import Dataset, log_files, read_request_log

    if isinstance(log, Dataset):
        ds = log
    else:
        if not isinstance(log, (str, Path)) or not str(log):
            raise DatasetError(f"log must be a request-log file, folder or glob, got {log!r}")
        files = log_files(log)
        if not files:
            raise DatasetError(f"{str(log)!r} holds no request log (JSON lines written by workbench serve, see "
                               "workbench.data.read_request_log); check the path")
        ds = read_request_log(log, files)
    if "meta" not in ds.extra or "outputs" not in ds.extra:
        raise DatasetError(f"{ds.name!r} is a table, not a request log: the rollout needs the logged outputs")
    return ds.frame, ds.extra["outputs"], ds.extra["meta"], dict(ds.extra.get("log") or {})


def _task(outputs: pd.DataFrame) -> tuple[str, list[str]]:
    if "items" in outputs.columns and outputs["items"].notna().any():
        return "ranking", []
    proba = [str(c)[len("proba_"):] for c in outputs.columns if str(c).startswith("proba_")]
    if proba:
        return ("binary" if len(proba) == 2 else "multiclass"), proba
    if "prediction" in outputs.columns and pd.to_numeric(outputs["prediction"], errors="coerce").notna().any():
        return "regression", []
    raise DatasetError("the log's outputs hold neither proba_<class> columns, numeric predictions nor recommended "
                       f"items ({', '.join(map(str, outputs.columns)) or 'no outputs'}): nothing to score")


def _pick_model(meta: pd.DataFrame, model: str) -> tuple[np.ndarray, str]:
    names = meta["model"].astype(str) if "model" in meta else pd.Series([""] * len(meta))
    present = sorted(set(names))
    if model:
        if model not in present:
            raise DatasetError(f"model {model!r} is not in the log; it holds: {', '.join(present)}")
        return (names == model).to_numpy(), model
    if len(present) > 1:
        raise DatasetError(f"the log holds several served names ({', '.join(present)}): choose one with model")
    return np.ones(len(meta), dtype=bool), present[0] if present else ""


def _lines(inputs: pd.DataFrame, outputs: pd.DataFrame, meta: pd.DataFrame, id_column: str) -> pd.DataFrame:
    n = len(meta)
    rid = meta["request_id"].astype(object) if "request_id" in meta else pd.Series([None] * n)
    rid = rid.where(rid.notna(), pd.Series([f"line-{i}" for i in range(n)], index=rid.index))  # old logs: a line each
    err = outputs["error"] if "error" in outputs else pd.Series([None] * n)
    frame = pd.DataFrame({
        "request_id": rid.astype(str).to_numpy(), "variant": meta["variant"].astype(str).to_numpy(),
        "version": meta["version"].astype(object).where(meta["version"].notna(), "").astype(str).to_numpy(),
        "ts": pd.to_datetime(meta["ts"], utc=True, errors="coerce").to_numpy() if "ts" in meta else pd.NaT,
        "latency_ms": pd.to_numeric(meta["latency_ms"], errors="coerce").to_numpy() if "latency_ms" in meta else np.nan,
        "error": (err.notna() & (err.astype(str) != "")).to_numpy(),
        "key": key_texts(inputs[id_column]).to_numpy(),
    })
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    for c in outputs.columns:
        if c != "error":
            frame[str(c)] = outputs[c].to_numpy()
    return frame


def read_requests(log: Any, *, id_column: str, model: str = "", champion_version: str = "",
                  challenger_version: str = "") -> Requests:
    """Read a request log (a file, folder or glob, or a :class:`workbench.data.Dataset` of one) for the
    rollout analysis; see the module docstring for what is kept."""
    inputs, outputs, meta, info = _load(log)
    keep, model = _pick_model(meta, model)
    if not id_column or id_column not in inputs.columns:
        raise DatasetError(f"id_column {id_column!r} is not among the logged inputs ({', '.join(map(str, inputs.columns))}"
                           "): the labels are joined on it; set id_column to one of them")
    task, classes = _task(outputs[keep])
    lines = _lines(inputs[keep], outputs[keep], meta[keep], id_column)
    notes: list[str] = []
    unknown = ~lines["variant"].isin(VARIANTS)
    if unknown.any():
        notes.append(f"{int(unknown.sum())} line(s) with an unknown variant left out: "
                     f"{sorted(lines.loc[unknown, 'variant'].unique())[:5]}")
        lines = lines[~unknown]
    if lines["ts"].isna().any():
        notes.append(f"{int(lines['ts'].isna().sum())} line(s) without a readable time left out")
        lines = lines[lines["ts"].notna()]
    versions, lines = _versions(lines, champion_version, challenger_version, notes)
    lines = _window(lines, notes)
    lines = lines.sort_values(["ts", "request_id"], kind="stable").reset_index(drop=True)
    lines["day"] = lines["ts"].dt.strftime("%Y-%m-%d")
    info = {**info, "analysed_lines": len(lines)}
    return Requests(lines, model, task, classes, versions, notes, info)


def _versions(lines: pd.DataFrame, champion_version: str, challenger_version: str,
              notes: list[str]) -> tuple[dict[str, str], pd.DataFrame]:
    versions: dict[str, str] = {}
    keep = np.ones(len(lines), dtype=bool)
    for variant, wanted, arg in (("champion", champion_version, "champion_version"),
                                 ("challenger", challenger_version, "challenger_version"),
                                 ("shadow", challenger_version, "challenger_version")):
        mine = (lines["variant"] == variant).to_numpy()
        seen = lines.loc[mine, "version"].value_counts()
        if seen.empty:
            continue
        if wanted and wanted not in seen.index:
            raise DatasetError(f"{arg} {wanted!r} has no {variant} lines in the log; its {variant} versions: "
                               f"{', '.join(v or '(not logged)' for v in seen.index)}")
        versions[variant] = wanted or str(seen.index[0])
        other = mine & (lines["version"] != versions[variant]).to_numpy()
        if other.any():
            notes.append(f"{int(other.sum())} {variant} line(s) of other versions left out "
                         f"({', '.join(v or '(not logged)' for v in seen.index if v != versions[variant])})")
            keep &= ~other
    return versions, lines[keep]


def _window(lines: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    others = lines["variant"] != "champion"
    if not others.any():
        raise DatasetError("the log holds only champion lines: nothing to compare. Serve a challenger "
                           "(workbench serve with a shadow or canary model) and read its log again")
    start = lines.loc[others, "ts"].min()
    before = lines["ts"] < start
    if before.any():
        notes.append(f"{int(before.sum())} champion line(s) before the experiment began ({start:%Y-%m-%d %H:%M} UTC, "
                     "the first challenger or shadow line) left out")
    return lines[~before]


def load_labels(labels: Any, *, id_column: str, label_column: str, ranking: bool, time_column: str = "") -> pd.DataFrame:
    """The labels table: a registered dataset name, a CSV/TSV/Parquet path, a Dataset or a DataFrame,
    checked for the columns the analysis joins on. Classification and regression need one row per key."""
    from ..data import Dataset, load_dataset

    if isinstance(labels, pd.DataFrame):
        frame = labels
    elif isinstance(labels, Dataset):
        frame = labels.frame
    elif isinstance(labels, (str, Path)) and str(labels):
        frame = load_dataset(str(labels)).frame
    else:
        raise DatasetError(f"labels must be a table (a path, a registered dataset or a DataFrame), got {labels!r}")
    needed = [id_column, label_column] + ([time_column] if ranking else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DatasetError(f"the labels table lacks {', '.join(map(repr, missing))}; its columns: "
                           f"{', '.join(map(str, frame.columns))}; set id_column/label_column"
                           + ("/time_column" if ranking else ""))
    frame = frame[needed].copy()
    frame["_key"] = key_texts(frame[id_column])
    if not ranking:
        dup = frame["_key"].duplicated(keep=False) & frame["_key"].notna()
        if dup.any():
            raise DatasetError(f"the labels table has {int(dup.sum())} rows sharing a key in {id_column!r} (e.g. "
                               f"{frame.loc[dup, id_column].iloc[0]!r}): one label per key is needed")
    return frame
