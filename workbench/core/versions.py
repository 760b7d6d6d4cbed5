"""Versions of the packages that decide a run's result (records, run cache, model provenance)."""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Iterable

KEY_PACKAGES = ("workbench", "papermill", "nbconvert", "nbclient", "ipykernel", "pandas", "numpy",
                "scikit-learn", "catboost", "torch", "torchvision", "timm", "plotly", "ipywidgets",
                "wandb")


def package_versions(names: Iterable[str] = KEY_PACKAGES) -> dict[str, str]:
    """``{"python": ..., name: version}`` for the installed ones among ``names``."""
    out = {"python": sys.version.split()[0]}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    return out
