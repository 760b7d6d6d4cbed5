"""What a parameter value may be, and the check that the injected cell holds exactly those values.

Parameter values become code (papermill's injected cell), so they are JSON-like only: ``str``, ``int``,
``float``, ``bool``, ``None``, lists and dicts with text keys, within a size cap. Anything else (YAML's
``!!binary`` bytes, dates, sets, objects) is refused by name: papermill would write it as text it does not
escape. Before a kernel starts, :func:`check_injected_cell` reads the injected cell back with
``ast.literal_eval``: every statement must assign one parameter a literal equal to its value.
"""

from __future__ import annotations

import ast
import datetime
import math
from typing import Any, Mapping

from ..errors import ParameterError

MAX_ITEMS = 10_000
"""Most list items and dict entries in one parameter value, all levels together."""
MAX_DEPTH = 32
"""Deepest nesting of lists and dicts in one parameter value."""
_MAX_INT_BITS = 1024  # ints beyond ~300 digits are refused (Python's own text limit is 4300 digits)

_NAMES = {bytes: "binary data (YAML !!binary)", bytearray: "binary data", set: "a set (YAML !!set)",
          frozenset: "a set", datetime.date: "a date (YAML reads 2024-01-31 as one: quote it to pass text)",
          datetime.datetime: "a date and time (quote it to pass text)", complex: "a complex number"}


def _kind(value: Any) -> str:
    for t, name in _NAMES.items():
        if type(value) is t:
            return name
    return f"a {type(value).__module__}.{type(value).__qualname__} object"


def plain_value(value: Any, what: str) -> Any:
    """``value`` as plain JSON-like data (tuples as lists, subclasses of str/int/float as the base type);
    :class:`ParameterError` naming ``what`` for anything else, for a value past :data:`MAX_ITEMS` items or
    :data:`MAX_DEPTH` levels, or an int past ~300 digits."""
    count = [0]

    def visit(v: Any, depth: int) -> Any:
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, int):
            if v.bit_length() > _MAX_INT_BITS:
                raise ParameterError(f"{what} is an integer of over 300 digits; pass it as text")
            return int(v)
        if isinstance(v, float):
            return float(v)
        if isinstance(v, str):
            return str.__str__(v)
        if isinstance(v, (list, tuple, dict)):
            if depth >= MAX_DEPTH:
                raise ParameterError(f"{what} is nested more than {MAX_DEPTH} levels deep; pass large data as a "
                                     "file path instead")
            count[0] += len(v)
            if count[0] > MAX_ITEMS:
                raise ParameterError(f"{what} holds over {MAX_ITEMS:,} items (the cap on a parameter value); pass "
                                     "large data as a file path instead")
            if isinstance(v, dict):
                bad = next((k for k in v if not isinstance(k, str)), None)
                if bad is not None:
                    raise ParameterError(f"{what} has a mapping key that is not text ({bad!r}); parameters take "
                                         "JSON-like values: quote the key")
                return {str.__str__(k): visit(x, depth + 1) for k, x in v.items()}
            return [visit(x, depth + 1) for x in v]
        raise ParameterError(f"{what} is {_kind(v)}, which a parameter cannot hold; parameters take JSON-like "
                             "values only (text, numbers, true/false, null, lists, mappings with text keys)")

    return visit(value, 0)


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same JSON-like type at every level (``True`` is not ``1``; NaN equals NaN)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


class _NonFinite(ast.NodeTransformer):
    """papermill writes NaN and infinities as ``float('nan')``, ``float('inf')``, ``float('-inf')``."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if (isinstance(node.func, ast.Name) and node.func.id == "float" and not node.keywords
                and len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
                and node.args[0].value in ("nan", "inf", "-inf")):
            return ast.copy_location(ast.Constant(float(node.args[0].value)), node)
        return node


def check_injected_cell(source: str, values: Mapping[str, Any]) -> None:
    """Raise :class:`ParameterError` unless ``source`` (the injected cell) is exactly one assignment per
    parameter of ``values``, each of a literal equal to the value (``ast.literal_eval``)."""
    def refuse(why: str) -> ParameterError:
        return ParameterError(f"the injected parameters cell was refused before the kernel started: {why}; "
                              "parameters take JSON-like values only")

    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise refuse(f"it is not valid Python ({e.msg}, line {e.lineno})") from None
    seen: set[str] = set()
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in values and node.targets[0].id not in seen):
            raise refuse(f"line {node.lineno} is not an assignment of one parameter")
        name = node.targets[0].id
        try:
            value = ast.literal_eval(_NonFinite().visit(node.value))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise refuse(f"the value of {name!r} (line {node.lineno}) is not a literal") from None
        if not same_value(value, values[name]):
            raise refuse(f"the value of {name!r} (line {node.lineno}) does not read back as the value given")
        seen.add(name)
    missing = sorted(set(values) - seen)
    if missing:
        raise refuse(f"no assignment of {', '.join(missing)}")
