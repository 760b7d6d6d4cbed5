"""Each declared type takes exactly its values: a bool is not a number, a number is not a bool."""

import pytest

from workbench.errors import ParameterError
from workbench.runner.params import Signature, parse_parameters_source, parse_value, validate

DECLARED = parse_parameters_source('lr = 0.1  # a rate\nn = 3  # a count\nflag = False  # a switch\n'
                                   'name = "a"  # a text\nitems = [1]  # a list\nopts = {"a": 1}  # options')


@pytest.mark.parametrize("name, value", [("lr", True), ("lr", False), ("n", True), ("n", 2.5), ("flag", 1),
                                         ("flag", 0), ("name", 3), ("items", "x"), ("opts", [1]), ("lr", "fast")])
def test_a_value_of_the_wrong_type_is_refused_by_name(name, value):
    with pytest.raises(ParameterError, match=name):
        validate(DECLARED, {name: value})


@pytest.mark.parametrize("text", ["true", "false", "yes", "on"])
def test_yaml_booleans_are_not_numbers(text):
    sig = Signature(tuple(DECLARED), True, "nb")
    with pytest.raises(ParameterError, match="lr"):
        sig.parse("lr", text)
    with pytest.raises(ParameterError, match="lr"):
        validate(DECLARED, {"lr": parse_value(text)})


def test_safe_widenings_keep_their_exact_values():
    out = validate(DECLARED, {"lr": 2, "n": 4, "flag": True, "name": "1e-4", "items": [], "opts": {}})
    assert out == {"lr": 2.0, "n": 4, "flag": True, "name": "1e-4", "items": [], "opts": {}}
    assert type(out["lr"]) is float and type(out["n"]) is int and out["flag"] is True
