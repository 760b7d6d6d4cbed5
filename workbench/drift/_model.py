"""The model's side of drift: its predictions on both tables (or those the request log recorded),
prediction and target drift, and its performance on current against reference when labels exist.

A model folder is untrusted input: it is only ever opened through :func:`workbench.models.load`
(card and hashes verified, exact type allow-lists, no pickle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..evaluation import METRICS, classification_metrics
from ._schema import OUTPUT_PREFIX, Side


def table_predictor(model: Any):
    """The :class:`workbench.models.Predictor` of a table model, from a saved-model folder (or one already
    loaded); None for ``""``. A model that does not take table inputs is refused: drift compares tables."""
    from ..models import Predictor, load

    if model is None or (isinstance(model, str) and not model.strip()):
        return None
    if isinstance(model, Predictor):
        predictor = model
    elif isinstance(model, (str, Path)):
        if not Path(model).is_dir():
            raise ModelError(f"model folder {str(model)!r} not found; give the folder a notebook saved (e.g. "
                             "reports/compare_models/<run_id>/artifacts/model) or '' for none")
        predictor = load(model)
    else:
        raise ModelError(f"model must be a saved-model folder path, got {type(model).__name__}")
    schema = predictor.card.input_schema
    if schema.type != "table":
        raise ModelError(f"the model at {predictor.folder} takes {schema.type or 'non-table'} inputs: drift "
                         "monitoring compares tables, so it needs a tabular model")
    return predictor


def model_inputs(predictor) -> list[str]:
    """The input columns of a tabular model, from its card."""
    return predictor.card.input_schema.features


def _proba_columns(frame: pd.DataFrame, classes: list) -> list[str]:
    wanted = [f"{OUTPUT_PREFIX}{c}" for c in classes]
    return wanted if classes and all(c in frame.columns for c in wanted) else \
        [c for c in frame.columns if str(c).startswith(OUTPUT_PREFIX)]


def predictions(side: Side, predictor) -> tuple[pd.DataFrame | None, str]:
    """The model outputs for ``side``'s rows (``prediction`` and ``proba_<class>``, failed rows as
    NaN) and where they come from; None with the reason when there are none."""
    if side.outputs is not None and "prediction" in side.outputs.columns:
        cols = ["prediction", *_proba_columns(side.outputs, list(predictor.classes) if predictor else [])]
        out = side.outputs[cols].copy()
        if "error" in side.outputs.columns:
            out.loc[side.outputs["error"].notna().to_numpy(), :] = np.nan
        return out, f"{side.role}: predictions recorded with the data ({side.name})"
    if predictor is None:
        return None, f"{side.role}: no model given and no recorded predictions"
    missing = [c for c in model_inputs(predictor) if c not in side.raw.columns]
    if missing:
        return None, (f"{side.role}: the model needs column(s) the table lacks ({', '.join(missing)}): not scored")
    try:
        scored = predictor.predict(side.raw)
    except Exception as e:  # noqa: BLE001 - a table the model cannot score is a finding, not a crash
        return None, f"{side.role}: the model could not score the table ({type(e).__name__}: {e})"
    out = scored[["prediction", *_proba_columns(scored, list(predictor.classes))]].copy()
    failed = scored["error"].notna().to_numpy()
    out.loc[failed, :] = np.nan
    note = f"{side.role}: scored with the model ({len(out):,} rows" + (f", {int(failed.sum())} failed)" if failed.any()
                                                                       else ")")
    return out, note


def prediction_kinds(pred: pd.DataFrame, classes: list) -> dict[str, str]:
    """Which prediction columns to compare: the label, and the positive-class probability (binary)
    or every class probability (multiclass)."""
    probas = [c for c in pred.columns if str(c).startswith(OUTPUT_PREFIX)]
    if len(classes) == 2 and f"{OUTPUT_PREFIX}{classes[-1]}" in probas:
        probas = [f"{OUTPUT_PREFIX}{classes[-1]}"]
    return {"prediction": "categorical", **{c: "numeric" for c in probas}}


def _labels_and_proba(y: pd.Series, pred: pd.DataFrame, classes: list) -> tuple[np.ndarray, np.ndarray]:
    proba = pred[[f"{OUTPUT_PREFIX}{c}" for c in classes]].to_numpy(dtype=float)
    ok = np.isfinite(proba).all(axis=1) & y.notna().to_numpy()
    values = y.to_numpy()[ok]
    known = {str(c): c for c in classes}
    labels = np.array([known.get(str(v), v) for v in values], dtype=object)  # "1" read from a CSV is class 1
    return labels, proba[ok]


def performance(predictor, y_ref: pd.Series | None, pred_ref: pd.DataFrame | None, y_cur: pd.Series | None,
                pred_cur: pd.DataFrame | None) -> tuple[pd.DataFrame, list[str]]:
    """Every metric on reference and current (where labels and probabilities exist), their change,
    and the model card's held-out test metrics for comparison; plus notes on what was left out."""
    classes = list(predictor.classes)
    threshold = predictor.card.threshold if predictor.card.threshold is not None else 0.5
    cols: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    for name, y, pred in (("reference", y_ref, pred_ref), ("current", y_cur, pred_cur)):
        if y is None or pred is None:
            continue
        labels, proba = _labels_and_proba(y, pred, classes)
        unknown = sorted({str(v) for v in labels} - {str(c) for c in classes})
        if unknown:
            notes.append(f"{name}: labels {', '.join(unknown[:5])} are not classes of the model "
                         f"({', '.join(map(str, classes))}): not measured; check the target column")
            continue
        if len(labels):
            cols[f"{name} ({len(labels):,} rows)"] = classification_metrics(labels, proba, classes, threshold)
    test = predictor.card.metrics.get("test_metrics") if isinstance(predictor.card.metrics, dict) else None
    if isinstance(test, dict):
        cols["held-out test at training"] = {k: v for k, v in test.items() if k in METRICS}
    table = pd.DataFrame(cols).reindex([k for k in METRICS])
    table.index = [METRICS[k].label for k in table.index]
    ref_col = next((c for c in table.columns if c.startswith("reference")), None)
    cur_col = next((c for c in table.columns if c.startswith("current")), None)
    if ref_col and cur_col:
        table["change"] = table[cur_col] - table[ref_col]
    return table, notes
