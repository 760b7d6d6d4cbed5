"""Secrets: which parameter names hold them, and hiding their values wherever a run writes text.

A parameter is secret when its name looks like one (key, token, secret, password, credential, auth).
Its value, of whatever type, must never reach a report, a record, W&B, a log or a temp file.
"""

from __future__ import annotations

import functools
import html
import os
import re
from typing import Any, Iterable, Iterator, Mapping

SECRET_NAME = re.compile(r"key|token|secret|passw|credential|auth", re.I)
# names that contain a secret word but hold none (sort_key, max_tokens, author, ...)
NOT_SECRET_NAME = re.compile(r"(sort|group|primary|foreign|partition|cache|dict|lookup|join|hot)_?keys?$"
                             r"|^(max|min|num|n)_?tokens?$|tokens?_?(count|limit)$|^author", re.I)
REDACTED = "***"


def is_secret(name: str) -> bool:
    """Whether a parameter named ``name`` holds a secret (``api_key``, ``WANDB_TOKEN``, ``db_password``)."""
    name = str(name)
    return bool(SECRET_NAME.search(name)) and not NOT_SECRET_NAME.search(name)


def redact(obj: Any) -> Any:
    """A copy of ``obj`` with the values of secret-named keys replaced by ``***`` (nested too)."""
    if isinstance(obj, Mapping):
        return {k: (REDACTED if is_secret(k) and obj[k] not in (None, "") else redact(v)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v) for v in obj]
    return obj


_NOT_SECRET_ENV = re.compile(r"_(SOCK|FILE|PATH|DIR|HOME)$|^XAUTHORITY$|^WORKBENCH_(CONTEXT|SECRETS)$", re.I)


def environment_secrets(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secret-named variables of ``environ`` (default: this process's) with values of 8 characters or
    more: ``WANDB_API_KEY``, ``AWS_SECRET_ACCESS_KEY``, ``WORKBENCH_SERVE_TOKEN``; not ``SSH_AUTH_SOCK`` or
    ``*_FILE``/``*_PATH``/``*_DIR`` (paths, not secrets), nor short flags (``AUTH_ENABLED=true``)."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if is_secret(k) and not _NOT_SECRET_ENV.search(k) and len(v) >= 8}


def holds_secret(name: str, value: Any) -> bool:
    """Whether parameter ``name`` is secret or its value (a mapping, at any depth) has a secret-named key:
    such a value is passed to the kernel privately as a whole, never written as a literal."""
    if is_secret(name):
        return True
    if isinstance(value, Mapping):
        return any(holds_secret(k, v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(holds_secret("", v) for v in value)
    return False


def _number_forms(v: int | float) -> set[str]:
    """How a number is commonly formatted in an output: thousands separators, ``1234.0``, exponent."""
    out = {f"{v:,}", f"{v:_}", f"{float(v)!r}", f"{v:e}", f"{float(v):,.2f}"}
    if isinstance(v, float):
        out |= {f"{v:f}", f"{v:g}"}
    return out


def _secret_leaves(params: Mapping[str, Any]) -> Iterator[Any]:
    """Every value under a secret name of ``params``: the value itself and, for collections, each element
    (nested ones too)."""
    def walk(v: Any) -> Iterator[Any]:
        yield v
        if isinstance(v, Mapping):
            for x in v.values():
                yield from walk(x)
        elif isinstance(v, (list, tuple, set)):
            for x in v:
                yield from walk(x)

    for name, value in _walk(params):
        if is_secret(name):
            yield from walk(value)


def secret_values(params: Mapping[str, Any]) -> list[str]:
    """Every text form a secret parameter's value can take in an output: ``str`` and ``repr`` of the
    value and, for collections, of each element, and a number's formatted forms (``1,234``, ``1234.0``);
    longest first, empty and trivial ones left out. :func:`scrub_text` also finds each in its escaped forms."""
    out: set[str] = set()
    for v in _secret_leaves(params):
        if v is None or isinstance(v, bool):
            continue
        texts = {str(v), repr(v)}
        if isinstance(v, (int, float)):
            texts |= _number_forms(v)
        out.update(t for t in texts if len(t) >= 3)
    return sorted(out, key=len, reverse=True)


def secret_numbers(params: Mapping[str, Any]) -> set[int | float]:
    """The numbers among the secret values of ``params`` (nested ones too)."""
    return {v for v in _secret_leaves(params) if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _walk(params: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for k, v in params.items():
        yield str(k), v
        if isinstance(v, Mapping) and not is_secret(k):
            yield from _walk(v, f"{prefix}{k}.")
        elif isinstance(v, (list, tuple)) and not is_secret(k):
            yield from _walk({f"{k}[{i}]": x for i, x in enumerate(v) if isinstance(x, Mapping)}, prefix)


_CONTROL = {"\n": "n", "\t": "t", "\r": "r", "\b": "b", "\f": "f"}


def _char(c: str) -> str:
    r"""A pattern matching ``c`` as it is or escaped: HTML entities (named, decimal, hex), JSON and
    JavaScript ``\uXXXX``, URL encoding (``%2F``, ``+`` for a space), backslash escapes (``\"``, ``\/``,
    ``\n``, nested ``\\\"``)."""
    if c.isascii() and c.isalnum():
        return c  # letters and digits stand as they are in every escaped form
    o = ord(c)
    alts = [re.escape(c), f"&#0*{o};", f"(?i:&#x0*{o:x};)"]
    named = html.escape(c)
    if named != c:
        alts += [re.escape(named), "&apos;"] if c == "'" else [re.escape(named)]
    if o < 0x10000:
        alts.append(f"(?i:\\\\u{o:04x})")
    else:
        hi, lo = 0xD800 + ((o - 0x10000) >> 10), 0xDC00 + ((o - 0x10000) & 0x3FF)
        alts.append(f"(?i:\\\\u{hi:04x}\\\\u{lo:04x})")
    alts.append("(?i:" + "".join(f"%{b:02x}" for b in c.encode("utf-8", "surrogatepass")) + ")")
    if c == " ":
        alts.append(r"\+")
    if c in _CONTROL:
        alts.append(r"\\+" + _CONTROL[c])
    pattern = "(?:" + "|".join(alts) + ")"
    return r"\\*" + pattern if c in "\"'/\\" else pattern


_ANCHOR = re.compile(r"[A-Za-z0-9]{3,}")


def _anchor(form: str) -> str:
    """The longest run of ASCII letters and digits in ``form`` ('' if under 3): every escaped form
    holds it as it is, so a text without it cannot hold the form (a fast test before the pattern)."""
    return max(_ANCHOR.findall(form), key=len, default="")


@functools.lru_cache(maxsize=256)
def _pattern(forms: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join("".join(_char(c) for c in v) for v in forms))


@functools.lru_cache(maxsize=64)
def _anchored(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((v, _anchor(v)) for v in sorted({v for v in values if v}, key=len, reverse=True))


def scrub_text(text: str, values: Iterable[str]) -> str:
    r"""``text`` with every occurrence of each secret text form replaced by ``***``: as it is, and
    HTML-escaped, JSON-escaped (``\"``, ``\/``, ``\u002f``), URL-encoded, or any mix of these."""
    if not text:
        return text
    forms = tuple(v for v, anchor in _anchored(tuple(values)) if not anchor or anchor in text)
    return _pattern(forms).sub(REDACTED, text) if forms else text
