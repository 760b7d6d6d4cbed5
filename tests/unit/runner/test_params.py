from pathlib import Path

import pytest
from support import make_notebook

from workbench.errors import NotebookNotFoundError, ParameterError
from workbench.runner.params import Signature, inspect_parameters, parse_parameters_source, parse_value, validate


def _signature(source: str = None, notebook: str = "nb.ipynb") -> Signature:
    return Signature(tuple(parse_parameters_source(SOURCE if source is None else source)), True, notebook)

SOURCE = '''# Parameters
dataset = "telco_churn"  # registry name or a CSV path
folds = 5  # number of CV folds
lr = 0.001  # learning rate
models = ["logreg", "catboost"]  # registry names
opts = {"a": 1}  # extra options
flag = False  # a switch
# seed for everything
seed = None
threshold: float = 1  # annotated as float
'''


def test_parse_types_defaults_and_help():
    params = {p.name: p for p in parse_parameters_source(SOURCE)}
    assert list(params) == ["dataset", "folds", "lr", "models", "opts", "flag", "seed", "threshold"]
    assert params["dataset"].type == "str" and params["dataset"].help == "registry name or a CSV path"
    assert params["folds"].type == "int" and params["folds"].default == 5
    assert params["lr"].type == "float"
    assert params["models"].type == "list" and params["models"].default == ["logreg", "catboost"]
    assert params["opts"].type == "dict"
    assert params["flag"].type == "bool"
    assert params["seed"].type == "any" and params["seed"].help == "seed for everything"
    assert params["threshold"].type == "float"


def test_non_literal_defaults_are_computed_and_typed_when_their_form_says_so():
    (x, n, flag, path, t, y) = parse_parameters_source(
        'x = compute()  # unknown\nn = -2 ** 3 + 1  # folded\nflag = not x  # bool\npath = "a/" + name  # str\n'
        't = float(x)  # float\ny = 10 ** 10 ** 10  # too big to fold at inspection')
    assert (x.type, x.computed, x.settable) == ("computed", "compute()", False)
    assert (n.type, n.default, n.computed) == ("int", -7, None)
    assert (flag.type, path.type, t.type) == ("bool", "str", "float") and flag.settable and flag.computed == "not x"
    assert y.type == "computed"
    with pytest.raises(ParameterError, match="computed by the notebook \\(x = compute\\(\\)\\) and cannot be set"):
        validate([x], {"x": 1})
    assert validate([flag], {"flag": True}) == {"flag": True}
    with pytest.raises(ParameterError, match="must be bool \\(computed: not x\\)"):
        validate([flag], {"flag": "yes"})


@pytest.mark.parametrize("text,value", [("3", 3), ("0.5", 0.5), ("[logreg, catboost]", ["logreg", "catboost"]),
                                        ("{a: 1}", {"a": 1}), ("true", True), ("hello", "hello"), ("", "")])
def test_values_parse_as_yaml(text, value):
    assert parse_value(text) == value


def test_validate_unknown_lists_valid_names():
    params = parse_parameters_source(SOURCE)
    with pytest.raises(ParameterError) as e:
        validate(params, {"fold": 3}, notebook="nb.ipynb")
    msg = str(e.value)
    assert "'fold'" in msg and "folds" in msg and "dataset" in msg and "workbench params" in msg


@pytest.mark.parametrize("name,value", [("folds", 2.5), ("folds", "five"), ("folds", True), ("models", "logreg"),
                                        ("flag", 1), ("opts", [1])])
def test_validate_wrong_type(name, value):
    with pytest.raises(ParameterError, match=f"parameter '{name}'.*must be"):
        validate(parse_parameters_source(SOURCE), {name: value})


def test_validate_widens_ints_to_floats_and_refuses_a_number_for_text():
    params = parse_parameters_source(SOURCE)
    out = validate(params, {"lr": 1, "seed": [1]})
    assert out == {"lr": 1.0, "seed": [1]} and isinstance(out["lr"], float)
    with pytest.raises(ParameterError, match="parameter 'dataset' of notebook must be str .* got int 123"):
        validate(params, {"dataset": 123})  # a typed value is never turned into text behind the caller's back


@pytest.mark.parametrize("name,text,value", [
    ("dataset", "123", "123"), ("dataset", "007", "007"), ("dataset", "1e-4", "1e-4"), ("dataset", "null", "null"),
    ("dataset", "[a, b]", "[a, b]"), ("dataset", '"quoted"', "quoted"), ("dataset", "", ""),
    ("folds", "3", 3), ("lr", "1e-4", 0.0001), ("lr", "2", 2.0), ("models", "[a, b]", ["a", "b"]),
    ("opts", "{a: 1}", {"a": 1}), ("flag", "true", True), ("seed", "7", 7), ("seed", "null", None),
])
def test_text_is_parsed_once_against_the_declared_type(name, text, value):
    got = _signature().parse(name, text)
    assert got == value and type(got) is type(value)


