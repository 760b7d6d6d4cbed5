"""The filter and sort syntax of ``workbench runs``, translated to parameterized SQL over the run index.

Grammar (keywords case-insensitive)::

    expr       := term ('or' term)*
    term       := factor ('and' factor)*
    factor     := 'not' factor | '(' expr ')' | comparison
    comparison := FIELD OP VALUE | FIELD 'is' ['not'] 'null' | FIELD ['not'] 'in' '(' VALUE {',' VALUE} ')'
    OP         := '=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>=' | 'like'
    VALUE      := 'text' (a quote doubled inside: 'it''s') | "text" | number | true | false
    FIELD      := notebook | status | started | ended | duration_s | run_id | sweep_id | cached_from | tags
                | params.NAME | metrics.NAME        (NAME: letters, digits, _ . / - ; or quoted: params."a b")

Values never enter the SQL text: every value and every parameter or metric name is a ``?`` placeholder.
Field names are checked against the list above; anything else is a :class:`QueryError` naming the
valid fields. ``tags = 'keep'`` means the run has the tag ``keep`` (``!=``: it has not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import WorkbenchError

COLUMNS = {"notebook": "runs.notebook", "status": "runs.status", "started": "runs.started", "ended": "runs.ended",
           "duration_s": "runs.duration_s", "duration": "runs.duration_s", "run_id": "runs.run_id",
           "sweep_id": "runs.sweep_id", "sweep": "runs.sweep_id", "cached_from": "runs.cached_from"}
KEYED = ("params", "metrics")
FIELDS_HELP = ("notebook, status, started, ended, duration_s, run_id, sweep_id, cached_from, tags, params.NAME, "
               "metrics.NAME")
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "like": "LIKE"}
_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_]))
  | (?P<op><=|>=|!=|<>|==|=|<|>|\(|\)|,)
  | (?P<word>[A-Za-z_]\w*\."(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_./-]*)
  )""", re.X)
_KEYWORDS = {"and", "or", "not", "is", "null", "in", "like", "true", "false"}


class QueryError(WorkbenchError, ValueError):
    """A ``--where`` / ``--sort`` / ``--columns`` expression that cannot be read."""


