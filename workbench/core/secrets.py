"""Secrets: which parameter names hold them, and hiding their values wherever a run writes text.

A parameter is secret when its name looks like one (key, token, secret, password, credential, auth).
Its value, of whatever type, must never reach a report, a record, W&B, a log or a temp file.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

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


def secret_values(params: Mapping[str, Any]) -> list[str]:
    """Every text form a secret parameter's value can take in an output: ``str`` and ``repr`` of the
    value and, for collections, of each element; longest first, empty and trivial ones left out."""
    out: set[str] = set()

    def add(v: Any) -> None:
        if v is None or isinstance(v, bool):
            return
        for text in (str(v), repr(v)):
            if len(text) >= 3:
                out.add(text)
        if isinstance(v, Mapping):
            for x in v.values():
                add(x)
        elif isinstance(v, (list, tuple, set)):
            for x in v:
                add(x)

    for name, value in _walk(params):
        if is_secret(name):
            add(value)
    return sorted(out, key=len, reverse=True)


def _walk(params: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for k, v in params.items():
        yield str(k), v
        if isinstance(v, Mapping) and not is_secret(k):
            yield from _walk(v, f"{prefix}{k}.")


def scrub_text(text: str, values: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret text form replaced by ``***``."""
    for v in values:
        if v and v in text:
            text = text.replace(v, REDACTED)
    return text
