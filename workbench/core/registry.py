"""One shape for every choice-by-name: datasets, tabular models, backbones, saved-model kinds.

A :class:`Registry` maps names to entries. Code registers with ``REG.register("name", entry)`` or as a
decorator; another installed package adds entries through the registry's entry-point group, e.g. in
its ``pyproject.toml``::

    [project.entry-points."workbench.datasets"]
    my_table = "my_pkg.data:MY_TABLE_ENTRY"      # an entry, or a callable that registers entries

Entry points are read once, on the first lookup that misses or on :meth:`Registry.names`.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Generic, Iterator, TypeVar

from ..errors import WorkbenchError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, extensible by entry points.

    Parameters
    ----------
    kind : what the entries are, for messages ("dataset", "model", "backbone").
    group : the entry-point group other packages register under (``workbench.<kind>s``).
    error : the exception raised for an unknown name (a :class:`WorkbenchError` subclass).
    aliases : alternative names mapped to registered ones.
    """

    def __init__(self, kind: str, group: str | None = None, error: type[Exception] = WorkbenchError,
                 aliases: dict[str, str] | None = None):
        self.kind, self.group, self.error = kind, group, error
        self.aliases = dict(aliases or {})
        self._entries: dict[str, T] = {}
        self._loaded = group is None

    def register(self, name: str, entry: T | None = None) -> Any:
        """Add ``entry`` under ``name``; without ``entry``, a decorator that registers what it decorates."""
        if entry is None:
            def deco(obj: T) -> T:
                self._entries[name] = obj
                return obj
            return deco
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests, plug-ins replacing an entry); no error when it is absent."""
        self._entries.pop(name, None)

    def _load_entry_points(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            try:
                obj = ep.load()
            except Exception as e:  # a broken plug-in must not break the built-in entries
                warnings.warn(f"{self.group} entry point {ep.name!r} failed to load: {type(e).__name__}: {e}",
                              stacklevel=3)
                continue
            if callable(obj) and not isinstance(obj, type) and getattr(obj, "_workbench_registers", False):
                obj(self)
            else:
                self._entries.setdefault(ep.name, obj)

    def registered(self, name: str) -> bool:
        """Whether ``name`` itself is registered now; reads no entry points (so imports nothing)."""
        return name in self._entries

    def resolve(self, name: str) -> str:
        """The registered name for ``name`` (aliases and case resolved); raises :attr:`error` if unknown."""
        key = str(name).strip()
        for candidate in (key, key.lower(), self.aliases.get(key.lower(), "")):
            if candidate in self._entries:
                return candidate
        self._load_entry_points()
        for candidate in (key, key.lower(), self.aliases.get(key.lower(), "")):
            if candidate in self._entries:
                return candidate
        raise self.error(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}")

    def get(self, name: str) -> T:
        """The entry for ``name`` (see :meth:`resolve`)."""
        return self._entries[self.resolve(name)]

    __getitem__ = get

    def __contains__(self, name: object) -> bool:
        try:
            self.resolve(str(name))
        except Exception:
            return False
        return True

    def names(self) -> list[str]:
        """Registered names, in registration order (entry points last)."""
        self._load_entry_points()
        return list(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        self._load_entry_points()
        return iter(list(self._entries.items()))

    def __len__(self) -> int:
        return len(self.names())


def registers(fn: Callable[[Registry], None]) -> Callable[[Registry], None]:
    """Mark an entry-point target as a function that registers several entries: ``fn(registry)``."""
    fn._workbench_registers = True  # type: ignore[attr-defined]
    return fn
