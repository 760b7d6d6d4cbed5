"""Secrets out of an executed notebook: every output's text is scrubbed of every text form of every
secret value (``str`` and ``repr``, whatever its type, plain or escaped: see
:func:`~workbench.core.secrets.scrub_text`), secret keys nested in dict parameters included; the injected-parameters cell and
papermill's metadata never held them (see :mod:`workbench.runner._kernel`)."""

from __future__ import annotations

import ast
import io
import tokenize
from typing import Any, Mapping

from ..core.secrets import redact, scrub_text, secret_numbers, secret_values


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    return value


def scrub_source(source: str, values: Mapping[str, Any]) -> str:
    """``source`` with every string or number literal equal to (or containing) a secret value replaced
    by ``'***'``; names, keywords and other code stay as they are (no blind text replacement)."""
    texts = secret_values(values)
    numbers = secret_numbers(values)
    if not texts:
        return source
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return scrub_text(source, texts)  # not Python: plain text
    lines = source.splitlines(keepends=True)
    edits = []
    for tok in tokens:
        if tok.type not in (tokenize.STRING, tokenize.NUMBER):
            continue
        try:
            value = ast.literal_eval(tok.string)
        except (ValueError, SyntaxError):
            continue
        hit = (isinstance(value, str) and any(t in value for t in texts if len(t) >= 3)) or (
            tok.type == tokenize.NUMBER and value in numbers)
        if hit:
            edits.append((tok.start, tok.end))
    for (r0, c0), (r1, c1) in reversed(edits):
        head, tail = lines[r0 - 1][:c0], lines[r1 - 1][c1:]
        lines[r0 - 1:r1] = [head + repr("***") + tail]
    return "".join(lines)


def scrub_value(value: Any, params: Mapping[str, Any]) -> Any:
    """``value`` (text, or lists and dicts of it) with the secrets of ``params`` replaced by ``***``."""
    secrets = secret_values(params)
    return _scrub(value, secrets) if secrets else value


def scrub_notebook(nb, params: Mapping[str, Any]) -> bool:
    """Remove secret values from ``nb``'s outputs (text, HTML, JSON, errors, tracebacks) and metadata,
    in place; returns whether there was anything to look for."""
    from nbformat import from_dict

    secrets = secret_values(params)
    meta = nb.metadata.get("papermill", {})
    if isinstance(meta.get("parameters"), dict):
        meta["parameters"] = redact(meta["parameters"])
    if not secrets:
        return False
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        cell["source"] = scrub_source(cell.get("source", ""), params)
        cell["outputs"] = [from_dict(_scrub(o, secrets)) for o in cell.get("outputs", [])]
    for key in ("widgets",):
        if key in nb.metadata:
            nb.metadata[key] = _scrub(nb.metadata[key], secrets)
    return True
