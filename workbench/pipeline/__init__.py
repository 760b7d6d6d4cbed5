"""Pipelines of notebooks: a YAML file of steps (notebook runs, ``register`` and ``alias`` actions) with
``${step.…}`` references, ``when:`` conditions and ``after:``; run incrementally through the runner's
run cache, independent steps concurrently (local processes or a Dask cluster).

``workbench.pipeline.run("pipelines/retrain.yaml", params={"retrain.folds": 3})`` returns a
:class:`PipelineResult` (``ok``, ``steps``, ``summary()``, ``page``), so Airflow or Prefect can call a
pipeline as one task; ``workbench pipeline run|show FILE`` is the same from the shell. Names are
imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "run": "_run", "PipelineResult": "_run", "load_pipeline": "_spec", "Pipeline": "_spec", "Step": "_spec",
    "PipelineError": "_spec", "StepResult": "_steps", "plan_pipeline": "_plan", "PlannedStep": "_plan",
    "parse_condition": "_expr", "ExpressionError": "_expr",
}

__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'workbench.pipeline' has no attribute {name!r}")
