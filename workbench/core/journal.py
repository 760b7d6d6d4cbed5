"""What a notebook records for its run: metrics, curves, and the tracking journal.

``workbench.record(name, value)`` displays the value (a plain-text line plus a workbench MIME output,
so plain papermill and JupyterLab show it) and, in a headless run, appends it to the run's journal.
The journal is a JSON-lines file in the run's private work folder (see :mod:`workbench.core.context`);
after the kernel ends the runner reads it back as a :class:`Journal`. Every kind of entry is declared
here (``KINDS``), with its writer and its reader:

============  ==========================================  =====================================
kind          written by                                  read by
============  ==========================================  =====================================
record        :func:`record`                              :meth:`Journal.records` (run.json)
curve         :func:`record_curve`                        :meth:`Journal.curves` (curves.json)
history       ``Tracker.log``                             :meth:`Journal.history` (W&B)
table         ``Tracker.log_table`` (side file)           :meth:`Journal.files` (W&B)
figure        ``Tracker.log_figure`` (side file)          :meth:`Journal.files` (W&B)
artifact      ``Tracker.log_artifact``                    :meth:`Journal.artifacts` (W&B)
summary       ``Tracker.summary``                         :meth:`Journal.summary` (W&B)
============  ==========================================  =====================================
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from .context import current
from .io import to_jsonable

MIME = "application/vnd.workbench.record+json"
CURVE_MIME = "application/vnd.workbench.curve+json"
_MAX_CURVE_POINTS = 500

RECORD, CURVE, HISTORY, TABLE, FIGURE, ARTIFACT, SUMMARY = (
    "record", "curve", "history", "table", "figure", "artifact", "summary")
KINDS = (RECORD, CURVE, HISTORY, TABLE, FIGURE, ARTIFACT, SUMMARY)
_CURVE_FIELDS = ("x", "y", "xlabel", "ylabel")


def _to_scalar(name: str, value: Any) -> float | int | str | bool | None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"record name must be a non-empty string, got {name!r}")
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # numpy / torch scalars
        value = value.item()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return v if math.isfinite(v) else None
    raise TypeError(
        f"record({name!r}, ...) takes a number or a string, got {type(value).__name__}; "
        "record a summary value (e.g. a mean) instead of a collection"
    )


def safe_name(name: str) -> str:
    """``name`` reduced to the characters W&B and file names accept."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name)).strip("-") or "item"


def append(kind: str, **fields: Any) -> bool:
    """Append an entry of ``kind`` to the current run's journal; False (nothing written) when not headless."""
    if kind not in KINDS:
        raise ValueError(f"journal entry kind must be one of {', '.join(KINDS)} (kind={kind!r})")
    ctx = current()
    if ctx is None:
        return False
    with open(ctx.journal, "a", encoding="utf-8") as f:
        f.write(json.dumps(to_jsonable({"kind": kind, **fields}), allow_nan=False) + "\n")
    return True


def append_file(kind: str, name: str, text: str) -> bool:
    """Append an entry whose payload is too big for a line (a table, a figure): the text goes to a side
    file next to the journal, the entry names it. False (nothing written) when not headless."""
    ctx = current()
    if ctx is None:
        return False
    path = Path(ctx.work_dir) / f"{kind}-{safe_name(name)}.json"
    path.write_text(text, encoding="utf-8")
    return append(kind, name=name, path=path.name)


def _display(data: dict[str, Any]) -> None:
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - outside IPython
        print(data.get("text/plain", ""))
        return
    display(data, raw=True)


def record(name: str, value: Any) -> Any:
    """Record a scalar (number or string) for this run and display it.

    Parameters
    ----------
    name : metric name, e.g. ``"test_accuracy"``.
    value : a number or a string; numpy/torch scalars are converted, NaN and infinities become None.

    Returns
    -------
    The converted value.
    """
    v = _to_scalar(name, value)
    append(RECORD, name=name, value=v)
    text = f"{name} = {v:.6g}" if isinstance(v, float) else f"{name} = {v}"
    _display({MIME: {"name": name, "value": v}, "text/plain": text})
    return v