def test_raw_text_is_the_value_unparsed_and_must_fit_the_type():
    sig = _signature()
    assert sig.parse("dataset", "[a, b]", raw=True) == "[a, b]"
    assert sig.parse("dataset", "&a [1, *a]", raw=True) == "&a [1, *a]", "raw text is not YAML: no anchors to refuse"
    with pytest.raises(ParameterError, match="parameter 'folds' of nb.ipynb must be int .* got str '3'"):
        sig.parse("folds", "3", raw=True)
    from workbench.runner.params import MAX_VALUE_BYTES

    with pytest.raises(ParameterError, match="over 1 MiB"):
        sig.parse("dataset", "x" * (MAX_VALUE_BYTES + 1), raw=True)


def test_parse_refuses_unknown_computed_and_anchors_before_anything():
    sig = _signature()
    with pytest.raises(ParameterError, match="unknown parameter 'fold' for nb.ipynb; valid parameters: dataset"):
        sig.parse("fold", "3")
    with pytest.raises(ParameterError, match="anchor or alias"):
        sig.parse("dataset", "&a [1, *a]")  # a text parameter still refuses YAML bombs
    computed = Signature(tuple(parse_parameters_source("x = f()  # computed")), True, "c.ipynb")
    with pytest.raises(ParameterError, match="computed by the notebook"):
        computed.parse("x", "1")
    bare = Signature((), False, "plain.ipynb")
    with pytest.raises(ParameterError, match="no cell tagged 'parameters'"):
        bare.parse("x", "1")
    assert bare.bind({}).full == {} and "no cell tagged" in bare.bind({}).notes[0]


def test_bind_fills_literal_defaults_and_notes_computed_ones():
    sig = Signature(tuple(parse_parameters_source('a = 1  # a\nb = a * 2  # computed\nname = "x"  # text')), True, "n")
    bound = sig.bind({"name": "y"})
    assert bound.given == {"name": "y"} and bound.full == {"a": 1, "name": "y"}
    assert bound.notes == ("computed by the notebook, not injected: b = a * 2",)


def test_inspect_errors(tmp_path: Path):
    with pytest.raises(NotebookNotFoundError, match="not found"):
        inspect_parameters(tmp_path / "missing.ipynb")
    (tmp_path / "x.txt").write_text("{}")
    with pytest.raises(NotebookNotFoundError, match="not a notebook"):
        inspect_parameters(tmp_path / "x.txt")
    (tmp_path / "broken.ipynb").write_text("{not json")
    with pytest.raises(NotebookNotFoundError, match="not a readable notebook"):
        inspect_parameters(tmp_path / "broken.ipynb")
    nb = make_notebook(tmp_path / "untagged.ipynb", "x = 1")
    import nbformat
    n = nbformat.read(str(nb), as_version=4)
    n.cells[0].metadata["tags"] = []
    nbformat.write(n, str(nb))
    with pytest.raises(ParameterError, match="no cell tagged 'parameters'"):
        inspect_parameters(nb)


@pytest.mark.parametrize("text,value", [("1e-4", 0.0001), ("-2.5E3", -2500.0), ("3", 3), ("-3x", "-3x"),
                                        ("1e-4x", "1e-4x")])
def test_numbers_in_scientific_notation_are_numbers(text, value):
    assert parse_value(text) == value


def test_float_parameter_takes_scientific_notation_and_str_keeps_the_text():
    declared = parse_parameters_source('lr = 0.1  # rate\nname = "a"  # text')
    assert validate(declared, {"lr": parse_value("1e-4")}) == {"lr": 0.0001}
    assert validate(declared, {"lr": "1e-4"}) == {"lr": 0.0001}  # from a YAML file, where 1e-4 is text
    sig = Signature(tuple(declared), True, "nb")
    assert sig.parse("name", "1e-4") == "1e-4" and sig.parse("lr", "1e-4") == 0.0001


def test_yaml_anchors_and_aliases_are_refused_before_anything_is_built(monkeypatch):
    import yaml

    def build(*args, **kwargs):
        raise AssertionError("the value was constructed (expanded) before the refusal")
    monkeypatch.setattr(yaml, "safe_load", build)  # the mechanism: refused on the parse events, nothing expanded
    bomb = "[&a [x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b], " \
           "&d [*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d], &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]]"
    with pytest.raises(ParameterError, match="anchor or alias"):
        parse_value(bomb)
    with pytest.raises(ParameterError, match="anchor or alias"):
        parse_value("&a [1, *a]")


def test_values_and_files_have_size_and_encoding_limits(tmp_path):
    from workbench.runner.params import MAX_VALUE_BYTES, load_params_file

    with pytest.raises(ParameterError, match="over 1 MiB"):
        parse_value("x" * (MAX_VALUE_BYTES + 1))
    (tmp_path / "latin.yaml").write_bytes("name: José\n".encode("latin-1"))
    with pytest.raises(ParameterError, match="not UTF-8"):
        load_params_file(tmp_path / "latin.yaml")
    (tmp_path / "alias.yaml").write_text("a: &x [1, 2]\nb: *x\n")
    with pytest.raises(ParameterError, match="anchor or alias"):
        load_params_file(tmp_path / "alias.yaml")
