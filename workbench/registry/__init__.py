"""The model registry: named models, immutable numbered versions, aliases with an audit log.

``ModelRegistry(root)`` (default ``$WORKBENCH_REGISTRY``, else ``./registry``) registers a model folder
or a run's ``artifacts/model`` as the next version of a name (a read-only copy whose hashes are
verified on the way in and on every load), moves aliases (``champion``, ``challenger``) under a file
lock with one audit-log line per change, rolls an alias back, and deletes versions no alias points at.
References: ``NAME@ALIAS``, ``NAME:VERSION``, and ``NAME`` for the newest version; :func:`load_model`
takes a reference or a model folder. A registry folder is shared and untrusted like a model folder.
"""

from __future__ import annotations

from ._files import ALIASES_FILE, AUDIT_FILE
from ._load import LocatedModel, load_model, load_version, locate_model
from ._refs import LATEST, ModelRef, check_alias, check_name, is_ref, parse_ref
from ._registry import DEFAULT_ROOT, REGISTRY_ENV, ModelRegistry, default_root, register_model
from ._versions import ModelVersion

__all__ = ["ALIASES_FILE", "AUDIT_FILE", "DEFAULT_ROOT", "LATEST", "REGISTRY_ENV", "LocatedModel", "ModelRef",
           "ModelRegistry", "ModelVersion", "check_alias", "check_name", "default_root", "is_ref", "load_model",
           "load_version", "locate_model", "parse_ref", "register_model"]
