"""The run cache: a run whose inputs match an earlier succeeded run is reused, not executed.

The key hashes everything that decides a run's result: the notebook's code cells, the full
parameter set, the content of the input data the parameters name (a registered dataset's package
version, a file's bytes, a folder's files), the workbench version, the key package versions, and the
run options that change the report or the execution (hidden code, kernel).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

from ..core.io import update_file_hash
from ..core.runs import RunRecord, load_records
from ..core.versions import KEY_PACKAGES, package_versions
from ..data import dataset_version, registered

CACHE_VERSION = 2
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


def cache_key(code: str, params: Mapping[str, Any], fingerprints: Mapping[str, str],
              packages: Mapping[str, str] | None = None, options: Mapping[str, Any] | None = None) -> str:
    """The run's cache key (32 hex digits): the digest of the notebook's code cells
    (:attr:`NotebookSource.code_digest <workbench.runner.source.NotebookSource.code_digest>`), parameters,
    data fingerprints, packages and the keyed run options."""
    packages = packages or package_versions(KEY_PACKAGES)
    payload = {
        "v": CACHE_VERSION,
        "code": code,
        "params": params,
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
