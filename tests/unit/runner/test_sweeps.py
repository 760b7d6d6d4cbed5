"""Sweep grids: NAME=V1,V2 axes split into each value's text, parsed against the declared types."""

import json
import subprocess
import sys

import pytest
from support import make_notebook

from workbench.errors import ParameterError
from workbench.runner.params import Signature, parse_parameters_source
from workbench.runner.sweeps import expand_grid, parse_grid_arg


def test_grid_axes_split_into_value_texts():
    assert parse_grid_arg("lr=0.1,0.01") == ("lr", ["0.1", "0.01"])
    assert parse_grid_arg("models=[logreg],[logreg, catboost]") == ("models", ["[logreg]", "[logreg, catboost]"])
    assert parse_grid_arg("name=a b,c") == ("name", ["a b", "c"])
    assert parse_grid_arg("tag=007, '1,2'") == ("tag", ["007", "'1,2'"])
    with pytest.raises(ParameterError, match="NAME=V1,V2"):
        parse_grid_arg("lr")
    with pytest.raises(ParameterError, match="not valid YAML"):
        parse_grid_arg("models=[a, b")
    assert expand_grid({"a": [1, 2], "b": [3, 4]}) == [{"a": 1, "b": 3}, {"a": 1, "b": 4}, {"a": 2, "b": 3},
                                                      {"a": 2, "b": 4}]


def test_grid_values_are_parsed_against_the_signature_like_p():
    sig = Signature(tuple(parse_parameters_source('tag = "x"  # text\nn = 1  # int\nm = ["a"]  # list')), True, "g")
    values = {name: [sig.parse(name, t) for t in texts]
              for name, texts in map(parse_grid_arg, ["tag=007,1e-4,'a,b'", "n=2,3", "m=[a],[a, b]"])}
    assert values == {"tag": ["007", "1e-4", "a,b"], "n": [2, 3], "m": [["a"], ["a", "b"]]}
    with pytest.raises(ParameterError, match="parameter 'n' of g must be int"):
        sig.parse("n", "two")


def test_runner_entry_point_refuses_a_bad_spec_before_running(tmp_path):
    """``python -m workbench.runner`` answers one JSON line; a value the signature refuses runs nothing."""
    nb = make_notebook(tmp_path / "nb.ipynb", "n = 1  # a number", "print(n)")
    spec = {"notebook": str(nb), "params": {"n": "three"}, "options": {"reports": str(tmp_path / "reports")}}
    proc = subprocess.run([sys.executable, "-m", "workbench.runner"], input=json.dumps(spec), capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["record"] is None and "parameter 'n' of" in answer["message"] and "must be int" in answer["message"]
    assert not (tmp_path / "reports").exists()
