"""``skops.io`` imported without torch.

``skops.io`` builds its trusted-type list with scikit-learn's ``all_estimators``, whose package walk
imports every subpackage it meets, ``sklearn.externals.array_api_compat.torch`` included, and that one
imports torch (about 5 s of a 7 s start, in every process that loads a tabular model). While
``skops.io`` is first imported, and only when torch is not loaded already, that walk is told the torch
shim is missing (``walk_packages`` skips a package that raises ImportError); nothing else changes: the
shim stays importable afterwards, and skops's trusted-type list holds the same names (a test compares).
"""

from __future__ import annotations

import importlib.abc
import sys
from types import ModuleType

_SHIM = "sklearn.externals.array_api_compat.torch"


class _SkipTorchShim(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # noqa: ANN001 - importlib's protocol
        if name == _SHIM or name.startswith(_SHIM + "."):
            raise ImportError(f"{name} skipped while skops.io is imported", name=name)
        return None


def skops_io() -> ModuleType:
    """The ``skops.io`` module, imported (once) without importing torch when torch is not loaded yet."""
    if "skops.io" in sys.modules or "torch" in sys.modules:
        import skops.io

        return skops.io
    finder = _SkipTorchShim()
    sys.meta_path.insert(0, finder)
    try:
        import skops.io
    finally:
        sys.meta_path.remove(finder)
    return skops.io
