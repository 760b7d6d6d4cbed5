"""A drift report: reference vs current, column by column, as a whole, and through the model's eyes.

``DriftReport(reference, current, target=..., model=...)`` validates everything and loads both
tables (and the model) up front; the statistics run on first use and are cached. Each section
method returns something a notebook cell displays; a section that does not apply (no model, no
labels in current) returns a note saying why.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..data import column_kind, prepare_frame
from ..errors import DatasetError, ParameterError
from ..evaluation import Note, Panel, fmt, section
from ._column_drift import ColumnDrift, compare_columns, results_table
from ._config import Thresholds
from ._domain import DomainResult, domain_classifier
from ._figures import distributions_figure, importance_figure, score_figure
from ._groups import check_sensitive, group_drift
from ._model import model_inputs, performance, prediction_kinds, predictions, table_predictor
from ._scale import compare_profiles, out_of_core, profile_table
from ._schema import Schema, compare_schemas, sides
from ._text import overview_rows, tests_text, verdict_text


def _check_params(columns: Any, drift_share: Any, max_rows: Any, seed: Any, shift: Any, target: Any) -> None:
    if not isinstance(columns, (list, tuple)) or not all(isinstance(c, str) for c in columns):
        raise ParameterError(f"columns must be a list of column names ([] for all shared), got {columns!r}")
    if isinstance(drift_share, bool) or not isinstance(drift_share, (int, float)) or not 0 < drift_share <= 1:
        raise ParameterError(f"drift_share must be a number in (0, 1], got {drift_share!r}")
    for name, v in (("max_rows", max_rows), ("seed", seed)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ParameterError(f"{name} must be a whole number >= 0, got {v!r}")
    if shift is not None and not isinstance(shift, dict):
        raise ParameterError(f"shift must be a mapping of column to change, e.g. {{tenure: {{add: 6}}}}, got {shift!r}")
    if target is not None and not isinstance(target, str):
        raise ParameterError(f"target must be a column name or '' for none, got {target!r}")


class DriftReport:
    """Is the current table still the reference table?

    Parameters
    ----------
    reference, current : a registered dataset name, a CSV/TSV/Parquet path, a request log (a
        ``.jsonl`` file, a folder of them or a glob; see :mod:`workbench.data`), a
        :class:`workbench.data.Dataset` or a DataFrame.
    target : the label column ("" for none; with a model, its card's target when present).
    model : a saved-model folder (or a loaded Predictor): prediction drift, and performance on
        current when it has labels. "" for none.
    columns : the columns to compare; empty: every column of the reference (the shared ones are compared).
    threshold : per-check overrides of :class:`Thresholds` (e.g. ``{"p_value": 0.01}``).
    drift_share : dataset drift when at least this share of compared columns drifted (or the
        domain classifier tells the tables apart).
    max_rows : a table above this many rows is replaced by a seeded random sample of this size (0: all rows).
    seed : seed of the samples and of the domain classifier.
    shift : what-if: shifts planted into current first (see :func:`workbench.data.plant_shift`).
    sensitive : columns of both tables whose groups get prediction drift of their own (:meth:`prediction_drift_by_group`).
    domain_rows : rows per table the domain classifier samples (0: skip it).
    engine : "auto": Parquet datasets (paths) above ``max_rows`` get their column statistics out of core
        (exact counts and moments, KLL sketches for KS and Wasserstein, the sketch's rank error
        subtracted before the KS test; ``ks_error`` in the table) and the rest (schema, domain
        classifier, figures) a seeded sample of ``max_rows``; "dask" (or "sketch"): always so; "pandas": in memory.
    scheduler : a Dask scheduler address (``tcp://HOST:8786``): out of core, the files are profiled on that
        cluster's workers (they must read the same paths) with the same results; "" profiles them here.
    """

    def __init__(self, reference: Any, current: Any, *, target: str | None = "", model: Any = "",
                 columns: Sequence[str] = (), threshold: Any = None, drift_share: float = 0.5,
                 max_rows: int = 1_000_000, seed: int = 0, shift: dict | None = None, domain_rows: int = 20_000,
                 sensitive: Sequence[str] = (), engine: str = "auto", scheduler: str = ""):
        _check_params(columns, drift_share, max_rows, seed, shift, target)
        self.profiles, reference, current = out_of_core(reference, current, engine, max_rows, seed, shift,
                                                                 scheduler)
        self.thresholds = Thresholds.from_mapping(threshold)
        self.drift_share, self.seed, self.max_rows, self.domain_rows = float(drift_share), int(seed), int(max_rows), \
            int(domain_rows)
        self.shift = dict(shift or {})
        self.predictor = table_predictor(model)  # a bad folder fails before any data is read
        self.reference, self.current = sides(reference, current, max_rows=self.max_rows, seed=self.seed,
                                             shift=self.shift)
        self.target = self._resolve_target(target)
        self.sensitive = check_sensitive(self.reference.raw, self.current.raw, sensitive)
        exclude = {self.target: "the target (compared separately)"} if self.target else {}
        if self.predictor is not None:
            for c in self.predictor.card.input_schema.id_columns:
                exclude.setdefault(c, "an ID column of the model")
        self.schema: Schema = compare_schemas(self.reference.raw, self.current.raw, columns=list(columns),
                                              exclude=exclude)
        self._model_findings()
        self.failures: list[str] = []
        self._cache: dict[str, Any] = {}

    def _resolve_target(self, target: str | None) -> str | None:
        target = target or None
        notes = []
        if target is None and self.predictor is not None:
            card_target = self.predictor.card.details.get("target")
            if isinstance(card_target, str) and card_target in self.reference.raw.columns:
                target = card_target
                notes.append(f"target {target!r} taken from the model card")
        if target is not None and target not in self.reference.raw.columns:
            raise DatasetError(f"target column {target!r} not in the reference table {self.reference.name!r}; columns: "
                               f"{', '.join(map(str, self.reference.raw.columns))}; set target to one of them or ''")
        self._target_notes = notes
        return target

    def _model_findings(self) -> None:
        if self.predictor is None:
            return
        for c in model_inputs(self.predictor):
            for side in (self.reference, self.current):
                if c not in side.raw.columns and (side.outputs is None or "prediction" not in side.outputs):
                    self.schema.add("warning", c, f"the model needs it and the {side.role} table lacks it: "
                                                  f"{side.role} predictions cannot be computed")

    # ------------------------------------------------------------------ cached computations

    def _cached(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def _core(self) -> tuple[list[ColumnDrift], DomainResult | None]:
        kinds = dict(self.schema.kinds)
        with ThreadPoolExecutor(1) as pool:  # the classifier (one thread) overlaps the column statistics
            future = pool.submit(self._domain, kinds) if self.domain_rows and kinds else None
            if self.profiles is not None:  # column statistics out of core, over every row
                results = compare_profiles(*self.profiles, self.thresholds, columns=list(kinds))
            else:
                results = compare_columns(self.schema.ref, self.schema.cur, kinds, self.thresholds)
            try:
                domain = future.result() if future else None
            except Exception as e:  # noqa: BLE001 - reported in the multivariate section
                self.failures.append(f"domain classifier: {type(e).__name__}: {e}")
                domain = None
        return results, domain

    def _domain(self, kinds: dict[str, str]) -> DomainResult:
        usable = {c: k for c, k in kinds.items() if k != "empty"}
        return domain_classifier(self.schema.ref, self.schema.cur, usable, seed=self.seed, max_rows=self.domain_rows,
                                 threshold=self.thresholds.domain_auc)

    @property
    def results(self) -> list[ColumnDrift]:
        """One verdict per compared column, drifted first, then by drift score."""
        return self._cached("core", self._core)[0]

    @property
    def domain_result(self) -> DomainResult | None:
        """The domain classifier's held-out ROC-AUC, interval and column importance (None when skipped)."""
        return self._cached("core", self._core)[1]

    @property
    def target_results(self) -> list[ColumnDrift]:
        """The target's own drift (label drift), when both tables have it."""
        return self._cached("target", self._target_drift)

    def _target_drift(self) -> list[ColumnDrift]:
        t = self.target
        if t is None or t not in self.current.raw.columns:
            return []
        ref, _, _ = prepare_frame(self.reference.raw[[t]])
        cur, _, _ = prepare_frame(self.current.raw[[t]])
        kind = column_kind(ref[t])
        kind = "categorical" if kind in ("boolean", "mixed") else kind
        return compare_columns(ref, cur, {t: kind}, self.thresholds, role="target")

    def _predictions(self) -> tuple[pd.DataFrame | None, pd.DataFrame | None, list[str]]:
        ref, note_r = predictions(self.reference, self.predictor)
        cur, note_c = predictions(self.current, self.predictor)
        return ref, cur, [note_r, note_c]

    @property
    def prediction_results(self) -> list[ColumnDrift]:
        """Drift of the predicted label and probabilities (model or recorded predictions)."""
        def run() -> list[ColumnDrift]:
            ref, cur, _ = self._cached("predictions", self._predictions)
            if ref is None or cur is None:
                return []
            classes = list(self.predictor.classes) if self.predictor else \
                [str(c)[len("proba_"):] for c in ref.columns if str(c).startswith("proba_")]
            kinds = {c: k for c, k in prediction_kinds(ref, classes).items() if c in cur.columns}
            return compare_columns(ref, cur, kinds, self.thresholds, role="prediction")
        return self._cached("prediction_drift", run)

    # ------------------------------------------------------------------ headline values

    def headline(self) -> dict[str, Any]:
        """``drift_share``, ``n_drifted``, ``n_columns``, ``dataset_drift``, ``domain_auc`` and, when
        computed, ``target_drift``, ``prediction_drift`` and current ROC-AUC (``current_roc_auc``)."""
        res = self.results
        n_drifted = sum(c.drifted for c in res)
        share = n_drifted / len(res) if res else 0.0
        dom = self.domain_result
        out: dict[str, Any] = {"drift_share": share, "n_drifted": n_drifted, "n_columns": len(res),
                               "dataset_drift": bool(share >= self.drift_share or (dom is not None and dom.drifted)),
                               "domain_auc": dom.auc if dom is not None and np.isfinite(dom.auc) else None}
        if self.target_results:
            out["target_drift"] = bool(self.target_results[0].drifted)
        if self.prediction_results:
            out["prediction_drift"] = any(c.drifted for c in self.prediction_results)
        return out

    def table(self) -> pd.DataFrame:
        """Every verdict (features, then target, then predictions) with the columns of ``drift.csv``."""
        table = (profile_table if self.profiles is not None else results_table)
        return table(self.results + self.target_results + self.prediction_results)

    # ------------------------------------------------------------------ sections

    @section("overview")
    def overview(self) -> Panel:
        """Both tables (source, rows, sample), what is compared, the target, the model and the tests."""
        rows = overview_rows(self.reference, self.current, self.schema, max_rows=self.max_rows, seed=self.seed,
                             target=self.target, predictor=self.predictor, shift=self.shift)
        notes = [Note(n) for n in self._target_notes]
        for side in (self.reference, self.current):
            log = side.log or {}
            if log.get("skipped_lines"):
                notes.append(Note(f"{side.role} log: {log['skipped_lines']} unreadable line(s) skipped, e.g. "
                                  + "; ".join(log["skipped_examples"][:3]), "warning"))
            if len(log.get("models") or {}) > 1:
                notes.append(Note(f"{side.role} log mixes models: {log['models']}", "warning"))
        few = min(len(self.reference.raw), len(self.current.raw))
        if few < 100:
            notes.append(Note(f"only {few} row(s) on one side: the tests can see large shifts only", "warning"))
        table = pd.DataFrame(rows, columns=["", "value"]).set_index("")
        return Panel(table, *notes, Note(tests_text(self.thresholds, self.drift_share)))

    @section("schema")
    def findings(self) -> Any:
        """Schema differences and columns left out (missing, extra, changed types, ID-like, empty)."""
        if not self.schema.findings:
            return Note("the schemas match: same columns, same kinds of values")
        order = {"error": 0, "warning": 1, "info": 2}
        table = pd.DataFrame(self.schema.findings).sort_values("severity", key=lambda s: s.map(order), kind="stable")
        return Panel(table.reset_index(drop=True))

    @section("summary")
    def summary(self) -> Any:
        """The verdict, and every compared column sorted by drift score (drifted first)."""
        if not self.results:
            return Note("no column to compare: the tables share none of the selected columns", "warning")
        h = self.headline()
        return Panel(Note(verdict_text(h, self.results, self.drift_share, self.domain_result),
                          "warning" if h["dataset_drift"] else "info"),
                     _display_table(self.results), score_figure(self.results))

    @section("distributions")
    def distributions(self, columns: Sequence[str] | None = None, max_columns: int = 12) -> Any:
        """Reference and current overlaid for the drifted columns (or the given ones)."""
        res = {c.column: c for c in self.results + self.target_results}
        if columns:
            chosen = [res[c] for c in columns if c in res]
            title = "Distributions, reference vs current"
        else:
            chosen = [c for c in self.results if c.drifted]
            title = "Drifted columns: reference vs current (share of non-missing values)"
        if not chosen:
            closest = self.results[:3]
            return Panel(Note("no column drifted; the three closest to their thresholds:"),
                         distributions_figure(closest, "Closest to drifting: reference vs current")) if closest else \
                Note("no column to draw")
        more = Note(f"showing {max_columns} of {len(chosen)} columns") if len(chosen) > max_columns else None
        return Panel(distributions_figure(chosen[:max_columns], title), more)

    @section("multivariate check")
    def multivariate(self) -> Any:
        """The domain classifier: held-out ROC-AUC with its interval, and the columns it relies on."""
        dom = self.domain_result
        if dom is None:
            return Note("domain classifier skipped" + (f" ({self.failures[-1]})" if self.failures else
                                                         " (domain_rows=0 or no compared column)"), "warning")
        if not np.isfinite(dom.auc):
            return Note(dom.note, "warning")
        used = dom.importance[dom.importance["importance"] >= 0.01]["column"].tolist()
        uses = (f"it relies on: {', '.join(used)}" if used else "no column moves its ROC-AUC by 0.01 or more")
        return Panel(Note(dom.describe(), "warning" if dom.drifted else "info"), Note(uses),
                     importance_figure(dom.importance))

    @section("target drift")
    def target_drift(self) -> Any:
        """The label's distribution in both tables (needs the target in both)."""
        if self.target is None:
            return Note("no target column given: label drift not checked")
        if not self.target_results:
            return Note(f"the current table has no {self.target!r} column (no labels yet): label drift and "
                        "performance on current are not checked")
        return Panel(_display_table(self.target_results), distributions_figure(self.target_results,
                                                                               f"{self.target}: reference vs current"))

    @section("prediction drift")
    def prediction_drift(self) -> Any:
        """Drift of the model's predictions: predicted label and probability, reference vs current."""
        _, _, notes = self._cached("predictions", self._predictions)
        res = self.prediction_results
        if not res:
            return Panel(*[Note(n) for n in notes], Note("prediction drift needs predictions on both tables: give a "
                                                         "model (model=MODEL_DIR), or log predictions with the data"))
        return Panel(*[Note(n) for n in notes], _display_table(res),
                     distributions_figure(res, "Predictions: reference vs current"))

    @section("prediction drift by group")
    def prediction_drift_by_group(self) -> Any:
        """Prediction drift within each group of each ``sensitive`` column (at least 30 rows a side)."""
        if not self.sensitive:
            return Note("no sensitive columns given (sensitive=[]): prediction drift by group not checked")
        ref, cur, _ = self._cached("predictions", self._predictions)
        if ref is None or cur is None:
            return Note("prediction drift by group needs predictions on both tables: give a model (model=MODEL_DIR)")
        classes = list(self.predictor.classes) if self.predictor else \
            [str(c)[len("proba_"):] for c in ref.columns if str(c).startswith("proba_")]
        kinds = {c: k for c, k in prediction_kinds(ref, classes).items() if c in cur.columns}
        table = group_drift(self.reference.raw, self.current.raw, ref, cur, kinds, self.sensitive, self.thresholds)
        return Panel(Note("Each group's predictions, reference vs current, with the tests of the overall prediction "
                          "drift (p-values adjusted within the group)."), table.set_index(["feature", "group"]).round(4))

    @section("performance")
    def performance(self) -> Any:
        """The model's metrics on reference and current (labels needed), and at training time."""
        if self.predictor is None:
            return Note("no model given: performance not measured (give one: model=MODEL_DIR)")
        ref, cur, notes = self._cached("predictions", self._predictions)
        t = self.target
        y_ref = self.reference.raw[t] if t and ref is not None else None
        y_cur = self.current.raw[t] if t and cur is not None and t in self.current.raw.columns else None
        if y_ref is None and y_cur is None:
            return Panel(*[Note(n) for n in notes], Note("no labels: performance needs the target column"))
        if self.predictor.card.task not in ("binary", "multiclass"):
            return Note(f"performance is measured for classifiers; this model's task is {self.predictor.card.task}")
        table, left_out = performance(self.predictor, y_ref, ref, y_cur, cur)
        extra = [Note(n, "warning") for n in left_out]
        extra += [] if y_cur is not None else [Note("current has no labels: only reference is measured")]
        return Panel(table.round(4), *extra, Note("reference metrics are optimistic when the reference is the "
                                                  "model's own training data"))


def _display_table(results: list[ColumnDrift]) -> pd.DataFrame:
    t = results_table(results)
    shown = pd.DataFrame({
        "column": t["column"], "kind": t["kind"], "test": t["test"], "score": t["score"].map(fmt),
        "p-value (adj.)": t["p_adjusted"].map(fmt), "threshold": t["threshold"].map(fmt),
        "drifted": t["drifted"].map({True: "DRIFT", False: ""}), "why": t["reason"], "PSI": t["psi"].map(fmt),
        "missing": [f"{a:.1%} → {b:.1%}" if a or b else "" for a, b in zip(t["missing_reference"], t["missing_current"])],
        "new categories": [f"{v:.1%}" if v and v == v else "" for v in t["new_category_share"]],
    })
    return shown.set_index("column")
