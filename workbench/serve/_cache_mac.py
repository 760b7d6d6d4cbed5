"""Entries the server writes into Redis carry a keyed MAC, so it never trusts what another client wrote.

Redis is shared and, on most networks, writable by more clients than this server: a cached answer
read back is served as a prediction, and a profile event is applied to a model. Each value is stored as
``MAC || value``, where the MAC is HMAC-SHA256 under the server's ``cache_key`` over the entry's full
Redis key (its namespace: the model's version and the request's digest), the field and the value. A
value without the right MAC (forged, copied from another key or another model version, truncated,
junk) is refused: the caller treats it as a miss and counts it (``workbench_serve_cache_invalid``).

The key comes from ``WORKBENCH_SERVE_CACHE_KEY`` (every server of a deployment sets the same one to share
the cache); without it, one random key per ``workbench serve`` start, shared by its workers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

MAC_BYTES = 32


class Signer:
    """Seals and opens Redis values with HMAC-SHA256 under ``key`` (random when None)."""

    def __init__(self, key: str | bytes | None = None):
        if key is None:
            key = secrets.token_bytes(32)
        self._key = key.encode() if isinstance(key, str) else bytes(key)

    def _mac(self, where: str, field: str, value: bytes) -> bytes:
        h = hmac.new(self._key, digestmod=hashlib.sha256)
        for part in (where.encode(), field.encode()):
            h.update(len(part).to_bytes(4, "big") + part)  # length-prefixed: no two (key, field) pairs collide
        h.update(value)
        return h.digest()

    def seal(self, where: str, field: str, value: bytes) -> bytes:
        """``value`` as stored at Redis key ``where``, hash field ``field`` (a list entry: field "")."""
        return self._mac(where, field, value) + value

    def open(self, where: str, field: str, stored: bytes | None) -> bytes | None:
        """The value sealed at (``where``, ``field``), or None when ``stored`` does not carry its MAC."""
        if not isinstance(stored, (bytes, bytearray)) or len(stored) < MAC_BYTES:
            return None
        mac, value = bytes(stored[:MAC_BYTES]), bytes(stored[MAC_BYTES:])
        return value if hmac.compare_digest(mac, self._mac(where, field, value)) else None
