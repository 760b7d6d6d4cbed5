"""``skops.io`` imported without torch.

``skops.io`` builds its trusted-type list with scikit-learn's ``all_estimators``, whose package walk
imports every subpackage it meets, ``sklearn.externals.array_api_compat.torch`` included, and that one
imports torch (about 5 s of a 7 s start, in every process that loads a tabular model). While
``skops.io`` is first imported, and only when torch is not loaded already, that walk is told the torch
shim is missing (``walk_packages`` skips a package that raises ImportError); nothing else changes: the
shim stays importable afterwards, and skops's trusted-type list holds the same names (a test compares).

In workbench's own processes (the CLI, a server's workers, the shadow scorer: :func:`lean_skops`) the
walk is skipped altogether: skops only uses it for its *default* trusted list of estimator names, and
workbench never relies on that list. Every load passes the file's node types as ``trusted`` after
checking each against our exact allow-list (:func:`workbench.models.flavors.load_skops`), and skops
imports only the classes a file names. There, skops's default estimator list is empty (stricter, never
looser, for anything else in the process); the walk costs seconds of every cold start (issue 27). A
notebook kernel or a user's own process that imports workbench keeps skops as it ships.
"""

from __future__ import annotations

import importlib.abc
import sys
from types import ModuleType

_SHIM = "sklearn.externals.array_api_compat.torch"
_lean = False


class _SkipTorchShim(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # noqa: ANN001 - importlib's protocol
        if name == _SHIM or name.startswith(_SHIM + "."):
            raise ImportError(f"{name} skipped while skops.io is imported", name=name)
        return None


def lean_skops() -> None:
    """In a process of workbench's own: import ``skops.io`` (when first needed) without scikit-learn's
    estimator walk (see the module docstring). No effect once skops.io is imported."""
    global _lean
    _lean = True


def skops_io() -> ModuleType:
    """The ``skops.io`` module, imported (once) without importing torch when torch is not loaded yet, and
    without the estimator walk after :func:`lean_skops`."""
    if "skops.io" in sys.modules or ("torch" in sys.modules and not _lean):
        import skops.io

        return skops.io
    import sklearn.utils

    finder, walk = _SkipTorchShim(), sklearn.utils.all_estimators
    sys.meta_path.insert(0, finder)
    if _lean:
        sklearn.utils.all_estimators = lambda *a, **k: []  # skops's default estimator list: empty
    try:
        import skops.io
    finally:
        sys.meta_path.remove(finder)
        sklearn.utils.all_estimators = walk
    return skops.io
