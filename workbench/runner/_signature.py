"""A notebook's parameter signature, read from its ``parameters`` cell as papermill reads it.

Literal defaults (``n = 5``, multi-line lists and dicts, ``a: float = 2.25``, ``a = 2  # type: float``)
give typed, settable parameters. A default that is code is *computed*: constant arithmetic
(``n = 2 ** 10``) is folded into a literal; an expression whose type is certain from its form
(a comparison or ``not`` → bool, an f-string or string concatenation → str, ``int(...)``/``float(...)``/... →
that type) stays settable with that type (the given value replaces the expression, as papermill's
injected cell does); anything else is listed as computed and cannot be set.
"""

from __future__ import annotations

import ast
import io
import operator
import tokenize
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import ParameterError

_TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict",
               tuple: "list", type(None): "any"}
_ANNOTATIONS = {"bool": bool, "int": int, "float": float, "str": str, "list": list, "dict": dict}
COMPUTED = "computed"


@dataclass(frozen=True)
class Parameter:
    """One notebook parameter: name, type name, literal default, help text, and for a default that is
    code, its source (``computed``); ``type == "computed"`` means it cannot be set."""

    name: str
    type: str
    default: Any
    help: str = ""
    computed: str | None = None

    @property
    def settable(self) -> bool:
        return self.type != COMPUTED


def _source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def parameters_cell(nb: Mapping[str, Any]) -> tuple[int, str] | None:
    """Index and source of the first code cell tagged ``parameters``, or None."""
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code" and "parameters" in (cell.get("metadata") or {}).get("tags", []):
            return i, _source(cell)
    return None


def _comments_by_line(source: str) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        pass
    return out


def parse_parameters_source(source: str, where: str = "parameters cell") -> list[Parameter]:
    """Parameters declared in the source of a parameters cell (last assignment of a name wins)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ParameterError(f"{where} is not valid Python: {e}") from e
    comments = _comments_by_line(source)
    params: dict[str, Parameter] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value, ann = node.targets[0].id, node.value, None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, value, ann = node.target.id, node.value, node.annotation
        else:
            continue
        comment = comments.get(node.end_lineno, comments.get(node.lineno, "")) or comments.get(node.lineno - 1, "")
        hinted, help_text = _type_comment(comment)
        if isinstance(ann, ast.Name) and ann.id in _ANNOTATIONS:
            hinted = ann.id
        elif isinstance(ann, ast.Constant) and ann.value in _ANNOTATIONS:  # a: "float" = 2.25
            hinted = ann.value
        params.pop(name, None)
        params[name] = _parameter(name, value, hinted, help_text)
    return list(params.values())


def _type_comment(comment: str) -> tuple[str | None, str]:
    """``"type: float  the rate"`` -> ``("float", "the rate")`` (papermill's ``# type:`` comments)."""
    if comment.startswith("type:"):
        rest = comment[5:].strip()
        tname, _, help_text = rest.partition(" ")
        if tname in _ANNOTATIONS:
            return tname, help_text.strip()
    return None, comment


def _parameter(name: str, value: ast.expr, hinted: str | None, help_text: str) -> Parameter:
    try:
        default = ast.literal_eval(value)
    except ValueError:
        default = _fold_constants(value)
        if default is _NOT_CONSTANT:
            src = ast.unparse(value)
            return Parameter(name, hinted or _computed_type(value) or COMPUTED, None, help_text, computed=src)
    if isinstance(default, tuple):
        default = list(default)
    return Parameter(name, hinted or _TYPE_NAMES.get(type(default), "any"), default, help_text)


_NOT_CONSTANT = object()
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}


def _fold_constants(node: ast.expr) -> Any:
    """The value of arithmetic over number literals (``2 ** 10``, ``1 / 3``), bounded; else _NOT_CONSTANT."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _fold_constants(node.operand)
        return v if v is _NOT_CONSTANT else (-v if isinstance(node.op, ast.USub) else v)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _fold_constants(node.left), _fold_constants(node.right)
        if a is _NOT_CONSTANT or b is _NOT_CONSTANT:
            return _NOT_CONSTANT
        if isinstance(node.op, ast.Pow) and (abs(b) > 64 or abs(a) > 1e6):
            return _NOT_CONSTANT  # no 10 ** 10 ** 10 at inspection time
        try:
            return _BINOPS[type(node.op)](a, b)
        except (ArithmeticError, ValueError):
            return _NOT_CONSTANT
    return _NOT_CONSTANT


def _computed_type(node: ast.expr) -> str | None:
    """The type a computed default certainly has, from its form alone; None when unsure."""
    if isinstance(node, (ast.Compare, ast.BoolOp)) and (
            not isinstance(node, ast.BoolOp) or all(_computed_type(v) == "bool" for v in node.values)):
        return "bool"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return "bool"
    if isinstance(node, ast.JoinedStr):
        return "str"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and any(
            isinstance(x, ast.JoinedStr) or (isinstance(x, ast.Constant) and isinstance(x.value, str))
            for x in (node.left, node.right)):
        return "str"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _ANNOTATIONS:
        return node.func.id
    return None
