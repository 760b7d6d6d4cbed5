"""Parameter values are JSON-like only, and the injected cell must read back as exactly those values:
a YAML ``!!binary`` value once ran ``os.system`` from the injected cell (issue 21, item 2)."""

import base64
import datetime
from pathlib import Path

import pytest
from support import make_notebook

from workbench.errors import ParameterError, RunFailedError
from workbench.runner import params as params_mod
from workbench.runner._kernel import inject_parameters
from workbench.runner._values import MAX_ITEMS, check_injected_cell, plain_value
from workbench.runner.params import Signature, load_params_file
from workbench.runner.source import NotebookSource
from workbench.runner.sweeps import parse_grid_arg

PAYLOAD = '"]; import os; os.system("touch {marker}"); _x = ["'


def _exploit(marker: Path) -> str:
    """The issue's value: ``[!!binary <base64 of a quote-breaking payload>]``."""
    raw = PAYLOAD.format(marker=marker).encode()
    return f"[!!binary {base64.b64encode(raw).decode()}]"


@pytest.fixture
def nb(tmp_path: Path) -> Path:
    return make_notebook(tmp_path / "nb.ipynb", "items = [1]  # a list\nopt = None  # anything\nname = 'x'",
                         "print(items, opt)")


def test_the_binary_exploit_is_refused_by_name_from_p_f_and_grid(nb: Path, tmp_path: Path):
    sig = Signature.of(NotebookSource.load(nb))
    text = _exploit(tmp_path / "owned")
    for name in ("items", "opt"):  # a list parameter, and one whose default is None
        with pytest.raises(ParameterError, match=r"binary data \(YAML !!binary\).*JSON-like values only"):
            sig.parse(name, text)
    (tmp_path / "p.yaml").write_text(f"items: {text}\n")
    with pytest.raises(ParameterError, match="binary data"):
        sig.validate(load_params_file(tmp_path / "p.yaml"))
    name, texts = parse_grid_arg(f"opt={text},[1]")
    with pytest.raises(ParameterError, match="binary data"):
        [sig.parse(name, t) for t in texts]


@pytest.mark.parametrize("value,message", [
    (b"x", "binary data"), ({1, 2}, "a set"), (datetime.date(2024, 1, 31), "a date"),
    ({1: "a"}, "mapping key that is not text"), ([[object()]], "builtins.object object"),
    (10 ** 400, "over 300 digits"), (1j, "complex number"),
])
def test_values_that_are_not_json_like_are_refused_by_name(value, message):
    with pytest.raises(ParameterError, match=message):
        plain_value(value, "the value")


def test_json_like_values_pass_as_plain_data():
    assert plain_value((1, [2.5, None], {"a": True, "b": "x"}), "v") == [1, [2.5, None], {"a": True, "b": "x"}]
    assert type(plain_value(True, "v")) is bool


def test_a_value_over_the_item_cap_is_refused_saying_so(nb: Path):
    sig = Signature.of(NotebookSource.load(nb))
    with pytest.raises(ParameterError, match=f"over {MAX_ITEMS:,} items .*cap"):
        sig.validate({"items": list(range(MAX_ITEMS + 1))})
    with pytest.raises(ParameterError, match="over 10,000 items"):  # the 400,000-item list, as text
        sig.parse("items", "[" + ",".join("1" * 400_000) + "]")
    with pytest.raises(ParameterError, match="nested more than"):
        sig.parse("opt", "[" * 40 + "]" * 40)
    assert len(sig.validate({"items": list(range(MAX_ITEMS))})["items"]) == MAX_ITEMS


def test_the_injected_cell_is_checked_to_read_back_as_the_values(nb: Path, tmp_path: Path):
    node = NotebookSource.load(nb).node()
    good = {"items": [1, {"a": None}], "opt": float("nan"), "name": "a\\\" + x + \""}
    cell = next(c for c in inject_parameters(node, good, [], "python3").cells
                if "injected-parameters" in c.metadata["tags"])
    assert "name = " in cell.source
    raw = PAYLOAD.format(marker=tmp_path / "owned").encode()
    with pytest.raises(ParameterError, match="refused before the kernel started"):
        inject_parameters(NotebookSource.load(nb).node(), {"items": [raw]}, [], "python3")
    with pytest.raises(ParameterError, match="does not read back"):
        check_injected_cell("items = [1]\n", {"items": [True]})
    with pytest.raises(ParameterError, match="not an assignment"):
        check_injected_cell("items = [1]\nimport os\n", {"items": [1]})


def test_a_value_that_slips_past_validation_never_reaches_a_kernel(nb: Path, tmp_path: Path, monkeypatch):
    """Second line of defence: with the type check switched off, the injected-cell check still refuses the
    exploit before a kernel starts; the run is recorded failed and ``os.system`` never ran."""
    from workbench.runner import _kernel

    monkeypatch.setattr(params_mod, "plain_value", lambda v, what: v)
    started = []
    monkeypatch.setattr(_kernel, "start_kernel", lambda *a, **k: started.append(a))
    marker = tmp_path / "owned"
    raw = PAYLOAD.format(marker=marker).encode()
    from workbench.runner.execute import run_notebook

    with pytest.raises(RunFailedError, match="ParameterError: the injected parameters cell was refused"):
        run_notebook(nb, {"items": [raw]}, reports=tmp_path / "reports")
    assert not marker.exists() and started == []


def test_a_number_too_long_to_read_is_one_clear_error(nb: Path):
    sig = Signature.of(NotebookSource.load(nb))
    with pytest.raises(ParameterError, match="too long to read"):
        sig.parse("opt", "1" * 5000)
    assert sig.bind({}).full["items"] == [1]
    odd = Signature.of(NotebookSource.load(make_notebook(nb.parent / "odd.ipynb", "s = {1, 2}\nb = b'x'\nn = 1")))
    bound = odd.bind({})
    assert bound.full == {"n": 1} and "default not injected (not a JSON-like value): s" in bound.notes
