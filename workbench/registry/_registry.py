"""The model registry: named models, immutable numbered versions, aliases, an audit log.

Layout (every name and alias checked: letters, digits, ``._-``)::

    <root>/<name>/versions/<n>/model/     the model folder (read-only copy)
    <root>/<name>/versions/<n>/version.json
    <root>/<name>/versions/<n>.deleted    a deleted version's tombstone: numbers are never reused
    <root>/<name>/aliases.json            {"aliases": {"champion": 3, ...}}, replaced atomically
    <root>/<name>/audit.jsonl             one JSON line per change (ts, user, action, name, alias, from, to)
    <root>/<name>/.lock                   held by writers of this name only

A version is built in ``versions/.staging-*`` and renamed into place: it appears whole or not at all.
Readers take no lock.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

from ..core.io import dumps, write_json
from ..errors import ModelError
from ._files import (
    MAX_JSON_BYTES,
    append_audit,
    audit_entry,
    change_token,
    freeze,
    name_lock,
    read_aliases,
    read_audit,
    real_dir,
    remove_tree,
    sweep_stale,
    utc_stamp,
    write_aliases,
)
from ._refs import ModelRef, check_alias, check_name, check_version, parse_ref
from ._versions import (
    MODEL_DIR,
    VERSION_FILE,
    ModelVersion,
    checked_card,
    copy_model,
    find_source,
    load_version,
    new_record,
    read_version,
)

REGISTRY_ENV = "WORKBENCH_REGISTRY"
DEFAULT_ROOT = "registry"
_NUMBER = re.compile(r"[1-9][0-9]*")
_ALIAS_ACTIONS = ("set", "rollback", "remove")


def default_root() -> Path:
    """``$WORKBENCH_REGISTRY``, else ``./registry`` (beside ``./reports``)."""
    return Path(os.environ.get(REGISTRY_ENV) or DEFAULT_ROOT)


class ModelRegistry:
    """A registry folder (default: :func:`default_root`).

    Examples
    --------
    >>> reg = ModelRegistry("registry")
    >>> v = reg.register("churn", "reports/compare_models/<run_id>/artifacts/model", alias="champion")
    >>> reg.resolve("churn@champion").folder          # registry/churn/versions/1/model
    >>> reg.load("churn@champion").predict(frame)
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        if self.root.exists() and not self.root.is_dir():
            raise ModelError(f"registry {str(self.root)!r} is a file; give a folder (it is created if missing)")

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.root)!r})"

    # ------------------------------------------------------------------------------------ reading
    def names(self) -> list[str]:
        """The registered model names, sorted (folders that are not valid names are ignored)."""
        if not self.root.is_dir():
            return []
        out = []
        for entry in self.root.iterdir():
            try:
                check_name(entry.name)
            except ModelError:
                continue
            if entry.is_dir() and not entry.is_symlink():
                out.append(entry.name)
        return sorted(out)

    def _name_dir(self, name: str) -> Path:
        """``<root>/<name>`` of a registered name, or an error listing the names there are."""
        path = self.root / check_name(name)
        if not real_dir(path, f"model {name!r}:"):
            names = self.names()
            where = f"registry {str(self.root)!r}"
            have = f"it holds {', '.join(names)}" if names else "it is empty"
            raise ModelError(f"no model {name!r} in {where} ({have}); register one with "
                             f"`workbench models register {name} MODEL_FOLDER_OR_RUN_ID`")
        return path

    def version_numbers(self, name: str) -> list[int]:
        """The versions of ``name`` there are now, ascending (deleted ones excluded)."""
        versions = self._name_dir(name) / "versions"
        if not versions.is_dir():
            return []
        return sorted(int(e.name) for e in versions.iterdir()
                      if _NUMBER.fullmatch(e.name) and e.is_dir() and not e.is_symlink())

    def aliases(self, name: str) -> dict[str, int]:
        """``alias -> version`` of ``name``, read without a lock (the file is replaced atomically)."""
        return read_aliases(self._name_dir(name))

    def version(self, name: str, version: int, *, aliases: dict[str, int] | None = None,
                via: str | None = None) -> ModelVersion:
        """One version's record (an error names the versions there are, or when it was deleted)."""
        name_dir = self._name_dir(name)
        version = check_version(version)
        vdir = name_dir / "versions" / str(version)
        if not real_dir(vdir, f"{name}:{version}"):
            raise ModelError(self._no_version(name, version))
        if not real_dir(vdir / MODEL_DIR, f"{name}:{version}'s model"):
            raise ModelError(f"{name}:{version} has no model folder ({str(vdir / MODEL_DIR)!r}); the registry is damaged")
        aliases = self.aliases(name) if aliases is None else aliases
        v = read_version(vdir, name, version)
        named = tuple(sorted(a for a, n in aliases.items() if n == version))
        return ModelVersion(**{**v.__dict__, "aliases": named, "via": via})

    def _no_version(self, name: str, version: int) -> str:
        tomb = self.root / name / "versions" / f"{version}.deleted"
        have = self.version_numbers(name)
        listing = f"it has {', '.join(map(str, have))}" if have else "it has no versions"
        if tomb.is_file() and not tomb.is_symlink():
            return f"{name}:{version} was deleted ({listing})"
        return f"{name} has no version {version} ({listing})"

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first, with the aliases pointing at each."""
        aliases = self.aliases(name)
        return [self.version(name, n, aliases=aliases) for n in self.version_numbers(name)]

    def resolve(self, ref: str | ModelRef) -> ModelVersion:
        """The version ``NAME@ALIAS``, ``NAME:VERSION`` or ``NAME`` (= ``NAME@latest``, the newest) points
        at now: cheap (the aliases file and one ``version.json``), no lock, never a half-written state."""
        ref = parse_ref(ref) if isinstance(ref, str) else ref
        if ref.version is not None:
            return self.version(ref.name, ref.version)
        aliases = self.aliases(ref.name)
        if ref.alias is None:
            numbers = self.version_numbers(ref.name)
            if not numbers:
                raise ModelError(f"model {ref.name!r} has no versions left (all were deleted); register one")
            return self.version(ref.name, numbers[-1], aliases=aliases, via="latest")
        if ref.alias not in aliases:
            have = ", ".join(f"@{a} -> {n}" for a, n in sorted(aliases.items())) or "none"
            raise ModelError(f"model {ref.name!r} has no alias {ref.alias!r} (its aliases: {have}; its versions: "
                             f"{', '.join(map(str, self.version_numbers(ref.name))) or 'none'})")
        return self.version(ref.name, aliases[ref.alias], aliases=aliases, via=ref.alias)

    def change_token(self, name: str | ModelRef) -> tuple:
        """Changes whenever an alias of the model moves or a version appears or goes (two ``stat`` calls;
        ``name`` may be a reference such as ``churn@champion``): poll it, :meth:`resolve` when it changed."""
        return change_token(self.root / (parse_ref(name) if isinstance(name, str) else name).name)

    def history(self, name: str, alias: str | None = None) -> list[dict[str, Any]]:
        """The audit log of ``name`` (optionally one alias's entries), oldest first."""
        entries = read_audit(self._name_dir(name))
        return [e for e in entries if alias is None or e.get("alias") == alias]

    def load(self, ref: str | ModelRef | ModelVersion) -> Any:
        """Load a registered version: its ``model.json`` checked against the registry's record, then
        :func:`workbench.models.load` (card validated, every file's sha256 verified)."""
        return load_version(ref if isinstance(ref, ModelVersion) else self.resolve(ref))

    # ------------------------------------------------------------------------------------ writing
    def _writable_name_dir(self, name: str) -> Path:
        path = self.root / check_name(name)
        real_dir(path, f"model {name!r}:")
        (path / "versions").mkdir(parents=True, exist_ok=True)
        real_dir(path / "versions", f"model {name!r}'s versions:")
        return path

    def register(self, name: str, source: str | Path, *, alias: str | None = None,
                 reports: str | Path = "reports") -> ModelVersion:
        """Copy a model folder (or a run's ``artifacts/model``, by run id or unique prefix under ``reports``)
        into a new version of ``name``; optionally point ``alias`` at it. Returns the new version."""
        check_name(name)
        if alias is not None:
            check_alias(alias)
        folder, run = find_source(source, reports)
        card = checked_card(folder)  # a bad source is refused before anything is created
        name_dir = self._writable_name_dir(name)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=name_dir / "versions"))
        try:
            card = copy_model(folder, staging / MODEL_DIR, card)
            record = new_record(name, folder, run, card, staging / MODEL_DIR)
            with name_lock(name_dir):
                number = self._next_number(name_dir)
                record.update(version=number, created=utc_stamp())  # numbers and times in the same order
                self._write_record(staging / VERSION_FILE, record)
                freeze(staging)
                os.rename(staging, name_dir / "versions" / str(number))
                append_audit(name_dir, audit_entry("register", name, None, None, number))
                if alias is not None:
                    self._move_alias(name_dir, name, alias, number, "set")
                sweep_stale(name_dir / "versions")
        except BaseException:
            if os.path.lexists(staging):
                remove_tree(staging)
            raise
        return self.version(name, number)

    @staticmethod
    def _next_number(name_dir: Path) -> int:
        """One more than any version ever allocated (deleted versions leave a tombstone)."""
        used = [int(e.name.split(".")[0]) for e in (name_dir / "versions").iterdir()
                if _NUMBER.fullmatch(e.name.split(".")[0])]
        return max(used, default=0) + 1

    @staticmethod
    def _write_record(path: Path, record: dict[str, Any]) -> None:
        if len(dumps(record).encode()) > MAX_JSON_BYTES:
            raise ModelError(f"the model's card metrics are too large to register (over {MAX_JSON_BYTES >> 10} KiB)")
        write_json(path, record)

    def _move_alias(self, name_dir: Path, name: str, alias: str, to: int | None, action: str) -> dict[str, Any]:
        """Point ``alias`` at ``to`` (None: remove it); the audit line first, then the aliases file, both
        under the lock: no alias ever changes without its line in the log."""
        aliases = read_aliases(name_dir)
        entry = audit_entry(action, name, alias, aliases.get(alias), to)
        append_audit(name_dir, entry)
        if to is None:
            aliases.pop(alias, None)
        else:
            aliases[alias] = to
        write_aliases(name_dir, name, aliases)
        return entry

    def set_alias(self, name: str, alias: str, version: int | str) -> dict[str, Any]:
        """Point ``alias`` at ``version`` (which must exist), or at what another alias points at now
        (``"@challenger"``, read under the same lock); returns the audit entry."""
        name_dir = self._name_dir(name)
        check_alias(alias)
        other = version[1:] if isinstance(version, str) and version.startswith("@") else None
        version = version if other is not None else check_version(version)
        with name_lock(name_dir):
            if other is not None:
                current = read_aliases(name_dir)
                if other not in current:
                    raise ModelError(self._no_alias(name, other))
                version = current[other]
            self.version(name, int(version), aliases={})  # exists, whole, not deleted
            return self._move_alias(name_dir, name, alias, int(version), "set")

    def remove_alias(self, name: str, alias: str) -> dict[str, Any]:
        """Remove ``alias`` (it must exist); returns the audit entry."""
        name_dir = self._name_dir(name)
        check_alias(alias)
        with name_lock(name_dir):
            if alias not in read_aliases(name_dir):
                raise ModelError(self._no_alias(name, alias))
            return self._move_alias(name_dir, name, alias, None, "remove")

    def _no_alias(self, name: str, alias: str) -> str:
        have = ", ".join(f"@{a} -> {n}" for a, n in sorted(self.aliases(name).items())) or "none"
        return f"model {name!r} has no alias {alias!r} (its aliases: {have})"

    def rollback(self, name: str, alias: str) -> dict[str, Any]:
        """Point ``alias`` back at its previous target (an undo: rolling back twice goes two steps back,
        as the audit log records them); returns the audit entry."""
        name_dir = self._name_dir(name)
        check_alias(alias)
        with name_lock(name_dir):
            current = read_aliases(name_dir).get(alias)
            if current is None:
                raise ModelError(self._no_alias(name, alias))
            stack = target_stack(read_audit(name_dir), alias)
            if len(stack) < 2 or stack[-2] is None:
                raise ModelError(f"alias {name}@{alias} has no previous target to roll back to (it points at "
                                 f"{current}); set it with `workbench models alias {name} {alias} VERSION`")
            previous = stack[-2]
            vdir = name_dir / "versions" / str(previous)
            if not real_dir(vdir, f"{name}:{previous}"):
                raise ModelError(f"cannot roll {name}@{alias} back: its previous target, {self._no_version(name, previous)}")
            return self._move_alias(name_dir, name, alias, previous, "rollback")

    def delete(self, name: str, version: int) -> dict[str, Any]:
        """Delete one version (refused while an alias points at it); its number is never reused."""
        name_dir = self._name_dir(name)
        version = check_version(version)
        with name_lock(name_dir):
            if not real_dir(name_dir / "versions" / str(version), f"{name}:{version}"):  # a damaged one may go
                raise ModelError(self._no_version(name, version))
            pointing = sorted(a for a, n in read_aliases(name_dir).items() if n == version)
            if pointing:
                raise ModelError(f"{name}:{version} is still the target of {', '.join('@' + a for a in pointing)}; "
                                 f"move it first (`workbench models alias {name} {pointing[0]} OTHER_VERSION`)")
            versions = name_dir / "versions"
            trash = versions / f".trash-{version}-{secrets.token_hex(4)}"  # same parent: a frozen folder may move
            os.rename(versions / str(version), trash)
            write_json(versions / f"{version}.deleted", {"name": name, "version": version, "deleted": utc_stamp()})
            entry = audit_entry("delete", name, None, version, None)
            append_audit(name_dir, entry)
        with contextlib.suppress(OSError):  # what is left is swept by a later registration
            remove_tree(trash)
        return entry


