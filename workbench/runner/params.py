"""Notebook parameters as a signature: what a notebook declares, values checked against it, command-line
text parsed against it.

The ``parameters`` cell (papermill's convention) holds literal assignments, each with a comment
that serves as help::

    dataset = "telco_churn"  # registry name or a CSV/Parquet path
    folds = 5                # number of cross-validation folds

A value given as text is parsed once, against the declared type (:meth:`Signature.parse`): a YAML
literal (``'[logreg, catboost]'`` -> list, ``'1e-4'`` -> 0.0001), except that a ``str`` parameter keeps
the text as typed when YAML would read something else (``'007'`` stays ``"007"``); raw text (papermill's
``-r``) is taken unparsed. Typed values (Python, YAML files, sweep grids once parsed) are checked with
:meth:`Signature.validate`. An unknown name or a value whose type does not fit the declaration is a
:class:`ParameterError`, before anything runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from ..errors import ParameterError
from ._signature import Parameter, parameters_cell, parse_parameters_source
from ._values import MAX_DEPTH, MAX_ITEMS, plain_value
from .source import NotebookSource

__all__ = ["Parameter", "Signature", "Bound", "inspect_parameters", "load_params_file", "parameters_cell",
           "parse_parameters_source", "parse_value", "validate", "MAX_VALUE_BYTES", "MAX_ITEMS", "MAX_DEPTH"]


def inspect_parameters(notebook: str | Path | NotebookSource) -> list[Parameter]:
    """The parameters a notebook declares (error if it has no ``parameters`` cell)."""
    source = NotebookSource.load(notebook)
    if not source.has_parameters_cell:
        raise ParameterError(no_parameters_cell(source.path))
    return list(source.parameters)


def no_parameters_cell(notebook: str | Path) -> str:
    return (f"{str(notebook)!r} has no cell tagged 'parameters': tag its first code cell 'parameters' "
            "(JupyterLab: Property Inspector > Cell Tags) so its values can be set")


MAX_VALUE_BYTES = 1 << 20
"""Largest parameter value text (1 MiB): values are injected into the notebook as code."""
_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _check_size(text: str, what: str) -> None:
    if len(text.encode("utf-8", "surrogateescape")) > MAX_VALUE_BYTES:
        raise ParameterError(f"{what} is over {MAX_VALUE_BYTES >> 20} MiB; pass large data as a file path instead")


def _safe_yaml(text: str, what: str) -> Any:
    """YAML without anchors or aliases (``&a``/``*a`` can expand exponentially: a 170-character
    value became 650 MB) and within the size limit."""
    _check_size(text, what)
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
    except ParameterError:
        raise
    except ValueError:  # an integer past Python's text limit
        raise ParameterError(f"value {text[:40]!r}... is a number too long to read; pass it as text") from None
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


@dataclass(frozen=True)
class Bound:
    """Values bound to a signature: the ``given`` ones checked and converted, the ``full`` set a run
    injects (literal defaults, then the given values), and notes for the run's record."""

    given: dict[str, Any]
    full: dict[str, Any]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Signature:
    """A notebook's parameters as a function signature.

    Attributes
    ----------
    parameters : the declared parameters, in order.
    has_cell : whether the notebook has a ``parameters`` cell (without one it takes no values).
    notebook : the notebook's name, as messages show it.
    """

    parameters: tuple[Parameter, ...] = ()
    has_cell: bool = True
    notebook: str = "notebook"

    @classmethod
    def of(cls, source: NotebookSource) -> "Signature":
        return cls(source.parameters, source.has_parameters_cell, str(source.path))

    @property
    def defaults(self) -> dict[str, Any]:
        """The literal defaults (computed ones are the notebook's business, never injected)."""
        return {p.name: p.default for p in self.parameters if p.computed is None}

    def _declared(self, names: Iterable[str]) -> dict[str, Parameter]:
        """The declared parameter of each name; one error naming every unknown or computed one."""
        names = list(names)
        if names and not self.has_cell:
            raise ParameterError(no_parameters_cell(self.notebook))
        by_name = {p.name: p for p in self.parameters}
        unknown = [k for k in names if k not in by_name]
        if unknown:
            valid = ", ".join(p.name for p in self.parameters if p.settable) or "(none)"
            raise ParameterError(
                f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                f"for {self.notebook}; valid parameters: {valid} (see `workbench params {self.notebook}`)")
        for name in names:
            p = by_name[name]
            if not p.settable:
                raise ParameterError(
                    f"parameter {name!r} of {self.notebook} is computed by the notebook ({name} = {p.computed}) "
                    "and cannot be set; set the parameters it is computed from, or give it a literal default")
        return {name: by_name[name] for name in names}

    def _fit(self, p: Parameter, value: Any) -> Any:
        ok, converted = _fits(p.type, value)
        if not ok:
            default = f"computed: {p.computed}" if p.computed else f"default {p.default!r}"
            raise ParameterError(f"parameter {p.name!r} of {self.notebook} must be {p.type} ({default}), "
                                 f"got {type(value).__name__} {_short(value)}")
        return plain_value(converted, f"the value of parameter {p.name!r}")

    def parse(self, name: str, text: str, *, raw: bool = False) -> Any:
        """The value of parameter ``name`` given as ``text``, parsed against its declared type.

        ``raw``: the text is the value, unparsed (papermill's ``-r``); it must then fit the type as text.
        """
        (p,) = self._declared([name]).values()
        if raw:
            _check_size(text, f"value of {name!r}")
            return self._fit(p, text)
        value = parse_value(text)
        if p.type == "str" and not isinstance(value, str):
            value = text  # `-p target 1`: a text parameter keeps the text as typed
        return self._fit(p, value)

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` (typed) checked against the declared parameters, converted where a safe widening
        applies (an int for a float parameter, ``"1e-4"`` from a YAML file for a float)."""
        declared = self._declared(values)
        return {name: self._fit(declared[name], value) for name, value in values.items()}

    def bind(self, values: Mapping[str, Any]) -> Bound:
        """``values`` checked, the full set a run injects, and notes on what is not injected."""
        given = self.validate(values)
        if not self.has_cell:
            return Bound({}, {}, ("this notebook has no cell tagged 'parameters': it ran as it is (tag one to set "
                                  "values)",))
        notes = tuple(f"computed by the notebook, not injected: {p.name} = {p.computed}"
                      for p in self.parameters if p.computed is not None and p.name not in given)
        defaults = {}
        for name, value in self.defaults.items():
            try:
                defaults[name] = plain_value(value, name)
            except ParameterError:  # a set or bytes default stays the notebook's own, never written as code
                notes += (f"default not injected (not a JSON-like value): {name}",)
        return Bound(given, {**defaults, **given}, notes)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate(params: Iterable[Parameter], values: Mapping[str, Any], notebook: str = "notebook") -> dict[str, Any]:
    """Check typed ``values`` against declared ``params``; return them converted (see :meth:`Signature.validate`)."""
    return Signature(tuple(params), True, notebook).validate(values)


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
