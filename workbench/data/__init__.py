"""Data shared by every domain: one dataset registry (tables and images), loaders, splits, profiling.

- ``load_dataset(name_or_path, target=...)``: a registered table, a CSV/TSV/Parquet file or a request
  log (``read_request_log``: the JSON-lines log ``workbench serve`` writes), as a :class:`Dataset`.
- ``plant_shift(frame, spec)``: a copy with planted shifts (scale, add, set a share, blank a share),
  for what-if checks; ``telco_halves()`` the registered drift pair ``telco_churn_reference`` /
  ``telco_churn_current`` / ``telco_churn_drifted``.
- ``load_image_dataset(name_or_folder)``: a registered image dataset or a folder of class subfolders,
  as an :class:`ImageDataset`; ``load_pixels`` decodes them.
- ``stratified_split``: the seeded, stratified split every domain uses; ``per_group_holdout``: the
  last fraction of each group's rows (per-user temporal or random holdout).
- column profiling (``prepare_frame``, ``column_summary``, ``column_kind``, ``id_like``, ...), shared
  by exploration, model comparison and drift monitoring.

Importing this package is cheap (no numpy or pandas): the heavy parts load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import _catalog  # noqa: F401  (registers the built-in datasets)
from ._dataset import Dataset, frame_fingerprint
from ._registry import DATASETS, DatasetEntry, dataset_names, dataset_version, register_dataset, registered
from ._tables import load_dataset

_LAZY = {
    "ImageDataset": "_images", "IMAGE_EXTENSIONS": "_images", "check_image_file": "_images",
    "image_dataset_names": "_images", "load_image_dataset": "_images", "load_pixels": "_images",
    "open_rgb": "_images", "scan_folder": "_images", "split_dataset": "_images",
    "stratified_split": "_splits", "per_group_holdout": "_splits",
    "KINDS": "_profile", "SampleInfo": "_profile", "as_float": "_profile", "column_summary": "_profile",
    "heavy_sample": "_profile", "missing_patterns": "_profile", "overview": "_profile",
    "prepare_frame": "_profile", "similar_names": "_profile", "HIST_BINS": "_profile", "column_kind": "_kinds",
    "id_like": "_kinds", "id_name": "_kinds",
    "read_request_log": "_requestlog", "log_files": "_requestlog", "LOG_SUFFIXES": "_requestlog",
    "plant_shift": "_shift", "telco_halves": "_catalog", "TELCO_PLANTED_SHIFT": "_catalog",
}

__all__ = ["DATASETS", "DatasetEntry", "Dataset", "dataset_names", "dataset_version", "register_dataset",
           "registered", "frame_fingerprint", "load_dataset", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'workbench.data' has no attribute {name!r}")
