"""``when:`` conditions: a tiny tokenizer and a recursive-descent parser, never ``eval``.

Grammar (lowest precedence first)::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand)?
    operand    := NUMBER | STRING | "true" | "false" | "null" | NAME "." NAME | "(" expr ")"

A name is ``step.metric`` (an upstream step's recorded value; ``step.status`` too). Text in single or
double quotes; ``True``/``False``/``None`` are accepted as Python writes them. A metric that is missing
evaluates to None; comparing None or values of different kinds with ``<`` is an error naming both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import WorkbenchError


class ExpressionError(WorkbenchError, ValueError):
    """A ``when:`` condition that cannot be read or evaluated."""


_TOKEN = re.compile(r"""\s*(?:
    (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<str>"[^"\\]*"|'[^'\\]*')
  | (?P<op>==|!=|<=|>=|<|>|\(|\))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
)""", re.VERBOSE)
_WORDS = {"and", "or", "not"}
_CONSTANTS = {"true": True, "false": False, "True": True, "False": False, "null": None, "None": None}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
MAX_LENGTH = 1000


def tokenize(text: str) -> list[tuple[str, Any]]:
    """``(kind, value)`` pairs: ``num``, ``str``, ``op``, ``word`` (and/or/not), ``const``, ``name``."""
    if not isinstance(text, str):
        raise ExpressionError(f"a condition must be text, got {type(text).__name__} ({text!r})")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"a condition is over {MAX_LENGTH} characters; split the logic into steps")
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ExpressionError(f"cannot read the condition {text!r} at {text[pos:].strip()[:20]!r}: use "
                                  "step.metric names, numbers, quoted text, true/false, comparisons and and/or/not")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "num":
            out.append(("num", float(value) if any(c in value for c in ".eE") else int(value)))
        elif kind == "str":
            out.append(("str", value[1:-1]))
        elif kind == "name" and value in _WORDS:
            out.append(("word", value))
        elif kind == "name" and value in _CONSTANTS:
            out.append(("const", _CONSTANTS[value]))
        else:
            out.append((kind, value))
    return out


@dataclass(frozen=True)
class Condition:
    """A parsed ``when:`` condition: its text, its tree, and the ``step.name`` references it reads."""

    text: str
    tree: tuple
    names: tuple[str, ...]

    @property
    def steps(self) -> set[str]:
        """The steps it depends on."""
        return {n.split(".", 1)[0] for n in self.names}

    def evaluate(self, lookup: Callable[[str, str], Any]) -> bool:
        """The condition's truth; ``lookup(step, name)`` gives an upstream value (None when missing)."""
        return bool(_eval(self.tree, lookup, self.text))


class _Parser:
    def __init__(self, text: str):
        self.text, self.tokens, self.i, self.names = text, tokenize(text), 0, []

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise ExpressionError(f"the condition {self.text!r} ends too early; complete it (e.g. drift.n_drifted > 0)")
        self.i += 1
        return tok

    def binary(self, word: str, sub: Callable[[], tuple]) -> tuple:
        left = sub()
        while self.peek() == ("word", word):
            self.take()
            left = (word, left, sub())
        return left

    def expr(self) -> tuple:
        return self.binary("or", lambda: self.binary("and", self.negation))

    def negation(self) -> tuple:
        if self.peek() == ("word", "not"):
            self.take()
            return ("not", self.negation())
        return self.comparison()

    def comparison(self) -> tuple:
        left = self.operand()
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in _COMPARE:
            self.take()
            return ("cmp", tok[1], left, self.operand())
        return left

    def operand(self) -> tuple:
        kind, value = self.take()
        if kind in ("num", "str", "const"):
            return ("lit", value)
        if (kind, value) == ("op", "("):
            inner = self.expr()
            if self.peek() != ("op", ")"):
                raise ExpressionError(f"the condition {self.text!r} misses a closing ')'")
            self.take()
            return inner
        if kind == "name":
            if value.count(".") != 1:
                raise ExpressionError(f"{value!r} in the condition {self.text!r} must be STEP.METRIC (e.g. "
                                      "drift.dataset_drift); quote text ('...')")
            self.names.append(value)
            return ("name", value)
        raise ExpressionError(f"unexpected {value!r} in the condition {self.text!r}")


def parse_condition(text: str) -> Condition:
    """Parse a ``when:`` condition (raises :class:`ExpressionError` naming the problem)."""
    p = _Parser(text)
    if not p.tokens:
        raise ExpressionError("an empty condition; write one (e.g. when: \"drift.dataset_drift\") or drop when:")
    tree = p.expr()
    if p.peek() is not None:
        raise ExpressionError(f"unexpected {p.peek()[1]!r} in the condition {text!r}; join conditions with and/or")
    return Condition(text, tree, tuple(dict.fromkeys(p.names)))


def _eval(node: tuple, lookup: Callable[[str, str], Any], text: str) -> Any:
    op = node[0]
    if op == "lit":
        return node[1]
    if op == "name":
        step, name = node[1].split(".", 1)
        return lookup(step, name)
    if op == "not":
        return not _eval(node[1], lookup, text)
    if op == "and":
        return _eval(node[1], lookup, text) and _eval(node[2], lookup, text)
    if op == "or":
        return _eval(node[1], lookup, text) or _eval(node[2], lookup, text)
    a, b = _eval(node[2], lookup, text), _eval(node[3], lookup, text)
    try:
        return _COMPARE[node[1]](a, b)
    except TypeError:
        raise ExpressionError(f"the condition {text!r} compares {a!r} {node[1]} {b!r}, values of different kinds; "
                              "check the metric's name and type in the upstream run's record") from None
