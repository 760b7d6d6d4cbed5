"""A loaded table and its provenance (:class:`Dataset`), and the content hash that identifies it.

Tables (:mod:`._tables`) and request logs (:mod:`._requestlog`) both return a :class:`Dataset`.
Importing this module is cheap (no pandas): frames are hashed where they are made.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Dataset:
    """A loaded table and its provenance."""

    frame: pd.DataFrame
    name: str
    source: str
    fingerprint: str
    target: str | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return int(self.frame.shape[0])

    @property
    def n_columns(self) -> int:
        return int(self.frame.shape[1])

    def summary(self) -> dict[str, Any]:
        """Provenance as a small dict, for reports and run records."""
        return {"name": self.name, "source": self.source, "fingerprint": self.fingerprint,
                "rows": self.n_rows, "columns": self.n_columns, "target": self.target}


def frame_fingerprint(df: pd.DataFrame) -> str:
    """A content hash of a frame (values, column names and dtypes), stable across runs."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    import pandas as pd

    h.update(pd.util.hash_pandas_object(df, index=False).values.tobytes())
    return h.hexdigest()[:16]
