"""What every loaded model offers: ``predict(inputs) -> DataFrame`` with the same columns for every kind."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ModelError
from ._card import ModelCard


class Predictor:
    """A loaded model (see :func:`workbench.models.load`).

    Subclasses implement :meth:`predict` (in-memory inputs: a table, image files or arrays, users)
    and :meth:`predict_files` (inputs named on the command line). Both return a ``pandas.DataFrame``
    whose columns are the input key (e.g. ``path`` or the table's ID columns), ``prediction``,
    ``proba_<class>`` per class (classification) and ``error`` (None, or why that row has no prediction).
    """

    def __init__(self, folder: str | Path, card: ModelCard):
        self.folder, self.card = Path(folder), card

    @property
    def kind(self) -> str:
        return self.card.kind

    @property
    def classes(self) -> list:
        return list(self.card.classes)

    def predict(self, inputs: Any):  # pragma: no cover - abstract
        raise NotImplementedError

    def predict_files(self, paths: Sequence[str]):  # pragma: no cover - abstract
        raise NotImplementedError

    def predict_arrow(self, batch: Any, encoded: Sequence[str] = ()):
        """Predictions for an Arrow table or record batch, as an Arrow table: ``pa.Table.from_pandas`` of
        :meth:`predict` on its rows (the batch scoring of a dataset). Kinds with a whole-array path override it.
        ``encoded``: text columns the reader read as dictionaries (:meth:`arrow_columns`), decoded to text
        before any DataFrame sees them (pandas would read a dictionary as a Categorical)."""
        import pyarrow as pa

        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        for name in encoded:
            if name in table.column_names and pa.types.is_dictionary(table.schema.field(name).type):
                i = table.column_names.index(name)
                table = table.set_column(i, name, table.column(i).cast(table.schema.field(name).type.value_type))
        return pa.Table.from_pandas(self.predict(table.to_pandas()), preserve_index=False)

    def arrow_columns(self, schema: Any) -> tuple[list[str] | None, list[str]]:
        """What a dataset reader needs of a file with this Arrow ``schema``: the columns :meth:`predict_arrow`
        reads (None: all) and the text columns it takes as dictionaries (read so, never decoded: pass them
        as ``encoded``). By default all columns, as text."""
        return None, []

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Predictions for rows given as dicts (column -> value), one plain dict per row with the common
        columns and JSON-ready values (``None`` for a missing one). The server's path: kinds with a faster
        way than a DataFrame for a few rows override it; by default it goes through :meth:`predict`."""
        return frame_records(self.predict(list(records)))

    def predict_images(self, images: Sequence[tuple[str, bytes]]):
        """Predictions for images held in memory, ``(name, encoded bytes)`` pairs (the name is only a label):
        a frame with ``path`` (the name), ``prediction``, ``proba_<class>``, ``error``. Image kinds implement it."""
        raise ModelError(f"a {self.card.kind} model does not take images")

    @property
    def explains(self) -> bool:
        """Whether this model explains its predictions (``explain_records``; ``serve`` offers ``?explain=K``)."""
        return False

    def explain_files(self, paths: Sequence[str], explain: Any):
        """:meth:`predict_files` with explanations; ``explain`` is what ``workbench predict --explain`` got (the
        number of contributions per row for a tabular model). Kinds that explain their predictions implement it."""
        raise ModelError(f"a {self.card.kind} model has no explanations (--explain); explanations cover tabular "
                         "binary classification and regression models")

    def explain_records(self, records: Sequence[Mapping[str, Any]], k: int) -> list[dict[str, Any]]:
        """:meth:`predict_records` plus the top-``k`` contributions per row (``explain_<i>_feature``,
        ``explain_<i>_value``). Kinds that explain their predictions implement it."""
        raise ModelError(f"a {self.card.kind} model has no explanations (explain={k}); explanations cover tabular "
                         "binary classification and regression models")

    def summary(self, frame: Any) -> str:
        """One line about a prediction frame, for ``workbench predict``: rows, counts per prediction, errors."""
        n_err = int(frame["error"].notna().sum()) if "error" in frame else 0
        counts = frame["prediction"].value_counts().to_dict() if "prediction" in frame else {}
        parts = ", ".join(f"{c}: {n}" for c, n in counts.items())
        return (f"predicted {len(frame) - n_err} row(s) with {self.card.kind} model {self.card.name!r}"
                + (f" ({parts})" if parts else "") + f"; {n_err} with errors")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.card.kind}/{self.card.name} {self.card.task} from {self.folder}>"


def probability_frame(keys: dict[str, Any], proba: Any, classes: Sequence, predictions: Sequence | None = None,
                      errors: Sequence[str | None] | None = None):
    """The common prediction table: key columns, ``prediction``, ``proba_<class>``, ``error``.

    Rows with an error get no prediction and NaN probabilities. ``predictions`` default to the most
    probable class.
    """
    import numpy as np
    import pandas as pd

    classes = list(classes)
    n = len(proba)
    errors = list(errors) if errors is not None else [None] * n
    ok = np.array([e is None for e in errors], dtype=bool)
    proba = np.asarray(proba, dtype=float).reshape(n, len(classes))
    out = pd.DataFrame({k: list(v) for k, v in keys.items()}, index=range(n))
    pred = np.full(n, None, dtype=object)
    if predictions is not None:
        pred[ok] = np.asarray(predictions, dtype=object)[ok]
    elif ok.any():
        pred[ok] = np.asarray(classes, dtype=object)[proba[ok].argmax(1)]
    out["prediction"] = pred
    for j, c in enumerate(classes):
        col = np.full(n, np.nan)
        col[ok] = proba[ok, j]
        out[f"proba_{c}"] = col
    out["error"] = errors
    return out


def _plain(value: Any, missing: tuple = ()) -> Any:
    if value is None or any(value is m for m in missing):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def frame_records(frame) -> list[dict[str, Any]]:
    """A prediction frame as plain dicts (numpy scalars unwrapped, NaN and infinities as ``None``)."""
    import pandas as pd

    missing = (pd.NA, pd.NaT)
    columns = [str(c) for c in frame.columns]
    rows = zip(*(frame[c].tolist() for c in frame.columns)) if len(columns) else iter(())
    return [{c: _plain(v, missing) for c, v in zip(columns, row)} for row in rows]
