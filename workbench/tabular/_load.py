"""The ``tabular`` model kind's loader: a folder with a compiled form (see ``_compiled``) is served from it,
without scikit-learn, skops or pandas; any other folder loads its skops or CatBoost model (``_persist``).

:class:`CompiledPredictor` answers ``predict_records`` (the server's path) from the compiled arrays with the
rows ``TabularPredictor.predict_records`` gives (the same :class:`~._records.RecordScorer` on the same
numbers), and ``predict``/``predict_files`` (``workbench predict``) through ``score_frame`` with the compiled
arrays as the estimator (pandas, no scikit-learn). Arrow batches and explanations go to the full predictor,
loaded on first use after the folder's hashes are verified again: ``?explain=`` imports scikit-learn on the
first explained request only.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..models import ModelCard, Predictor, TableInput, flavors, frame_records
from ._compiled import compiled_file, read_compiled
from ._records import RecordScorer
from ._skops_types import SKOPS_ALLOWED


class CompiledPredictor(Predictor):
    """A tabular classifier served from its compiled form; the skops pipeline is loaded only when needed."""

    def __init__(self, folder: Path, card: ModelCard, scorer: Any):
        super().__init__(folder, card)
        self.scorer = scorer  # a LinearScorer on the compiled arrays
        table: TableInput = card.input_schema
        threshold = float(card.threshold if card.threshold is not None else 0.5)
        self.records = RecordScorer(scorer, table.features, list(card.classes), threshold, list(table.id_columns))
        self._full: Any = None
        self._lock = threading.Lock()

    @property
    def full(self) -> Any:
        """The folder's ``TabularPredictor`` (scikit-learn pipeline from skops), verified and loaded on first use."""
        with self._lock:
            if self._full is None:
                from ..models import verify
                from ._persist import TabularPredictor

                verify(self.folder, self.card)  # the files may have changed since the folder was loaded
                self._full = TabularPredictor(self.folder, self.card)
        return self._full

    @property
    def explainer(self) -> Any:
        """The full predictor's ``TabularExplainer`` (loads the skops pipeline)."""
        return self.full.explainer

    @property
    def model(self) -> Any:
        """The fitted ``TabularModel`` (loads the full predictor)."""
        return self.full.model

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        records = list(records)
        return self.records.rows(records) if records else frame_records(self.predict(records))

    def predict(self, inputs: Any) -> Any:
        """``TabularPredictor.predict`` (``score_frame``: column checks, unseen-category warning, infinite values)
        on a ``TabularModel`` whose estimator is the compiled scorer: pandas, no scikit-learn."""
        import pandas as pd

        from ._fitted import score_frame

        df = inputs if isinstance(inputs, pd.DataFrame) else pd.DataFrame(list(inputs))
        return score_frame(self._frame_model(), df)

    def predict_files(self, paths: Sequence[str]) -> Any:
        import pandas as pd

        from ..data import load_dataset

        frames = [load_dataset(p).frame for p in paths]
        return self.predict(frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True))

    def _frame_model(self) -> Any:
        """The ``TabularModel`` ``model_from_card`` builds, with :class:`FrameScorer` as its estimator."""
        from ._fitted import TabularModel

        card, table = self.card, self.card.input_schema
        meta = {**card.metrics, **card.provenance, "categories": table.categories, "dtypes": table.dtypes,
                **card.details}
        return TabularModel(name=card.name, estimator=FrameScorer(self.scorer, list(card.classes)),
                            numeric=table.numeric, categorical=table.categorical, classes=list(card.classes),
                            positive_label=card.positive_label, threshold=self.records.threshold,
                            threshold_rule=card.threshold_rule, id_columns=list(table.id_columns), meta=meta,
                            task=card.task)

    def predict_arrow(self, batch: Any, encoded: Sequence[str] = ()) -> Any:
        return self.full.predict_arrow(batch, encoded)

    def arrow_columns(self, schema: Any) -> tuple[list[str] | None, list[str]]:
        return self.full.arrow_columns(schema)

    @property
    def explains(self) -> bool:
        return self.card.task != "multiclass"

    def explain_records(self, records: Sequence[Mapping[str, Any]], k: int) -> list[dict[str, Any]]:
        return self.full.explain_records(records, k)

    def explain_files(self, paths: Sequence[str], explain: Any) -> Any:
        return self.full.explain_files(paths, explain)

    def explain(self, inputs: Any, k: int) -> Any:
        return self.full.explain(inputs, k)


class FrameScorer:
    """The estimator of a compiled model's ``TabularModel``: ``predict_proba`` on the frame ``coerce_frame`` gives
    (numerics as float64 with NaN, categories as text or NaN), columns in the card's class order."""

    def __init__(self, scorer: Any, classes: list):
        self.scorer, self.classes_ = scorer, classes

    def predict_proba(self, X: Any) -> Any:
        import numpy as np

        from ._scorer import codes

        prep = self.scorer.prep
        num = X[prep.numeric].to_numpy(dtype=float) if prep.numeric else np.zeros((len(X), 0))
        num = np.where(np.isnan(num), prep.fill, num)
        if prep.mean is not None:
            num = num - prep.mean
        if prep.scale is not None:
            num = num / prep.scale
        matrix = np.zeros((len(X), prep.width))
        matrix[:, : len(prep.numeric)] = num
        rows = np.arange(len(X))
        for (column, index, offset, missing) in prep._cat:
            values = X[column].tolist()
            at = np.array(codes(values, index, missing), dtype=np.int64)
            matrix[rows[at >= 0], offset + at[at >= 0]] = 1.0
        return self.scorer._logistic(matrix)[:, self.scorer.order]


def load_predictor(folder: Path, card: ModelCard) -> Predictor:
    """Entry point of the ``tabular`` model kind (``models.load`` has verified the card and every hash)."""
    name = compiled_file(card, folder / "model.json") if card.input_schema.type == "table" else None
    if name is None:
        from ._persist import TabularPredictor

        return TabularPredictor(folder, card)
    scorer = read_compiled(folder / name, card)
    # the skops file is still checked node by node now (from its schema: skops is not imported), so a folder is
    # refused at load whichever path will answer; trees and the pipeline are checked when it is loaded
    flavors.check_skops(folder / next(f for f in card.files if f != name), SKOPS_ALLOWED)
    return CompiledPredictor(folder, card, scorer)
