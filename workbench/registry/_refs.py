"""References to registered models: ``NAME``, ``NAME@ALIAS``, ``NAME:VERSION``; names and aliases checked.

A bare ``NAME`` means ``NAME@latest``: the newest version (as ``docker pull name`` means ``name:latest``).
``latest`` is therefore reserved: no alias can be called that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ModelError

LATEST = "latest"
MAX_NAME = 100
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_VERSION = re.compile(r"[0-9]+")


def check_name(name: object, what: str = "model name", context: str = "") -> str:
    """``name`` if it is a valid model name or alias: letters, digits and ``._-``, starting with a letter
    or a digit, at most 100 characters (so it is one safe path component: no ``/``, no ``..``)."""
    if not isinstance(name, str) or len(name) > MAX_NAME or not _NAME.fullmatch(name):
        raise ModelError(f"{what} {name!r}{context} is not allowed: use letters, digits, '.', '_' and '-', starting with a "
                         f"letter or digit, at most {MAX_NAME} characters (no paths)")
    return name


def check_alias(alias: object) -> str:
    """``alias`` if it is a valid alias to set (:func:`check_name`, and not the reserved ``latest``)."""
    check_name(alias, "alias")
    if alias == LATEST:
        raise ModelError(f"alias {LATEST!r} is reserved: NAME and NAME@{LATEST} always mean the newest version; "
                         "choose another alias name")
    return str(alias)


def check_version(version: object) -> int:
    """``version`` as a positive integer (an int, or a string of digits)."""
    if isinstance(version, str) and _VERSION.fullmatch(version):
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelError(f"version must be a positive integer (version={version!r})")
    return version


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: a name and at most one of an alias or a version (neither: the latest)."""

    name: str
    alias: str | None = None
    version: int | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


def parse_ref(text: object) -> ModelRef:
    """``NAME``, ``NAME@ALIAS`` or ``NAME:VERSION`` as a :class:`ModelRef`, or a :class:`ModelError`."""
    if not isinstance(text, str):
        raise ModelError(f"a model reference must be a string like churn@champion or churn:3, got {type(text).__name__}")
    if "@" in text and ":" in text:
        raise ModelError(f"model reference {text!r} has both '@' and ':'; give NAME@ALIAS or NAME:VERSION")
    if "@" in text:
        name, alias = text.split("@", 1)
        check_name(name, context=f" in {text!r}")
        alias = check_name(alias, "alias", f" in {text!r}")
        return ModelRef(name, alias=None if alias == LATEST else alias)
    if ":" in text:
        name, version = text.split(":", 1)
        check_name(name, context=f" in {text!r}")
        if not _VERSION.fullmatch(version) or int(version) < 1:
            raise ModelError(f"version {version!r} in {text!r} must be a positive integer, e.g. {name}:1")
        return ModelRef(name, version=int(version))
    return ModelRef(check_name(text))


def is_ref(text: object) -> bool:
    """Whether ``text`` parses as a reference (it may still name nothing registered)."""
    try:
        parse_ref(text)
    except ModelError:
        return False
    return True
