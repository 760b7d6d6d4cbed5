"""Saving and loading model folders through the contract: card, file hashes, kind loaders.

``load(folder)`` reads and validates ``model.json``, checks that every listed file is a regular file
inside the folder whose sha256 matches, and only then hands the folder to the loader registered for
the card's ``kind`` (the built-in kinds, declared below, or the ``workbench.model_kinds`` entry-point
group of other packages). Nothing is
deserialized before the checks pass.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any, Callable

from ..core.context import current
from ..core.io import dumps, file_sha256, write_json
from ..core.registry import Registry
from ..core.versions import package_versions
from ..errors import ModelError
from ._card import CARD_NAME, MAX_CARD_BYTES, ModelCard

Loader = Callable[[Path, ModelCard], Any]
KINDS: Registry[Loader] = Registry("model kind", "workbench.model_kinds", ModelError)


def _lazy(target: str) -> Loader:
    """A loader that imports ``module:function`` on its first call: the domains sit above this layer, and
    loading one kind imports no other domain and reads no entry points."""
    module, attr = target.split(":")

    def load(folder: Path, card: ModelCard) -> Any:
        import importlib

        return getattr(importlib.import_module(module), attr)(folder, card)

    load.__qualname__ = f"load[{target}]"
    load.module = module  # type: ignore[attr-defined]  # what a process about to load this kind may import early
    return load


# the built-in kinds, declared here only; other packages add theirs through the workbench.model_kinds entry points
for _kind, _target in (("tabular", "workbench.tabular:load_predictor"), ("vision", "workbench.vision:load_predictor"),
                       ("recommender", "workbench.recsys:load_predictor")):
    KINDS.register(_kind, _lazy(_target))


def provenance(**extra: Any) -> dict[str, Any]:
    """Where a model comes from: the current run (id, notebook, commit) when headless, the time,
    package versions, plus ``extra`` (dataset, fingerprint, sizes)."""
    ctx = current()
    out: dict[str, Any] = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if ctx is not None:
        out.update(run_id=ctx.run_id, notebook=ctx.notebook, commit=(ctx.git or {}).get("commit"),
                   dirty=(ctx.git or {}).get("dirty"))
    out["packages"] = package_versions(("workbench", "scikit-learn", "catboost", "skops", "torch", "timm",
                                        "pandas", "numpy"))
    out.update(extra)
    return out


def save_card(folder: str | Path, card: ModelCard) -> Path:
    """Hash every file the card lists (they must already be in ``folder``) and write ``model.json``."""
    folder = Path(folder)
    card.files = {name: file_sha256(_inside(folder, name)) for name in card.files}
    data = json.loads(dumps(card.to_dict()))  # plain JSON types (numpy scalars converted), then validated
    write_json(folder / CARD_NAME, ModelCard.from_dict(data).to_dict())
    return folder


def _inside(folder: Path, name: str) -> Path:
    """``folder/name`` if it is a regular file that really lies in ``folder`` (no links, no FIFOs)."""
    path = folder / name
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise ModelError(f"model file {str(path)!r} named by {CARD_NAME} is missing") from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelError(f"model file {str(path)!r} is not a regular file (a link, folder or device); refusing it")
    if path.resolve().parent != folder.resolve():
        raise ModelError(f"model file {str(path)!r} lies outside the model folder; refusing it")
    return path


def read_card(folder: str | Path) -> ModelCard:
    """The validated card of a model folder (format 1 upgraded); nothing else is read. ``model.json`` must be
    a regular file that really lies in the folder (a link out of it is refused, like any model file)."""
    folder = Path(folder)
    path = folder / CARD_NAME
    if not path.is_file() and not path.is_symlink():
        hint = " (it is a file; give its folder)" if folder.is_file() else ""
        raise ModelError(f"no {CARD_NAME} in {str(folder)!r}{hint}; expected a model folder saved by a workbench "
                         "notebook, e.g. reports/compare_models/<run_id>/artifacts/model")
    _inside(folder, CARD_NAME)
    if path.stat().st_size > MAX_CARD_BYTES:
        raise ModelError(f"{str(path)!r} is over {MAX_CARD_BYTES >> 20} MiB: not a model card")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ModelError(f"{str(path)!r} nests too deeply to be a model card; refusing it") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise ModelError(f"{str(path)!r} is not valid JSON: {e}") from e
    return ModelCard.from_dict(data, where=str(path))


def verify(folder: str | Path, card: ModelCard) -> None:
    """Check every file of ``card``: inside ``folder``, a regular file, sha256 as recorded."""
    folder = Path(folder)
    for name, expected in card.files.items():
        digest = file_sha256(_inside(folder, name))
        if digest != expected:
            raise ModelError(f"{str(folder / name)!r} does not match the sha256 recorded in {CARD_NAME} (expected "
                             f"{expected}, got {digest}); the file was changed after saving; refusing to load")


def load(folder: str | Path) -> Any:
    """Load any saved model: card validated, file hashes verified, then the kind's loader.

    Returns a :class:`~workbench.models.Predictor` whose ``predict(inputs)`` gives a frame with the
    columns every kind shares: the input key, ``prediction``, ``proba_<class>``, ``error``.
    """
    folder = Path(folder)
    card = read_card(folder)
    verify(folder, card)
    try:
        loader = KINDS.get(card.kind)
    except ModelError as e:
        raise ModelError(f"{folder / CARD_NAME}: {e}") from None
    return loader(folder, card)