def register_model(model_dir: str | Path, name: str | None, *, alias: str | None = None,
                   registry: str | Path | None = None) -> ModelVersion | None:
    """Register a saved model folder as the next version of ``name`` (a notebook's ``register_as``
    parameter: empty or None registers nothing and returns None). The version records the run the
    folder belongs to, when it is one's ``artifacts/model``; ``registry``: as :class:`ModelRegistry`.

    Examples
    --------
    >>> model_dir = tabular.save(best, workbench.artifacts_dir())
    >>> workbench.register_model(model_dir, register_as)   # then: workbench serve churn
    """
    if not name:
        return None
    if not isinstance(name, str):
        raise ModelError(f"register_as must be a model name (text), got {type(name).__name__} ({name!r})")
    return ModelRegistry(registry).register(name, Path(model_dir), alias=alias)


def target_stack(entries: list[dict[str, Any]], alias: str) -> list[int | None]:
    """The alias's targets as an undo stack, replayed from the audit log: a set or remove pushes its
    target (unless it is the top already), a rollback pops."""
    stack: list[int | None] = []
    for e in entries:
        if e.get("alias") != alias or e.get("action") not in _ALIAS_ACTIONS:
            continue
        if e["action"] == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != e["to"]:  # a log that does not replay cleanly: trust its target
                stack.append(e["to"])
        elif not stack or stack[-1] != e["to"]:
            stack.append(e["to"])
    return stack
