"""The reports tree's layout, in one place: a run's folder and the tree's shared pages.

Layout::

    reports/<notebook>/<run_id>/{report.html, notebook.ipynb, run.json, curves.json, artifacts/}
    reports/<notebook>/latest.html
    reports/sweeps/<sweep_id>/compare.html
    reports/compare/<ids>.html
    reports/index.html
    reports/.envs/<sha256>.json      (environment locks, one per distinct environment: core.envlock)
    reports/.assets/<sha256>.{js,css}    (shared report assets: reports._assets)
    reports/.blobs/<sha[:2]>/<sha256>    (artifact files shared by hard links: core.blobs)

The runner writes a run through :class:`RunFolder`, the kernel finds its artifacts folder through it,
reports and comparison pages link to its files through it; :class:`ReportsTree` names the shared pages
and holds the lock that guards them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from ..errors import WorkbenchError

DEFAULT_REPORTS = "reports"
_NAME = re.compile(r"[A-Za-z0-9._-]+")


def check_name(name: str, what: str = "name") -> str:
    """``name`` if it is safe as one path component (letters, digits, ``._-``; not ``.``/``..``)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name in (".", "..") or name.startswith("."):
        raise WorkbenchError(f"{what} {name!r} is not usable as a folder name: use letters, digits, '.', '_' "
                             "and '-' only, not starting with '.'")
    return name


def notebook_name(notebook: str | Path) -> str:
    """The notebook's name in the reports tree: its file stem, characters other than letters, digits
    and ``._-`` replaced by ``-`` and, when any was replaced, 8 hex digits of the stem's sha256 added
    (``my notebook.ipynb`` -> ``my-notebook-<hash>``: ``a"q.ipynb`` and ``a'q.ipynb`` never share a
    folder and a ``latest.html``); ``..ipynb`` is refused."""
    original = Path(notebook).stem
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", original)
    if stem != original:
        stem += "-" + hashlib.sha256(original.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return check_name(stem, f"notebook name of {str(notebook)!r}")


def href(path: str | Path) -> str:
    """A relative link: each path segment URL-encoded (``#``, ``%``, spaces in names)."""
    return "/".join(quote(part) for part in str(path).split(os.sep))


@dataclass(frozen=True)
class RunFolder:
    """One run's folder and the files in it.

    Attributes
    ----------
    path : ``reports/<notebook>/<run_id>``.
    """

    path: Path

    REPORT = "report.html"
    NOTEBOOK = "notebook.ipynb"
    RECORD = "run.json"
    CURVES = "curves.json"
    ARTIFACTS = "artifacts"

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @classmethod
    def of(cls, reports: str | Path, notebook: str | Path, run_id: str) -> "RunFolder":
        """The folder of run ``run_id`` of ``notebook`` (names checked: nothing escapes ``reports``)."""
        return cls(Path(reports) / notebook_name(notebook) / check_name(run_id, "run id"))

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def report(self) -> Path:
        return self.path / self.REPORT

    @property
    def notebook(self) -> Path:
        """The executed notebook (secrets scrubbed)."""
        return self.path / self.NOTEBOOK

    @property
    def record(self) -> Path:
        return self.path / self.RECORD

    @property
    def curves(self) -> Path:
        return self.path / self.CURVES

    @property
    def artifacts(self) -> Path:
        return self.path / self.ARTIFACTS

    def create(self) -> None:
        """Create the folder and its ``artifacts/`` (a folder that exists already is an error)."""
        self.artifacts.mkdir(parents=True, exist_ok=False)

    def links(self, page_dir: str | Path) -> dict[str, str]:
        """Links to the run's files from a page written in ``page_dir`` (URL-encoded, relative)."""
        try:  # the usual case, a page above the run's folder: no file system access
            rel = str(self.path.relative_to(page_dir))
        except ValueError:
            rel = os.path.relpath(self.path.resolve(), Path(page_dir).resolve())
        return {"report": href(Path(rel, self.REPORT)), "notebook": href(Path(rel, self.NOTEBOOK)),
                "record": href(Path(rel, self.RECORD))}

    def link_from(self, earlier: "RunFolder") -> None:
        """Fill this folder with hard links (copies across devices) to every file of ``earlier``."""
        for p in earlier.path.rglob("*"):
            target = self.path / p.relative_to(earlier.path)
            if p.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            elif p.is_file() and not p.name.startswith("."):
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(p, target)
                except OSError:
                    shutil.copy2(p, target)


@dataclass(frozen=True)
class ReportsTree:
    """The reports folder: run folders by notebook, and the pages shared by all runs."""

    root: Path

    INDEX = "index.html"
    LATEST = "latest.html"
    SWEEPS = "sweeps"
    COMPARE = "compare"
    LOCK = ".index.lock"
    ENVS = ".envs"

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def check(self) -> "ReportsTree":
        """Itself, once it is known not to be a file (it is created when missing)."""
        if self.root.exists() and not self.root.is_dir():
            raise WorkbenchError(f"reports folder {str(self.root)!r} is a file; give a folder (it is created if "
                                 "missing)")
        return self

    def run(self, notebook: str | Path, run_id: str) -> RunFolder:
        return RunFolder.of(self.root, notebook, run_id)

    def records(self, notebook: str | None = None) -> Iterator[Path]:
        """Every ``run.json`` under the tree (of one notebook, by name or path)."""
        name = notebook_name(notebook) if notebook else "*"
        return self.root.glob(f"{name}/*/{RunFolder.RECORD}")

    @property
    def index(self) -> Path:
        return self.root / self.INDEX

    def latest(self, run: RunFolder) -> Path:
        """``<notebook>/latest.html`` beside ``run``'s folder: a copy of the notebook's newest succeeded report."""
        return run.path.parent / self.LATEST

    def sweep_page(self, sweep_id: str) -> Path:
        return self.root / self.SWEEPS / check_name(sweep_id, "sweep id") / "compare.html"

    def environment(self, digest: str) -> Path:
        """The stored environment lock with this sha256 (see :mod:`workbench.core.envlock`)."""
        return self.root / self.ENVS / f"{check_name(digest, 'environment digest')}.json"

    def compare_page(self, run_ids: list[str]) -> Path:
        return self.root / self.COMPARE / ("-".join(r[-6:] for r in run_ids) + ".html")

    @contextlib.contextmanager
    def lock(self, timeout: float = 120) -> Iterator[None]:
        """An inter-process lock on the shared pages (index, latest, sweep pages)."""
        from filelock import FileLock

        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / self.LOCK), timeout=timeout):
            yield