def record_curve(name: str, x: Any, y: Any, xlabel: str = "", ylabel: str = "") -> None:
    """Record a curve (e.g. ROC, a learning curve) for comparison pages; it is not displayed.

    Parameters
    ----------
    name : curve name; curves with the same name overlay on ``workbench compare`` pages.
    x, y : equal-length sequences of numbers (long curves are thinned to 500 points).
    """
    xs = [float(v) for v in list(x)]
    ys = [float(v) for v in list(y)]
    if len(xs) != len(ys):
        raise ValueError(f"record_curve({name!r}): x has {len(xs)} points, y has {len(ys)}; they must match")
    if len(xs) > _MAX_CURVE_POINTS:
        step = len(xs) / _MAX_CURVE_POINTS
        idx = sorted({int(i * step) for i in range(_MAX_CURVE_POINTS)} | {len(xs) - 1})
        xs, ys = [xs[i] for i in idx], [ys[i] for i in idx]
    payload = {"name": name, "x": xs, "y": ys, "xlabel": xlabel, "ylabel": ylabel}
    if not append(CURVE, **payload):
        _display({CURVE_MIME: payload, "text/plain": ""})


@dataclass(frozen=True)
class Journal:
    """A run's journal as read back after the kernel ended: its entries, by kind.

    ``folder`` is where side files (tables, figures) live: the journal's own folder.
    """

    entries: tuple[dict[str, Any], ...] = ()
    folder: Path = Path(".")

    @classmethod
    def read(cls, path: str | Path) -> "Journal":
        """The entries of a journal file, in order (a torn last line, from a killed kernel, is skipped)."""
        p = Path(path)
        entries = []
        for line in (p.read_text(encoding="utf-8").splitlines() if p.exists() else []):
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
        return cls(tuple(e for e in entries if isinstance(e, dict)), p.parent)

    def map(self, fn: Callable[[Any], Any]) -> "Journal":
        """The journal with ``fn`` applied to every entry (e.g. scrubbing secrets)."""
        return Journal(tuple(fn(e) for e in self.entries), self.folder)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.entries if e.get("kind") == kind]

    def records(self) -> dict[str, Any]:
        """Recorded values, last one wins."""
        return {e["name"]: e["value"] for e in self.of(RECORD)}

    def curves(self) -> dict[str, dict[str, Any]]:
        """Recorded curves, by name."""
        return {e["name"]: {k: e.get(k) for k in _CURVE_FIELDS} for e in self.of(CURVE)}

    def history(self) -> list[tuple[int | None, dict[str, Any]]]:
        """History rows as ``(step, values)``."""
        return [(e.get("step"), e["values"]) for e in self.of(HISTORY)]

    def summary(self) -> dict[str, Any]:
        """Summary values, later ones win."""
        out: dict[str, Any] = {}
        for e in self.of(SUMMARY):
            out.update(e["values"])
        return out

    def files(self, *kinds: str) -> list[tuple[str, str, str]]:
        """``(kind, name, text)`` of the side-file entries of ``kinds`` (:data:`TABLE`, :data:`FIGURE`), in
        the order they were logged."""
        return [(e["kind"], e["name"], (self.folder / Path(e["path"]).name).read_text(encoding="utf-8"))
                for e in self.entries if e.get("kind") in kinds]

    def artifacts(self) -> list[tuple[str, str, Path]]:
        """``(name, type, path)`` of the logged artifacts."""
        return [(e["name"], e.get("type", "model"), Path(e["path"])) for e in self.of(ARTIFACT)]


def _outputs(nb: Any, types: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    if not hasattr(nb, "cells"):
        import nbformat

        nb = nbformat.read(str(nb), as_version=4)
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if o.get("output_type") in types:
                yield o.get("data", {})


def read_records(nb: Any) -> dict[str, Any]:
    """Values recorded in a notebook executed outside workbench (plain papermill), last one wins."""
    out: dict[str, Any] = {}
    for data in _outputs(nb, ("display_data", "execute_result")):
        if MIME in data:
            payload = data[MIME]
            payload = json.loads(payload) if isinstance(payload, str) else payload
            out[payload["name"]] = payload["value"]
    return out


def read_curves(nb: Any) -> dict[str, dict[str, Any]]:
    """Curves recorded in a notebook executed outside workbench, by name."""
    out: dict[str, dict[str, Any]] = {}
    for data in _outputs(nb, ("display_data",)):
        if CURVE_MIME in data:
            payload = data[CURVE_MIME]
            payload = json.loads(payload) if isinstance(payload, str) else payload
            out[payload["name"]] = {k: payload.get(k) for k in _CURVE_FIELDS}
    return out
