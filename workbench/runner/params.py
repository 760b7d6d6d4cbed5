"""Notebook parameters as a signature: inspect the ``parameters`` cell, parse and validate values.

The ``parameters`` cell (papermill's convention) holds literal assignments, each with a comment
that serves as help::

    dataset = "telco_churn"  # registry name or a CSV/Parquet path
    folds = 5                # number of cross-validation folds

Values given on the command line are parsed as YAML literals (``-p models '[logreg, catboost]'``).
An unknown name or a value whose type does not fit the default is a :class:`ParameterError`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..errors import NotebookNotFoundError, ParameterError
from ._signature import Parameter, parameters_cell, parse_parameters_source


def read_notebook(path: str | Path) -> dict[str, Any]:
    """A notebook's JSON (as plain dicts), with a clear error when it is missing or not a notebook.

    Plain ``json`` rather than nbformat: inspecting parameters must stay cheap (the run cache
    answers without importing the execution stack).
    """
    import json

    p = Path(path)
    if not p.is_file():
        hint = ""
        nbdir = Path("notebooks")
        if nbdir.is_dir():
            names = sorted(x.name for x in nbdir.glob("*.ipynb"))
            hint = f"; notebooks here: {', '.join(names) or 'none'}"
        raise NotebookNotFoundError(f"notebook {str(path)!r} not found{hint}")
    if p.suffix != ".ipynb":
        raise NotebookNotFoundError(f"{str(path)!r} is not a notebook: expected a .ipynb file")
    try:
        nb = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise NotebookNotFoundError(f"{str(path)!r} is not a readable notebook: {e}") from e
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookNotFoundError(f"{str(path)!r} is not a readable notebook: no 'cells' list")
    return nb


def inspect_parameters(notebook: str | Path) -> list[Parameter]:
    """The parameters a notebook declares (error if it has no ``parameters`` cell)."""
    params, has_cell = notebook_signature(notebook)
    if not has_cell:
        raise ParameterError(no_parameters_cell(notebook))
    return params


def no_parameters_cell(notebook: str | Path) -> str:
    return (f"{str(notebook)!r} has no cell tagged 'parameters': tag its first code cell 'parameters' "
            "(JupyterLab: Property Inspector > Cell Tags) so its values can be set")


def notebook_signature(notebook: str | Path) -> tuple[list[Parameter], bool]:
    """The parameters a notebook declares, and whether it has a ``parameters`` cell at all (a notebook
    without one runs as it is, like under papermill, but takes no values)."""
    nb = read_notebook(notebook)
    found = parameters_cell(nb)
    if found is None:
        return [], False
    return parse_parameters_source(found[1], where=f"parameters cell of {Path(notebook).name}"), True


MAX_VALUE_BYTES = 1 << 20
"""Largest parameter value text (1 MiB): values are injected into the notebook as code."""
_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _safe_yaml(text: str, what: str) -> Any:
    """YAML without anchors or aliases (``&a``/``*a`` can expand exponentially: a 170-character
    value became 650 MB) and within the size limit."""
    if len(text.encode("utf-8", "surrogateescape")) > MAX_VALUE_BYTES:
        raise ParameterError(f"{what} is over {MAX_VALUE_BYTES >> 20} MiB; pass large data as a file path instead")
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise ParameterError(f"{what} uses a YAML anchor or alias (&name / *name), which is not allowed; "
                                     "write the value out in full")
    except yaml.YAMLError:
        pass  # not valid YAML: safe_load below says so (or the text is taken as it is)
    return yaml.safe_load(text)


def parse_value(text: str) -> Any:
    """Parse a command-line value as a YAML literal (``'[a, b]'`` -> list, ``'3'`` -> 3, ``'1e-4'`` ->
    0.0001); text that is not valid YAML stays text. Anchors and aliases are refused."""
    if not text.strip():
        return ""
    try:
        value = _safe_yaml(text, f"value {text[:40]!r}")
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
        return float(value)  # YAML 1.1 reads 1e-4 as text; everyone else reads a number
    return value


def _fits(ptype: str, value: Any) -> tuple[bool, Any]:
    """Whether ``value`` fits ``ptype``, and the value converted where a safe widening applies."""
    if ptype == "any" or value is None:
        return True, value
    if ptype == "bool":
        return isinstance(value, bool), value
    if ptype == "int":
        return isinstance(value, int) and not isinstance(value, bool), value
    if ptype == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            return True, float(value)
        return False, value
    if ptype == "str":
        return isinstance(value, str), value
    if ptype == "list":
        return isinstance(value, (list, tuple)), list(value) if isinstance(value, tuple) else value
    if ptype == "dict":
        return isinstance(value, dict), value
    return True, value


def validate(params: list[Parameter], values: Mapping[str, Any], raw: Mapping[str, str] | None = None,
             notebook: str = "notebook") -> dict[str, Any]:
    """Check ``values`` against the declared parameters; return them converted.

    ``raw`` maps names to the text given on the command line: a ``str`` parameter given a value
    that YAML read as another type (``-p target 1``) keeps the text as given.
    """
    by_name = {p.name: p for p in params}
    unknown = [k for k in values if k not in by_name]
    if unknown:
        valid = ", ".join(p.name for p in params if p.settable) or "(none)"
        raise ParameterError(
            f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"for {notebook}; valid parameters: {valid} (see `workbench params {notebook}`)"
        )
    out: dict[str, Any] = {}
    for name, value in values.items():
        p = by_name[name]
        if not p.settable:
            raise ParameterError(f"parameter {name!r} of {notebook} is computed by the notebook ({name} = "
                                 f"{p.computed}) and cannot be set; set the parameters it is computed from, or give "
                                 "it a literal default")
        if p.type == "str" and raw and name in raw and not isinstance(value, str):
            value = raw[name]
        ok, converted = _fits(p.type, value)
        if not ok:
            default = f"computed: {p.computed}" if p.computed else f"default {p.default!r}"
            raise ParameterError(
                f"parameter {name!r} of {notebook} must be {p.type} ({default}), "
                f"got {type(value).__name__} {value!r}"
            )
        out[name] = converted
    return out


def load_params_file(path: str | Path) -> dict[str, Any]:
    """Parameters from a YAML file (a mapping of name to value)."""
    p = Path(path)
    if not p.is_file():
        raise ParameterError(f"parameters file {str(path)!r} not found")
    if p.stat().st_size > 16 * MAX_VALUE_BYTES:
        raise ParameterError(f"parameters file {str(path)!r} is over 16 MiB; pass large data as file paths")
    try:
        data = _safe_yaml(p.read_text(encoding="utf-8"), f"parameters file {str(path)!r}")
    except UnicodeDecodeError as e:
        raise ParameterError(f"parameters file {str(path)!r} is not UTF-8 text ({e.reason} at byte {e.start}); "
                             "save it as UTF-8") from None
    except yaml.YAMLError as e:
        raise ParameterError(f"parameters file {str(path)!r} is not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(f"parameters file {str(path)!r} must hold a mapping name: value, "
                             f"got {type(data).__name__}")
    return data
