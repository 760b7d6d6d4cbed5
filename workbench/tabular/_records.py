"""Answer rows for records (dicts) from a compiled scorer: what ``predict_records`` returns, shared by the
predictor of a skops pipeline (``_persist``) and of a compiled folder (``_load``); no pandas, no scikit-learn."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ModelError
from ._scorer import FEW_ROWS

OVERFLOW = "no prediction: numeric values too large for the model (its arithmetic overflowed)"


def missing_columns(features: Sequence[str], columns: Sequence[Any]) -> ModelError | None:
    """The error naming every feature ``columns`` lacks (None when none is missing)."""
    missing = [c for c in features if c not in columns]
    if not missing:
        return None
    return ModelError(f"the data lacks {len(missing)} column(s) the model needs: {', '.join(missing)}; "
                      f"expected all of: {', '.join(features)}; got: {', '.join(map(str, columns))}; "
                      "fix: add those columns (values may be empty)")


class RecordScorer:
    """``predict_records`` of a classifier: ``scorer.proba``/``proba_rows`` on the records, labels by the
    threshold (binary) or the largest probability, ID columns echoed, overflowed rows with :data:`OVERFLOW`."""

    def __init__(self, scorer: Any, features: Sequence[str], classes: list, threshold: float, id_columns: list[str]):
        self.scorer, self.features, self.classes = scorer, list(features), list(classes)
        self.threshold, self.id_columns = threshold, list(id_columns)
        self.names = [f"proba_{c}" for c in self.classes]

    def rows(self, records: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        needed = set(self.features)
        if not all(r.keys() >= needed for r in records):
            raise missing_columns(self.features, sorted({str(c) for r in records for c in r}))
        ids = [c for c in self.id_columns if any(c in r for r in records)]
        if len(records) > FEW_ROWS:
            return self._many(records, ids, self.scorer.proba(records))
        classes, names, threshold = self.classes, self.names, self.threshold
        out = []
        for r, p in zip(records, self.scorer.proba_rows(records)):
            row = {c: r.get(c) for c in ids}
            if any(v != v for v in p):
                out.append({**row, "prediction": None, **dict.fromkeys(names), "error": OVERFLOW})
                continue
            if len(p) == 2:
                row["prediction"] = classes[1] if p[1] >= threshold else classes[0]
            else:
                row["prediction"] = classes[max(range(len(p)), key=p.__getitem__)]
            row.update(zip(names, p))
            row["error"] = None
            out.append(row)
        return out

    def _many(self, records: Sequence[Mapping[str, Any]], ids: list[str], proba: np.ndarray) -> list[dict[str, Any]]:
        """The answer rows of many records, built column by column."""
        names = self.names
        picks = (proba[:, 1] >= self.threshold).astype(int) if len(self.classes) == 2 else np.argmax(proba, axis=1)
        columns = [[r.get(c) for r in records] for c in ids]
        columns.append([self.classes[j] for j in picks.tolist()])
        columns += [proba[:, j].tolist() for j in range(proba.shape[1])]
        columns.append([None] * len(records))
        keys = [*ids, "prediction", *names, "error"]
        out = [dict(zip(keys, values)) for values in zip(*columns)]
        for i in np.flatnonzero(np.isnan(proba).any(axis=1)).tolist():
            out[i].update({"prediction": None, **dict.fromkeys(names), "error": OVERFLOW})
        return out
