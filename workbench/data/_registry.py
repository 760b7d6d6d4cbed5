"""The dataset registry: named real datasets shipped inside PyPI packages, tables and images alike.

Importing this module is cheap (no pandas, no numpy): the run cache reads dataset versions from it.
The built-in datasets are registered in :mod:`._catalog`; another package adds datasets through the
``workbench.datasets`` entry-point group (a :class:`DatasetEntry`, or a function marked with
:func:`workbench.core.registry.registers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from ..core.io import file_sha256
from ..core.registry import Registry
from ..errors import DatasetError


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset.

    Attributes
    ----------
    loader : returns the data (a ``pandas.DataFrame`` for tables; an ``ImageDataset`` for images,
        called with ``task=...``).
    kind : ``"table"`` or ``"images"``.
    source : where the data comes from, for reports.
    package : the PyPI distribution that ships it (its version is the data's version for the cache).
    default_target : the usual target column of a table.
    description : one line for listings.
    """

    loader: Callable[..., Any]
    kind: str
    source: str
    package: str
    default_target: str | None = None
    description: str = ""


DATASETS: Registry[DatasetEntry] = Registry("dataset", "workbench.datasets", DatasetError)


def register_dataset(name: str, loader: Callable[..., Any], *, source: str, package: str, kind: str = "table",
                     default_target: str | None = None, description: str = "") -> DatasetEntry:
    """Add a named dataset (``kind`` ``"table"`` or ``"images"``)."""
    if kind not in ("table", "images"):
        raise DatasetError(f"dataset kind must be 'table' or 'images', got {kind!r}")
    return DATASETS.register(name, DatasetEntry(loader, kind, source, package, default_target, description))


def dataset_names(kind: str | None = None) -> list[str]:
    """Registered dataset names (of one ``kind`` when given), sorted."""
    return sorted(n for n, e in DATASETS.items() if kind is None or e.kind == kind)


def registered(name: str, kind: str | None = None) -> DatasetEntry | None:
    """The entry of a registered dataset (of ``kind`` when given), or None."""
    key = str(name)
    if key not in DATASETS:
        return None
    entry = DATASETS.get(key)
    return entry if kind is None or entry.kind == kind else None


def dataset_version(name_or_path: str) -> str | None:
    """A cheap version string without loading: package version for a registered dataset, content
    hash for a file; None when neither applies."""
    entry = registered(name_or_path)
    if entry is not None:
        try:
            return f"{name_or_path}@{entry.package}=={metadata.version(entry.package)}"
        except metadata.PackageNotFoundError:
            return f"{name_or_path}@{entry.package}"
    p = Path(name_or_path)
    if p.is_file():
        return "sha256:" + file_sha256(p)
    return None
