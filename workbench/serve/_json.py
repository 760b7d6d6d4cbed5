"""JSON out, fast: orjson when it can (several times faster than the alternatives on a 1000-row answer or
request log), pydantic-core's serializer for what orjson refuses (integers past 64 bits, odd types).
NaN and infinities become null either way."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; this keeps a broken install serving
    orjson = None


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON bytes."""
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except (TypeError, orjson.JSONEncodeError):
            pass
    return to_json(value, inf_nan_mode="null", fallback=str)
