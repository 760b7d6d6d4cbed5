"""Loading by reference: ``load_model("churn@champion")``, ``load_model("churn:3")`` or a model folder.

A path that exists as a folder is always that folder; anything else that reads as a reference is
resolved in the registry (``registry=`` or ``$WORKBENCH_REGISTRY`` or ``./registry``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..models import load
from ._refs import is_ref
from ._registry import ModelRegistry
from ._versions import ModelVersion, load_version


@dataclass(frozen=True)
class LocatedModel:
    """What a model argument names: a plain folder (``version`` None) or a registered version."""

    folder: Path
    version: ModelVersion | None = None
    registry: Path | None = None

    @property
    def protected(self) -> list[Path]:
        """What an output file must never overwrite: the model folder, or the whole registry."""
        return [self.folder if self.registry is None else self.registry]

    def load(self) -> Any:
        return load(self.folder) if self.version is None else load_version(self.version)

    def describe(self) -> str:
        """``churn:3 (@champion)`` for a registered version, the folder otherwise."""
        v = self.version
        if v is None:
            return str(self.folder)
        return v.ref + (f" (@{v.via})" if v.via else "")


def locate_model(model: str | Path, registry: str | Path | None = None) -> LocatedModel:
    """A folder if ``model`` is one, else the registered version the reference ``model`` points at now;
    anything else stays a path (:func:`workbench.models.load` then says what is wrong with it)."""
    path = Path(model)
    if path.is_dir() or not is_ref(str(model)):
        return LocatedModel(path)
    reg = ModelRegistry(registry)
    try:
        version = reg.resolve(str(model))
    except ModelError as e:
        raise ModelError(f"{e}; and {str(model)!r} is not a model folder here either") from None
    return LocatedModel(version.folder, version, reg.root)


def load_model(model: str | Path, registry: str | Path | None = None) -> Any:
    """Load any saved model from its folder or by registry reference.

    Parameters
    ----------
    model : a model folder, or ``NAME@ALIAS``, ``NAME:VERSION``, ``NAME`` (the newest version).
    registry : the registry folder (default: ``$WORKBENCH_REGISTRY``, else ``./registry``).

    Returns
    -------
    A :class:`~workbench.models.Predictor`: ``predict(inputs)`` gives the input key, ``prediction``,
    ``proba_<class>`` and ``error`` columns. Every file's sha256 is verified before anything is read.
    """
    return locate_model(model, registry).load()
