"""Display parts of an exploration: notes, panels of several outputs, and the section guard (shared with
the other domains from :mod:`workbench.evaluation`)."""

from __future__ import annotations

from ..evaluation._display import Note, Panel
from ..evaluation._display import fmt as _fmt
from ..evaluation._display import section as _section

__all__ = ["Note", "Panel", "_fmt", "_section"]
