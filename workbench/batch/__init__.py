"""Batch scoring of partitioned datasets: one output Parquet file per input partition.

``score_dataset(model_folder, data, out)`` reads a Parquet dataset (a folder, hive-partitioned folders,
a glob; CSV globs too) partition by partition in record batches of ``partition_rows`` rows, so memory is
bounded by the batch, not the table; only the model's columns, its text features as dictionaries. Each
partition is scored by a worker that loads the model once through the verified path
(:func:`workbench.models.load`; only the folder's path travels, never a model object) in local worker
processes (``jobs``, forked from a forkserver that imported the libraries once) or on a Dask cluster
(``scheduler``); with workers the caller only checks the card and the hashes. Each output file is written
to a temporary name and renamed; a bad partition is reported by name while the others finish.
"""

from __future__ import annotations

from ._partitions import Partition, find_partitions
from ._score import BatchResult, score_dataset, score_partition

__all__ = ["BatchResult", "Partition", "find_partitions", "score_dataset", "score_partition"]