@dataclass(frozen=True)
class Token:
    kind: str  # str, num, op, word, end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(f"cannot read {text[pos:].strip()[:30]!r} at character {pos + 1} of the filter; "
                             "strings are quoted ('compare_models'), fields are " + FIELDS_HELP)
        kind = m.lastgroup or "op"
        out.append(Token(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    out.append(Token("end", "", len(text)))
    return out


def _unquote(s: str) -> str:
    return s[1:-1].replace(s[0] * 2, s[0])


@dataclass(frozen=True)
class Field:
    """A field of the filter: a column, ``tags``, or a parameter or metric by name."""

    name: str
    table: str | None = None  # params / metrics for keyed fields
    key: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Field":
        low = text.lower()
        if low in COLUMNS or low == "tags":
            return cls(low)
        head, dot, rest = text.partition(".")
        if dot and head.lower() in KEYED and rest:
            key = _unquote(rest) if rest[0] == '"' else rest
            return cls(text, head.lower(), key)
        raise QueryError(f"unknown field {text!r}: valid fields are {FIELDS_HELP}")

    def value_sql(self, args: list) -> str:
        """An SQL expression giving this field's value for the row ``runs`` (for sorting and columns)."""
        if self.table:
            args.append(self.key)
            return f"(SELECT COALESCE(k.num, k.txt) FROM {self.table} k WHERE k.folder = runs.folder AND k.key = ?)"
        if self.name == "tags":
            return "(SELECT group_concat(t.tag, ',') FROM tags t WHERE t.folder = runs.folder)"
        return COLUMNS[self.name]


class _Parser:
    def __init__(self, text: str):
        self.tokens, self.i, self.args = tokenize(text), 0, []

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def word(self, *words: str) -> bool:
        if self.tok.kind == "word" and self.tok.text.lower() in words:
            self.i += 1
            return True
        return False

    def op(self, text: str) -> bool:
        if self.tok.kind == "op" and self.tok.text == text:
            self.i += 1
            return True
        return False

    def fail(self, expected: str) -> QueryError:
        got = repr(self.tok.text) if self.tok.kind != "end" else "the end"
        return QueryError(f"expected {expected} at character {self.tok.pos + 1} of the filter, got {got}")

    def parse(self) -> str:
        sql = self.expr()
        if self.tok.kind != "end":
            raise self.fail("'and', 'or' or the end")
        return sql

    def expr(self) -> str:
        parts = [self.term()]
        while self.word("or"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def term(self) -> str:
        parts = [self.factor()]
        while self.word("and"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def factor(self) -> str:
        if self.word("not"):
            return f"(NOT {self.factor()})"
        if self.op("("):
            sql = self.expr()
            if not self.op(")"):
                raise self.fail("')'")
            return sql
        return self.comparison()

    def value(self) -> Any:
        t = self.tok
        if t.kind == "str":
            self.i += 1
            return _unquote(t.text)
        if t.kind == "num":
            self.i += 1
            return float(t.text) if any(c in t.text for c in ".eE") else int(t.text)
        if self.word("true", "false"):
            return 1 if t.text.lower() == "true" else 0
        raise self.fail("a value ('text', a number, true or false)")

    def comparison(self) -> str:
        if self.tok.kind != "word" or self.tok.text.lower() in _KEYWORDS:
            raise self.fail(f"a field ({FIELDS_HELP})")
        field = Field.parse(self.tok.text)
        self.i += 1
        if self.word("is"):
            negate = self.word("not")
            if not self.word("null"):
                raise self.fail("'null'")
            return _null_sql(field, negate, self.args)
        negate_in = self.word("not")
        if negate_in or self.word("in"):
            if negate_in and not self.word("in"):
                raise self.fail("'in'")
            return _in_sql(field, self._value_list(), negate_in, self.args)
        t = self.tok
        op = _OPS.get(t.text.lower()) if t.kind in ("op", "word") else None
        if op is None:
            raise self.fail("a comparison (= != < <= > >= like in, is null)")
        self.i += 1
        return _compare_sql(field, op, self.value(), self.args)

    def _value_list(self) -> list:
        if not self.op("("):
            raise self.fail("'(' after 'in'")
        values = [self.value()]
        while self.op(","):
            values.append(self.value())
        if not self.op(")"):
            raise self.fail("')'")
        return values


def _keyed(field: Field, cond: str, args: list, extra: list) -> str:
    args.append(field.key)
    args.extend(extra)
    return f"EXISTS (SELECT 1 FROM {field.table} k WHERE k.folder = runs.folder AND k.key = ? AND {cond})"


def _compare_sql(field: Field, op: str, value: Any, args: list) -> str:
    if field.name == "tags":
        if op not in ("=", "!=", "LIKE") or not isinstance(value, str):
            raise QueryError("tags are compared with = 'tag', != 'tag' or like 'pattern%'")
        args.append(value)
        cond = "EXISTS (SELECT 1 FROM tags t WHERE t.folder = runs.folder AND t.tag " + \
            ("LIKE ?)" if op == "LIKE" else "= ?)")
        return f"(NOT {cond})" if op == "!=" else cond
    if field.table:
        col = "k.txt" if isinstance(value, str) else "k.num"
        return _keyed(field, f"{col} {op} ?", args, [value])
    args.append(value)
    return f"{COLUMNS[field.name]} {op} ?"


def _null_sql(field: Field, negate: bool, args: list) -> str:
    if field.table:
        sql = _keyed(field, "1", args, [])
        return sql if negate else f"(NOT {sql})"
    if field.name == "tags":
        sql = "EXISTS (SELECT 1 FROM tags t WHERE t.folder = runs.folder)"
        return sql if negate else f"(NOT {sql})"
    return f"{COLUMNS[field.name]} IS {'NOT ' if negate else ''}NULL"


def _in_sql(field: Field, values: list, negate: bool, args: list) -> str:
    parts = [_compare_sql(field, "=", v, args) for v in values]
    sql = "(" + " OR ".join(parts) + ")"
    return f"(NOT {sql})" if negate else sql


def where_sql(text: str | None) -> tuple[str, list]:
    """``text`` (the filter) as an SQL condition on the table ``runs`` and its ``?`` arguments."""
    if not text or not text.strip():
        return "1", []
    p = _Parser(text)
    return p.parse(), p.args


def order_sql(sort: str | None) -> tuple[str, list]:
    """``--sort`` (fields, comma-separated; a leading ``-`` sorts descending) as ORDER BY terms; missing
    values last. Default: newest first."""
    terms, args = [], []
    for part in [s.strip() for s in (sort or "").split(",") if s.strip()]:
        desc = part.startswith("-")
        expr = Field.parse(part.lstrip("+-")).value_sql(args)
        args.extend(args[-1:] if expr.count("?") else [])
        terms.append(f"{expr} IS NULL, {expr} {'DESC' if desc else 'ASC'}")
    terms.append("runs.run_id DESC")
    return ", ".join(terms), args
