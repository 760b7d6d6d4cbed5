"""Exploratory data analysis of any table: overview, alerts, summaries, missing values,
distributions, correlations, associations, target analysis and a column explorer.

``Exploration(dataset, target="churn")`` prepares the table once; each section method returns
something a notebook cell displays (a table, a plotly figure, or a :class:`Panel` of several parts).
A section that cannot apply to the table (no numeric columns, a non-binary target, ...) returns a
clear :class:`Note` instead of raising. Cheap statistics use all rows; correlations, Cramér's V and
the leakage check use a seeded sample above ``max_rows_for_heavy_stats`` rows, stated in the report.
A Parquet dataset above ``max_rows`` rows (or any, with ``engine`` "dask" or "sketch") is explored out of
core (:mod:`._scale`): the same sections from aggregates over every row, the heavy statistics on the sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..core.parallel import parallel_map
from ..data._profile import SampleInfo, column_summary, heavy_sample, missing_patterns, overview, prepare_frame
from ..errors import DatasetError
from ..evaluation import Note, Panel, fmt, section
from ._alerts import AlertThresholds, compute_alerts
from ._explorer import activate_plotly, display_data, static_explorer
from ._figures import (
    class_figure,
    column_figure,
    column_target_figure,
    distribution_data,
    distributions_figure,
    heatmap_figure,
    missing_figure,
    target_figure,
)
from ._relations import TargetInfo, cramers_v_matrix, numeric_correlation, target_by_group, target_info, target_vector
from ._scale import open_data


class Exploration:
    """EDA of one table.

    Parameters
    ----------
    data : a :class:`workbench.data.Dataset`, a ``pandas.DataFrame``, a registered dataset name or a path:
        a .csv/.tsv/.parquet file, or a Parquet dataset (a folder, hive-partitioned folders, or a glob).
    target : the target column; ``""`` for none; ``None`` takes the Dataset's target, if any.
    max_rows_for_heavy_stats : above this many rows, correlations, associations and leakage checks
        use a seeded random sample of this size (``0``: always all rows; out of core, where a sample is
        always drawn, about this many rows, ``0`` meaning ``max_rows``).
    seed : seed of that sample and of the leakage check's split.
    thresholds : when alerts fire (:class:`AlertThresholds`).
    max_plot_columns : most columns drawn in the small-multiple figures and the explorer.
    engine : "auto": a Parquet dataset of more than ``max_rows`` rows is explored out of core, anything
        else in memory; "dask" or "sketch": out of core always (Parquet datasets only); "pandas": in memory.
    max_rows : the row count above which "auto" goes out of core.
    scheduler : a Dask scheduler address (``tcp://HOST:8786``): out of core, the scan runs on its workers, with
        the same results ("" here; they must share the paths and the temp folder: see ``_scale.scan_dataset``).
    """

    def __init__(self, data: Any, target: str | None = None, *, max_rows_for_heavy_stats: int = 100_000,
                 seed: int = 0, thresholds: AlertThresholds | None = None, max_plot_columns: int = 30,
                 engine: str = "auto", max_rows: int = 1_000_000, scheduler: str = ""):
        if not isinstance(max_rows_for_heavy_stats, (int, np.integer)) or max_rows_for_heavy_stats < 0:
            raise DatasetError(f"max_rows_for_heavy_stats must be an int >= 0, got {max_rows_for_heavy_stats!r}")
        loaded, self.scale = open_data(data, target, engine, max_rows, int(max_rows_for_heavy_stats), int(seed),
                                       scheduler)
        name = Path(str(data).rstrip("/")).name if isinstance(data, (str, Path)) else "table"
        origin = str(data) if isinstance(data, (str, Path)) else "a DataFrame"
        data = data if self.scale else loaded
        frame = self.scale.sample if self.scale else getattr(data, "frame", data)
        if not isinstance(frame, pd.DataFrame):
            raise DatasetError(f"Exploration needs a Dataset or a pandas DataFrame, got {type(data).__name__}")
        if frame.shape[1] == 0 or frame.shape[0] == 0:
            raise DatasetError(f"the table is empty ({frame.shape[0]} rows, {frame.shape[1]} columns): "
                               "nothing to explore; check the file or filter")
        self.name = getattr(data, "name", name)
        self._source = {k: v for k, v in getattr(data, "summary", lambda: {"name": self.name, "source": origin})().items()
                        if k not in ("rows", "columns", "target")}
        self.df, self._special, self.notes = prepare_frame(frame)
        if self.scale:
            self.df, self._special, self.notes = self.scale.sample, self.scale.special, self.scale.notes
        if target is None:  # a Dataset loaded with a target brings it along; "" means none
            target = getattr(data, "target", None)
        target = target or None
        if target is not None and target not in self.df.columns:
            raise DatasetError(f"target column {target!r} not in the table; columns: {', '.join(self.df.columns)}; "
                               "set target to one of them, or to '' for none")
        self.target = target
        self.seed = int(seed)
        self.thresholds = thresholds or AlertThresholds()
        self.max_plot_columns = max_plot_columns
        self.max_rows_for_heavy_stats = int(max_rows_for_heavy_stats)
        self.failures: list[str] = []
        self._cache: dict[str, Any] = {}
        self._extras: dict[str, dict] = {"deciles": {}, "quantiles": {}, "factorized": {}, "hist": {},
                                         "missing": {}, "order": {}}

    # ------------------------------------------------------------------ cached building blocks

    def _cached(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    @property
    def summary_table(self) -> pd.DataFrame:
        """Per-column statistics (all rows)."""
        if self.scale:
            self._extras.update(self.scale.scan.extras)
            return self.scale.scan.summary
        return self._cached("summary", lambda: column_summary(self.df, self._special, extras=self._extras,
                                                              keep_order=not self._sampled))

    @property
    def _sampled(self) -> bool:
        return 0 < self.max_rows_for_heavy_stats < len(self.df)

    def _all_rows(self, key: str, sample: pd.DataFrame) -> dict | None:
        """What the summary kept for ``key`` (factorized columns, sort orders): only for all rows."""
        _ = self.summary_table
        return self._extras[key] if sample is self.df and self.scale is None else None

    def _factorized(self, column: str) -> tuple | None:
        _ = self.summary_table  # computing the summary fills the extras
        return self._extras["factorized"].get(column)

    def _hist(self, column: str, bins: int) -> tuple | None:
        _ = self.summary_table
        return self._extras["hist"].get(column, {}).get(bins)

    def _deciles(self, column: str) -> np.ndarray | None:
        _ = self.summary_table
        return self._extras["deciles"].get(column)

    @property
    def kinds(self) -> dict[str, str]:
        """Column name to kind: numeric, boolean, categorical, datetime, mixed or empty."""
        return self.summary_table["kind"].to_dict()

    @property
    def sample(self) -> tuple[pd.DataFrame, SampleInfo]:
        """The rows the heavy statistics use, and how they were drawn."""
        if self.scale:
            return self.df, self.scale.info
        return self._cached("sample", lambda: heavy_sample(self.df, self.max_rows_for_heavy_stats, self.seed))

    @property
    def target_info(self) -> TargetInfo | None:
        """The target's kind (binary, multiclass, numeric, constant, empty), or None without a target."""
        if self.target is None:
            return None
        counts = self.scale.scan.counts[self.target] if self.scale else None
        return self._cached("target", lambda: target_info(self.df[self.target], counts))

    def overview_stats(self) -> dict[str, Any]:
        """Rows, columns, memory, duplicate rows, missing cells, kinds and dtypes as a dict."""
        if self.scale:
            return self.scale.scan.overview
        return self._cached("overview", lambda: overview(self.df, self.summary_table, self._extras["factorized"]))

    def alerts_table(self) -> pd.DataFrame:
        """All alerts as a table (column, alert, severity, detail), warnings first."""
        heavy = self.sample[0]
        summary = self.summary_table  # fills the extras: 2% quantiles of all rows, factorized columns
        return self._cached("alerts", lambda: compute_alerts(
            self.df, summary, rows=self.scale.rows if self.scale else None, target=self.target, target_info=self.target_info,
            heavy=heavy, seed=self.seed,
            thresholds=self.thresholds, reuse=dict(edges=self._extras["quantiles"],
                                                   factorized=self._all_rows("factorized", heavy),
                                                   orders=self._all_rows("order", heavy))))

    def _features(self) -> list[str]:
        return [c for c in self.df.columns if c != self.target]

    def _plot_columns(self, cols: list[str]) -> tuple[list[str], Note | None]:
        if len(cols) <= self.max_plot_columns:
            return cols, None
        return cols[: self.max_plot_columns], Note(
            f"showing the first {self.max_plot_columns} of {len(cols)} columns; raise max_plot_columns to see more")

    def provenance(self) -> dict[str, Any]:
        """Where the table came from: name, source, rows, columns, target, and how it was read."""
        if self.scale:
            return {**self._source, "rows": self.scale.rows, "columns": len(self.df.columns), "target": self.target,
                    "files": len(self.scale.files), "engine": f"out of core ({self.scale.engine})"}
        return {**self._source, "rows": len(self.df), "columns": len(self.df.columns), "target": self.target,
                "engine": "in memory (pandas)"}

    # ------------------------------------------------------------------ headline values

    def headline(self) -> dict[str, Any]:
        """``rows``, ``columns``, ``missing_fraction``, ``duplicate_rows``, ``alerts`` and, for a
        binary target, ``target_rate`` (share of the positive label among non-missing targets)."""
        o = self.overview_stats()
        out: dict[str, Any] = {"rows": o["rows"], "columns": o["columns"],
                               "missing_fraction": o["missing_fraction"],
                               "duplicate_rows": o["duplicate_rows"], "alerts": int(len(self.alerts_table()))}
        info = self.target_info
        if info is not None and info.kind == "binary":
            out["target_rate"] = self._overall()
        return out

    # ------------------------------------------------------------------ sections

    @section("overview")
    def overview(self) -> Panel:
        """Rows, columns, kinds, dtypes, memory, duplicate rows, and notes on how columns were read."""
        o = self.overview_stats()
        info = self.target_info
        rows = [("rows", f"{o['rows']:,}"), ("columns", f"{o['columns']:,}"),
                ("memory", f"{o['memory_mb']:.1f} MiB"),
                ("duplicate rows", f"{o['duplicate_rows']:,} ({o['duplicate_fraction']:.2%})"),
                ("missing cells", f"{o['missing_cells']:,} ({o['missing_fraction']:.2%})"),
                ("column kinds", ", ".join(f"{k}: {v}" for k, v in o["kinds"].items())),
                ("dtypes", ", ".join(f"{k}: {v}" for k, v in o["dtypes"].items())),
                ("target", "none" if info is None else f"{self.target} ({info.kind}"
                 + (f", positive label {info.positive!r})" if info.kind == "binary" else ")"))]
        table = pd.DataFrame(rows, columns=["", "value"]).set_index("")
        notes = [Note(n) for n in self.notes]
        if o["rows"] == 1:
            notes.append(Note("a single row: distributions, correlations and target rates say little", "warning"))
        if info is not None and info.message:
            notes.append(Note(info.message, "warning" if info.kind != "numeric" else "info"))
        scale = Note(self.scale.describe()) if self.scale else None
        return Panel(table, *notes, Note(self.sample[1].describe()), scale)

    @section("alerts")
    def alerts(self) -> Any:
        """Data-quality alerts (warnings first), or a note when there are none."""
        a = self.alerts_table()
        info = self.sample[1]
        where = Note(f"leakage check on {info.n_sample:,} sampled rows (seed {info.seed})") \
            if info.sampled and self.target is not None else None
        if a.empty:
            return Panel(Note("no alerts: no constant, ID-like, heavily missing, skewed, duplicated or leaking "
                              "columns"), where)
        return Panel(a, where)

    @section("column summaries")
    def summaries(self) -> Panel:
        """Per-column statistics (all rows), rounded for display."""
        return Panel(self._summary_display())

    def _summary_display(self) -> pd.DataFrame:
        s = self.summary_table.copy()
        for c in ("missing_fraction", "unique_fraction", "top_fraction"):
            s[c] = s[c].round(4)
        for c in ("mean", "std", "min", "p25", "p50", "p75", "max", "skew"):
            s[c] = s[c].map(fmt)
        s["top"] = s["top"].map(lambda v: fmt(v)[:40])
        return s.drop(columns=["n_infinite"]) if not (self.summary_table["n_infinite"].fillna(0) > 0).any() else s

    @section("missing values")
    def missing(self) -> Any:
        """Missing share per column and the most frequent missing patterns (all rows)."""
        m = self.summary_table["missing_fraction"]
        m = m[m > 0].sort_values(ascending=False)
        if m.empty:
            return Note("no missing values")
        return Panel(missing_figure(m), Note("most frequent combinations of missing columns:"),
                     self.scale.scan.patterns if self.scale else missing_patterns(self.df, masks=self._extras["missing"]))

    @section("distributions")
    def distributions(self) -> Any:
        """Pre-binned histograms (numbers, dates) and top-value bars (categories), all rows."""
        cols, more = self._plot_columns(list(self.df.columns))
        kinds = self.kinds
        data = parallel_map(lambda c: distribution_data(self.df[c], kinds[c], bins=40, factorized=self._factorized(c),
                                                        hist=self._hist(c, 40)), cols, heavy=len(self.df) >= 50_000)
        return Panel(distributions_figure(data, cols, kinds), more)

    @section("correlations")
    def correlations(self, method: str = "spearman") -> Any:
        """Numeric correlations (``spearman`` or ``pearson``) on the heavy-statistics sample."""
        if method not in ("spearman", "pearson"):
            raise DatasetError(f"method must be 'spearman' or 'pearson', got {method!r}")
        cols = [c for c, k in self.kinds.items() if k in ("numeric", "boolean")
                and pd.api.types.is_numeric_dtype(self.df[c].dtype) and self.summary_table.loc[c, "n_unique"] > 1]
        if len(cols) < 2:
            return Note(f"{len(cols)} non-constant numeric column{'s' if len(cols) != 1 else ''}: correlations "
                        "need at least 2; skipped")
        sample, info = self.sample
        if len(sample) < 3:
            return Note(f"{len(sample)} rows: correlations need at least 3; skipped")
        m = numeric_correlation(sample, cols[:60], method, orders=self._all_rows("order", sample))
        where = f"{info.n_sample:,} sampled rows, seed {info.seed}" if info.sampled else f"all {info.n_rows:,} rows"
        return heatmap_figure(m, f"{method.capitalize()} correlation of numeric columns ({where})", -1, 1, "RdBu")

    @section("associations")
    def associations(self, max_levels: int = 100) -> Any:
        """Bias-corrected Cramér's V between categorical columns (2 to ``max_levels`` values)."""
        s = self.summary_table
        cols = [c for c in s.index if s.loc[c, "kind"] in ("categorical", "boolean", "mixed")
                and 2 <= s.loc[c, "n_unique"] <= max_levels]
        skipped = [c for c in s.index if s.loc[c, "kind"] in ("categorical", "mixed") and s.loc[c, "n_unique"] > max_levels]
        note = Note(f"left out (more than {max_levels} values): {', '.join(skipped)}") if skipped else None
        if len(cols) < 2:
            return Panel(Note(f"{len(cols)} categorical column{'s' if len(cols) != 1 else ''} with 2-{max_levels} "
                              "values: associations need at least 2; skipped"), note)
        sample, info = self.sample
        if len(sample) < 3:
            return Note(f"{len(sample)} rows: associations need at least 3; skipped")
        m = cramers_v_matrix(sample, cols[:60], factorized=self._all_rows("factorized", sample))
        where = f"{info.n_sample:,} sampled rows, seed {info.seed}" if info.sampled else f"all {info.n_rows:,} rows"
        return Panel(heatmap_figure(m, f"Cramér's V between categorical columns ({where})", 0, 1, "Blues"), note)

    def _target_table(self, column: str) -> pd.DataFrame:
        """Target rate or mean by group of one column (once: the section and the explorer share it)."""
        info = self.target_info
        if self.scale:
            feats = [c for c in self._features() if self.kinds[c] != "empty"]
            return self.scale.target_tables(feats, self.kinds, self.target, info)[column]
        y = self._cached("y", lambda: target_vector(self.df[self.target], info))
        return self._cached(f"target by {column}", lambda: target_by_group(
            self.df[column], self.kinds[column], y, info.kind, edges=self._deciles(column),
            factorized=self._factorized(column), order=self._extras["order"].get(column)))

    def _overall(self) -> float:
        if self.scale:  # the positive share (or the mean) of the target over every row, from the scan
            info, counts = self.target_info, self.scale.scan.counts[self.target]
            if info.kind == "binary":
                return float(counts.get(info.positive, 0) / counts.sum())
            return float(self.summary_table.loc[self.target, "mean"])
        return float(np.nanmean(self._cached("y", lambda: target_vector(self.df[self.target], self.target_info))))

    @section("target analysis")
    def target_analysis(self) -> Any:
        """Target rate (binary) or mean (numeric) by category and by numeric decile, 95% intervals."""
        info = self.target_info
        if info is None:
            return Note("no target given: target analysis skipped (set the target parameter to a column)")
        if info.kind in ("empty", "constant"):
            return Note(info.message, "warning")
        if info.kind == "multiclass":
            counts = self.scale.scan.counts[self.target] if self.scale else None
            factorized = None if counts is None else (None, np.asarray(counts.index, dtype=object), counts.to_numpy())
            return Panel(Note(info.message, "warning"), class_figure(self.df[self.target], factorized))
        feats = [c for c in self._features() if self.kinds[c] != "empty"]
        self._overall()  # the target vector, once, before the columns run in threads
        if not feats:
            return Note("no columns besides the target: target analysis skipped")
        if self.scale:  # every feature's table in one pass over the rows, before the threads ask for them
            self._target_table(feats[0])
        cols, more = self._plot_columns(feats)
        tables = dict(zip(cols, parallel_map(self._target_table, cols, heavy=len(self.df) >= 50_000)))
        binary = info.kind == "binary"
        what = (f"Rate of {self.target} = {info.positive!r}" if binary else f"Mean of {self.target}")
        return Panel(Note(f"{what} per category (top 15 values, others grouped) and per numeric decile, all rows; "
                          "bars are 95% intervals (Wilson for rates, normal for means)."),
                     target_figure(tables, self.target, self._overall(), binary), more)

    # ------------------------------------------------------------------ column explorer

    def column_parts(self, column: str) -> list[Any]:
        """What the explorer shows for one column: its statistics, distribution and target figure."""
        if column not in self.df.columns:
            raise DatasetError(f"column {column!r} not in the table; columns: {', '.join(self.df.columns)}")
        row = self.summary_table.loc[column]
        stats = pd.DataFrame({"value": [fmt(v) for v in row.to_numpy()]}, index=row.index)
        stats = stats[stats["value"] != ""]
        parts: list[Any] = [stats.T, column_figure(self.df[column], row["kind"], self._factorized(column),
                                                     self._hist(column, 50))]
        info = self.target_info
        if column == self.target or info is None:
            return parts
        if info.kind in ("binary", "numeric") and row["kind"] != "empty":
            parts.append(column_target_figure(self._target_table(column), column, self.target, self._overall(),
                                              info.kind == "binary"))
        elif info.message:
            parts.append(Note(info.message))
        return parts

    @section("column explorer")
    def explorer(self, interactive: bool | None = None) -> Any:
        """A column explorer: a dropdown that redraws the chosen column's plots (JupyterLab), or in a
        headless run a static equivalent, one collapsible pane per column."""
        import ipywidgets as w

        from ..core.context import in_headless_run

        if interactive is None:
            interactive = not in_headless_run()
        cols = list(self.df.columns)
        activate_plotly()
        if interactive:
            pick = w.Dropdown(options=cols, value=cols[0], description="column")
            out = w.Output()

            def draw(change: Any = None) -> None:
                # the parts go into the widget's state in one assignment, not through ``with out: display()``:
                # that routes outputs by message id, and under nbclient/papermill it now and then left a cell
                # waiting for a reply that had arrived (for ever without a timeout)
                out.outputs = tuple(display_data(p) for p in self.column_parts(pick.value))

            pick.observe(draw, names="value")
            draw()
            return w.VBox([pick, out])
        return static_explorer(self, *self._plot_columns(cols))
