"""The sentences of a drift report: what was compared, how it was decided, and the verdict."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ._column_drift import ColumnDrift
from ._config import Thresholds
from ._domain import DomainResult
from ._schema import Schema, Side


def tests_text(t: Thresholds, drift_share: float) -> str:
    """How each column is decided, with the thresholds in force."""
    return (f"Tests by kind and size: numbers and dates with two-sample Kolmogorov-Smirnov when either side has at "
            f"most {t.small_sample:,} values, else normalised Wasserstein distance >= {t.wasserstein:g} (reference "
            f"standard deviations); categories and booleans with chi-square, else Jensen-Shannon distance >= "
            f"{t.jensen_shannon:g}. p-values are Benjamini-Hochberg adjusted over the compared columns at "
            f"{t.p_value:g}, and a distance counts only when its test agrees. Also flagged: a missing-value share "
            f"moving by {t.missing_share:.0%} or more (and significantly), and {t.new_categories:.0%} or more of "
            f"current rows holding categories the reference never had. PSI (reference deciles or categories) is shown "
            f"for every column (>= 0.1 moderate, >= {t.psi:g} major) and does not decide. Dataset drift: at least "
            f"{drift_share:.0%} of the columns drifted, or the domain classifier's ROC-AUC >= {t.domain_auc:g} with "
            f"its 95% interval above 0.5.")


def _side_text(side: Side, columns: int) -> str:
    text = f"{side.name}: {side.rows:,} rows x {columns} columns ({side.source})"
    if side.sampled:
        text += f"; compared on a seeded random sample of {len(side.raw):,} rows"
    log = side.log or {}
    if log:
        text += f"; {len(log.get('files', []))} log file(s), {log.get('requests', 0):,} requests"
        if log.get("first_ts"):
            text += f" from {log['first_ts']} to {log['last_ts']}"
    return text


def overview_rows(reference: Side, current: Side, schema: Schema, *, max_rows: int, seed: int, target: str | None,
                  predictor: Any, shift: dict) -> list[tuple[str, str]]:
    """The overview table: both tables, the sample, the compared columns, target, model (a loaded
    :class:`workbench.models.Predictor` or None), the planted what-if shift."""
    s = schema
    kinds = Counter(s.kinds.values())
    rows = [("reference", _side_text(reference, reference.raw.shape[1])),
            ("current", _side_text(current, current.raw.shape[1])),
            ("compared columns", f"{len(s.kinds)} ({', '.join(f'{k}: {v}' for k, v in kinds.items()) or 'none'})")]
    if s.excluded:
        rows.append(("left out", "; ".join(f"{c}: {why}" for c, why in s.excluded.items())))
    sampled = [side for side in (reference, current) if side.sampled]
    rows.append(("rows used", "all rows of both tables" if not sampled else
                 f"above max_rows={max_rows:,} a table is replaced by a seeded random sample (seed "
                 f"{seed} for reference, {seed + 1} for current); every statistic uses the sample"))
    rows.append(("target", target or "none"))
    p = predictor
    rows.append(("model", "none" if p is None else
                 f"{p.card.name} ({p.card.kind}, {p.card.task}, classes {', '.join(map(str, p.classes))}) from "
                 f"{p.folder}"))
    if shift:
        rows.append(("planted shift", f"what-if: planted into current before comparing: {shift}"))
    return rows


def verdict_text(headline: dict[str, Any], results: list[ColumnDrift], drift_share: float,
                 domain: DomainResult | None) -> str:
    """One sentence: how many columns drifted, which, and whether the dataset drifted and why (from the
    headline values, the column verdicts, the drift-share threshold and the domain classifier)."""
    h = headline
    drifted = [c.column for c in results if c.drifted]
    why = []
    if h["drift_share"] >= drift_share:
        why.append(f"{h['drift_share']:.0%} of columns drifted (>= {drift_share:.0%})")
    dom = domain
    if dom is not None and dom.drifted:
        why.append(f"the domain classifier tells the tables apart (ROC-AUC {dom.auc:.3f})")
    listed = f": {', '.join(drifted[:10])}" + (" ..." if len(drifted) > 10 else "") if drifted else ""
    verdict = f"Dataset drift: {'YES, ' + ' and '.join(why) if why else 'no'}."
    return f"{h['n_drifted']} of {h['n_columns']} compared columns drifted ({h['drift_share']:.0%}){listed}. {verdict}"
