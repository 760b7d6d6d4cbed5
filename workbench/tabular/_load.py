"""The ``tabular`` model kind's loader: a folder with a compiled form (see ``_compiled``) is served from it,
without scikit-learn, skops or pandas; any other folder loads its skops or CatBoost model (``_persist``).

:class:`CompiledPredictor` answers ``predict_records`` (the server's path) from the compiled arrays with the
rows ``TabularPredictor.predict_records`` gives (the same :class:`~._records.RecordScorer` on the same
numbers). Everything else (``predict`` on a DataFrame, files, Arrow batches, explanations) goes to the full
predictor, loaded on first use after the folder's hashes are verified again: ``?explain=`` imports
scikit-learn on the first explained request only.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..models import ModelCard, Predictor, TableInput, flavors
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
    def model(self) -> Any:
        """The fitted ``TabularModel`` (loads the full predictor)."""
        return self.full.model

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        records = list(records)
        return self.records.rows(records) if records else self.full.predict_records(records)

    def predict(self, inputs: Any) -> Any:
        return self.full.predict(inputs)

    def predict_files(self, paths: Sequence[str]) -> Any:
        return self.full.predict_files(paths)

    def predict_arrow(self, batch: Any) -> Any:
        return self.full.predict_arrow(batch)

    @property
    def explains(self) -> bool:
        return self.card.task != "multiclass"

    def explain_records(self, records: Sequence[Mapping[str, Any]], k: int) -> list[dict[str, Any]]:
        return self.full.explain_records(records, k)

    def explain_files(self, paths: Sequence[str], explain: Any) -> Any:
        return self.full.explain_files(paths, explain)

    def explain(self, inputs: Any, k: int) -> Any:
        return self.full.explain(inputs, k)


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
