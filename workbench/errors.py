"""Exceptions. One base class; specific errors also inherit the matching builtin."""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error workbench raises on purpose."""


class ParameterError(WorkbenchError, ValueError):
    """A notebook parameter is unknown, of the wrong type, or the notebook has no parameters cell."""


class NotebookNotFoundError(WorkbenchError, FileNotFoundError):
    """The notebook to run does not exist or is not a notebook."""


class DatasetError(WorkbenchError, ValueError):
    """A dataset cannot be loaded or does not fit what was asked (missing file, column, ...)."""


class ModelError(WorkbenchError, ValueError):
    """A model name, file or input does not fit (unknown model, missing columns, hash mismatch)."""


class RunFailedError(WorkbenchError, RuntimeError):
    """A notebook run failed; the report was still written.

    Attributes
    ----------
    record : dict
        The run record (``run.json`` content) of the failed run.
    """

    def __init__(self, message: str, record: dict | None = None):
        super().__init__(message)
        self.record = record or {}
