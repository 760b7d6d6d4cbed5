"""The run cache: a run whose inputs match an earlier succeeded run is reused, not executed.

The key hashes everything that decides a run's result: the notebook's code cells, the full
parameter set, the content of the input data the parameters name (a registered dataset's package
version, a file's bytes, a folder's files), the workbench version, the key package versions, and the
run options that change the report or the execution (hidden code, kernel).

Secret values (secret-named parameters and secret keys nested in dict parameters) enter the key only
as an HMAC under a random salt kept private to the user (``~/.cache/workbench/cache-salt``, mode 0600,
never in the shared reports tree): the key in ``run.json`` cannot be brute-forced back to a short secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets as _random
from pathlib import Path
from typing import Any, Mapping

from ..core.io import update_file_hash
from ..core.runs import RunRecord, load_records
from ..core.secrets import is_secret
from ..core.versions import KEY_PACKAGES, package_versions
from ..data import dataset_version, registered

CACHE_VERSION = 3
_MAX_FOLDER_BYTES = 2 << 30  # folders larger than this are fingerprinted by name, size and mtime


def _folder_fingerprint(path: Path) -> str:
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    total = sum(p.stat().st_size for p in files)
    h = hashlib.sha256()
    for p in files:
        h.update(str(p.relative_to(path)).encode() + b"\0")
        if total <= _MAX_FOLDER_BYTES:
            update_file_hash(p, h)
        else:
            st = p.stat()
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    return f"folder-sha256:{h.hexdigest()}"


def registered_version(name: str) -> str | None:
    """Version string of a registered (packaged) dataset, tabular or image, without loading it."""
    return dataset_version(name) if registered(name) is not None else None


def data_fingerprints(params: Mapping[str, Any], cwd: str | Path = ".") -> dict[str, str]:
    """Fingerprints of the inputs named by string parameters: registered datasets and paths."""
    out: dict[str, str] = {}

    def visit(name: str, value: Any) -> None:
        if isinstance(value, str) and value and len(value) < 4096:
            version = registered_version(value)
            if version:
                out[name] = version
                return
            p = Path(cwd) / value if not os.path.isabs(value) else Path(value)
            try:
                if p.is_file():
                    h = hashlib.sha256()
                    update_file_hash(p, h)
                    out[name] = f"sha256:{h.hexdigest()}"
                elif p.is_dir():
                    out[name] = _folder_fingerprint(p)
            except OSError:
                pass
        elif isinstance(value, list):
            for i, v in enumerate(value):
                visit(f"{name}[{i}]", v)
        elif isinstance(value, dict):
            for k, v in value.items():
                visit(f"{name}.{k}", v)

    for k, v in params.items():
        visit(k, v)
    return out


def secret_salt() -> bytes:
    """This user's random salt for secret values in cache keys, created once (0600) under
    ``$XDG_CACHE_HOME/workbench`` (default ``~/.cache/workbench``)."""
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbench"
    path = folder / "cache-salt"
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except OSError:
        pass
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = folder / f".cache-salt.{os.getpid()}.{_random.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(_random.token_bytes(32))
    try:
        os.link(tmp, path)  # the first writer wins; everyone then reads the same salt
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()


def _keyed_params(value: Any, salt: bytes | None, secret: bool = False) -> Any:
    """``value`` with every secret value replaced by its HMAC under ``salt``."""
    if secret and value not in (None, ""):
        if salt is None:
            raise ValueError("a cache key over secret values needs the salt (secret_salt())")
        text = json.dumps(value, sort_keys=True, default=str).encode()
        return "hmac:" + hmac.new(salt, text, hashlib.sha256).hexdigest()
    if isinstance(value, Mapping):
        return {k: _keyed_params(v, salt, is_secret(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_keyed_params(v, salt) for v in value]
    return value


def cache_key(code: str, params: Mapping[str, Any], fingerprints: Mapping[str, str],
              packages: Mapping[str, str] | None = None, options: Mapping[str, Any] | None = None,
              salt: bytes | None = None) -> str:
    """The run's cache key (32 hex digits): the digest of the notebook's code cells
    (:attr:`NotebookSource.code_digest <workbench.runner.source.NotebookSource.code_digest>`), parameters
    (secret values as HMACs under ``salt``, see :func:`secret_salt`), data fingerprints, packages and the
    keyed run options."""
    packages = packages or package_versions(KEY_PACKAGES)
    payload = {
        "v": CACHE_VERSION,
        "code": code,
        "params": _keyed_params(dict(params), salt),
        "data": dict(sorted(fingerprints.items())),
        "packages": dict(sorted(packages.items())),
        "options": dict(sorted((options or {}).items())),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def find_cached(reports: str | Path, notebook: str | Path, key: str) -> RunRecord | None:
    """The newest succeeded, executed (not itself reused) run with this cache key, if its files exist."""
    for rec in load_records(reports, notebook=str(notebook), status="succeeded"):
        if rec.cache_key == key and not rec.cached_from and rec.report.exists():
            return rec
    return None
