"""Sweep grids: parsing NAME=V1,V2 axes and expanding them."""

import pytest

from workbench.errors import ParameterError
from workbench.runner.sweeps import expand_grid, parse_grid_arg


def test_grid_parsing():
    assert parse_grid_arg("lr=0.1,0.01") == ("lr", [0.1, 0.01])
    assert parse_grid_arg("models=[logreg],[logreg, catboost]") == ("models", [["logreg"], ["logreg", "catboost"]])
    assert parse_grid_arg("name=a b,c") == ("name", ["a b", "c"])
    with pytest.raises(ParameterError, match="NAME=V1,V2"):
        parse_grid_arg("lr")
    assert expand_grid({"a": [1, 2], "b": [3, 4]}) == [{"a": 1, "b": 3}, {"a": 1, "b": 4}, {"a": 2, "b": 3},
                                                      {"a": 2, "b": 4}]
