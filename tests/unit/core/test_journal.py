import math

import nbformat
import numpy as np
import pytest

from workbench.core.journal import MIME, _to_scalar, read_records


def test_scalars_are_converted():
    assert _to_scalar("a", np.float32(0.5)) == 0.5
    assert isinstance(_to_scalar("a", np.int64(3)), int)
    assert _to_scalar("a", "catboost") == "catboost"
    assert _to_scalar("a", float("nan")) is None
    assert _to_scalar("a", True) is True


def test_non_scalars_and_bad_names_are_rejected():
    with pytest.raises(TypeError, match="number or a string"):
        _to_scalar("a", [1, 2])
    with pytest.raises(ValueError, match="non-empty"):
        _to_scalar("", 1)


def test_read_records_last_wins_and_ignores_other_outputs():
    nb = nbformat.v4.new_notebook()
    c1 = nbformat.v4.new_code_cell("")
    c1.outputs = [nbformat.v4.new_output("display_data", data={MIME: {"name": "auc", "value": 0.7}, "text/plain": "x"}),
                  nbformat.v4.new_output("stream", text="hello")]
    c2 = nbformat.v4.new_code_cell("")
    c2.outputs = [nbformat.v4.new_output("display_data", data={MIME: {"name": "auc", "value": 0.8}}),
                  nbformat.v4.new_output("display_data", data={MIME: {"name": "model", "value": "rf"}})]
    nb.cells = [nbformat.v4.new_markdown_cell("x"), c1, c2]
    assert read_records(nb) == {"auc": 0.8, "model": "rf"}
    assert not math.isnan(read_records(nb)["auc"])
