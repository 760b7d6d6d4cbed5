"""Imported once by the forkserver of a local batch run (:func:`~._score._local`): every worker forked
from it starts with Arrow, scikit-learn, skops (without the estimator walk) and the tabular kind's loader
imported, instead of importing them itself (seconds of CPU per worker). Nothing is loaded from a model
folder here: each worker loads and verifies the model itself. Any failure here only costs that time: the
workers import what they need on their own."""

from __future__ import annotations

import importlib


def _preload() -> None:
    from ..models import KINDS
    from ..models._skops_import import lean_skops, skops_io

    lean_skops()
    importlib.import_module("pyarrow.parquet")
    skops_io()
    module = getattr(KINDS.get("tabular"), "module", None)  # the kind's loader module, imported as load() would
    if module:
        importlib.import_module(module)


try:
    _preload()
except Exception:  # noqa: BLE001 - a forkserver that crashed here would break every worker; they import on their own
    pass
