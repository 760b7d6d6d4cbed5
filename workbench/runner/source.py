"""A notebook read once: :class:`NotebookSource` holds its path, its JSON and what the run path needs
from it (the declared parameters, the kernel it names, the digest of its code), and builds the nbformat
node papermill executes from the same JSON.

Plain ``json`` at load, nbformat only when a node is wanted: inspecting parameters and answering
from the run cache stay cheap (no execution stack imported).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NotebookNotFoundError
from ._signature import Parameter, parameters_cell, parse_parameters_source


def _not_found(path: str | Path) -> NotebookNotFoundError:
    hint = ""
    nbdir = Path("notebooks")
    if nbdir.is_dir():
        names = sorted(x.name for x in nbdir.glob("*.ipynb"))
        hint = f"; notebooks here: {', '.join(names) or 'none'}"
    return NotebookNotFoundError(f"notebook {str(path)!r} not found{hint}")


def _source_text(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


@dataclass(frozen=True)
class NotebookSource:
    """One notebook, read from disk once.

    Attributes
    ----------
    path : the ``.ipynb`` file.
    data : its JSON (plain dicts and lists; never modified).
    parameters : what its ``parameters`` cell declares (empty without one).
    has_parameters_cell : whether it has a code cell tagged ``parameters`` (without one it runs as it
        is, like under papermill, and takes no values).
    kernel : the kernel its metadata names (``metadata.kernelspec.name``), if any.
    code_digest : sha256 of its code cells' sources (outputs, markdown and metadata excluded).
    sha256 : sha256 of the file's bytes.
    revision : the git commit the content was read from (``workbench rerun``); None: the file on disk.
    """

    path: Path
    data: dict[str, Any] = field(repr=False)
    parameters: tuple[Parameter, ...] = ()
    has_parameters_cell: bool = False
    kernel: str | None = None
    code_digest: str = ""
    sha256: str = ""
    revision: str | None = None

    @classmethod
    def load(cls, path: str | Path) -> "NotebookSource":
        """Read and parse ``path``; a clear error when it is missing or not a notebook."""
        if isinstance(path, NotebookSource):
            return path
        p = Path(path)
        if not p.is_file():
            raise _not_found(path)
        if p.suffix != ".ipynb":
            raise NotebookNotFoundError(f"{str(path)!r} is not a notebook: expected a .ipynb file")
        try:
            with open(p, "rb") as f:
                content = f.read()
        except OSError as e:
            raise NotebookNotFoundError(f"{str(path)!r} is not a readable notebook: {e}") from e
        return cls.parse(p, content)

    @classmethod
    def parse(cls, path: str | Path, content: bytes, revision: str | None = None) -> "NotebookSource":
        """A notebook from its file's bytes, named ``path`` (``revision``: the git commit they came from)."""
        try:
            data = json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise NotebookNotFoundError(f"{str(path)!r} is not a readable notebook: {e}") from e
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
            raise NotebookNotFoundError(f"{str(path)!r} is not a readable notebook: no 'cells' list")
        if data.get("nbformat") != 4:
            raise NotebookNotFoundError(f"{str(path)!r} is in notebook format {data.get('nbformat')!r}; workbench "
                                        "reads format 4 (JupyterLab: File > Save Notebook writes it)")
        p = Path(path)
        return cls(p, data, *cls._signature(p, data), kernel=cls._kernel(data), code_digest=cls._digest(data),
                   sha256=hashlib.sha256(content).hexdigest(), revision=revision)

    @staticmethod
    def _signature(path: Path, data: dict[str, Any]) -> tuple[tuple[Parameter, ...], bool]:
        found = parameters_cell(data)
        if found is None:
            return (), False
        return tuple(parse_parameters_source(found[1], where=f"parameters cell of {path.name}")), True

    @staticmethod
    def _kernel(data: dict[str, Any]) -> str | None:
        spec = (data.get("metadata") or {}).get("kernelspec") or {}
        return spec.get("name") if isinstance(spec, dict) and isinstance(spec.get("name"), str) else None

    @staticmethod
    def _digest(data: dict[str, Any]) -> str:
        h = hashlib.sha256()
        for cell in data["cells"]:
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                h.update(_source_text(cell).encode() + b"\0")
        return h.hexdigest()

    @property
    def name(self) -> str:
        """The file name, as messages show it."""
        return self.path.name

    def node(self):
        """A fresh nbformat node of the notebook, as papermill's ``load_notebook_node`` makes it (format
        4.x upgraded, papermill's metadata and empty cell tags filled in), built from :attr:`data`."""
        import nbformat
        from nbformat.reader import get_version

        major, minor = get_version(self.data)
        nb = nbformat.versions[major].to_notebook_json(copy.deepcopy(self.data), minor=minor)
        nb = nbformat.v4.upgrade(nb) or nb
        from papermill import __version__

        nb.metadata.setdefault("papermill", {"default_parameters": {}, "parameters": {}, "environment_variables": {},
                                             "version": __version__})
        for cell in nb.cells:
            cell.metadata.setdefault("tags", [])
            cell.metadata.setdefault("papermill", {})
        return nb
