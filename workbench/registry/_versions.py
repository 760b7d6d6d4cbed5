"""One registered version: where its model comes from, how it is copied in, what ``version.json`` says.

A version folder is ``<registry>/<name>/versions/<n>/`` holding ``model/`` (the model folder: ``model.json``
and the files its card lists, nothing else) and ``version.json`` (:class:`ModelVersion`'s record: who,
when, from where, the card's summary, its metrics, the sha256 of every file and one digest of them all).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.io import file_sha256
from ..core.runfolder import RunFolder
from ..core.runs import RunRecord, find_run, read_record
from ..errors import ModelError, WorkbenchError
from ..models import CARD_NAME, ModelCard, load, read_card, verify
from ._files import current_user, read_json_file, utc_stamp

VERSION_FILE = "version.json"
MODEL_DIR = "model"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def files_digest(files: dict[str, str]) -> str:
    """One sha256 over every ``file -> sha256`` of a version (``model.json`` included), order-free."""
    return hashlib.sha256(json.dumps(dict(sorted(files.items())), separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class ModelVersion:
    """A registered version as its ``version.json`` records it, and where its model folder lies.

    Attributes
    ----------
    name, version : the model's name and this version's number.
    folder : the model folder (``.../versions/<n>/model``): give it to anything that takes a model folder.
    created, user : when (UTC) and by whom it was registered.
    source : ``path`` of the folder it was copied from, and ``run_id``/``notebook`` when known.
    card : the card's ``kind``, ``task``, ``flavor``, ``name`` and ``classes``.
    metrics : the card's metrics; ``run_metrics``: the source run's recorded metrics (when known).
    files : sha256 of every file of the model folder, ``model.json`` included; ``digest``: one hash of them.
    aliases : the aliases pointing at it when it was read; ``via``: the alias it was resolved through.
    """

    name: str
    version: int
    folder: Path
    created: str
    user: str
    source: dict[str, Any]
    card: dict[str, Any]
    metrics: dict[str, Any]
    run_metrics: dict[str, Any]
    files: dict[str, str]
    digest: str
    aliases: tuple[str, ...] = ()
    via: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """The record as ``version.json`` holds it, plus ``folder``, ``aliases`` and ``via``."""
        return {**record_dict(self), "folder": str(self.folder), "aliases": list(self.aliases), "via": self.via}


def record_dict(v: ModelVersion) -> dict[str, Any]:
    return {"format": 1, "name": v.name, "version": v.version, "created": v.created, "user": v.user,
            "source": v.source, "card": v.card, "metrics": v.metrics, "run_metrics": v.run_metrics,
            "files": v.files, "digest": v.digest}


def read_version(version_dir: Path, name: str, version: int) -> ModelVersion:
    """The validated record of ``version_dir`` (untrusted: every field's type is checked)."""
    where = str(version_dir / VERSION_FILE)
    d = read_json_file(version_dir / VERSION_FILE)
    if not isinstance(d, dict) or d.get("name") != name or d.get("version") != version:
        raise ModelError(f"{where} does not describe {name}:{version}; the registry folder is damaged")
    for key, types in (("created", str), ("user", str), ("source", dict), ("card", dict), ("metrics", dict),
                       ("run_metrics", dict), ("files", dict), ("digest", str)):
        if not isinstance(d.get(key), types):
            raise ModelError(f"{where}: field {key!r} must be {types.__name__}, got {type(d.get(key)).__name__}")
    files = d["files"]
    if CARD_NAME not in files or not all(isinstance(s, str) and _SHA256.fullmatch(s) for s in files.values()):
        raise ModelError(f"{where}: 'files' must map every file, {CARD_NAME} included, to its sha256")
    if files_digest(files) != d["digest"]:
        raise ModelError(f"{where}: its digest does not match its files; the registry folder is damaged")
    return ModelVersion(name, version, version_dir / MODEL_DIR, d["created"], d["user"], d["source"], d["card"],
                        d["metrics"], d["run_metrics"], files, d["digest"])


# ---------------------------------------------------------------------------------------- sources
def find_source(source: str | Path, reports: str | Path = "reports") -> tuple[Path, RunRecord | None]:
    """The model folder ``source`` names (a folder, or a run id / unique prefix under ``reports``) and
    the run it belongs to (None when it is not a run's ``artifacts/model``)."""
    path = Path(source)
    if path.is_dir():
        return path, _run_of(path)
    if path.exists():
        raise ModelError(f"source {str(source)!r} is a file; give a model folder (holding {CARD_NAME}) or a run id")
    text = str(source)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", text):
        raise ModelError(f"source {text!r} is neither a model folder nor a run id")
    try:
        run = find_run(reports, text)
    except WorkbenchError as e:
        raise ModelError(f"source {text!r} is neither a model folder nor a run id: {e}") from None
    folder = RunFolder(Path(run.dir or ".")).artifacts / MODEL_DIR
    if run.status != "succeeded":
        raise ModelError(f"run {run.run_id} {run.status}; register a model of a succeeded run, or give the folder "
                         f"itself ({folder}) if you mean it")
    if not (folder / CARD_NAME).is_file():
        raise ModelError(f"run {run.run_id} ({run.notebook_name}) saved no model: {folder / CARD_NAME} is missing")
    return folder, run


def _run_of(folder: Path) -> RunRecord | None:
    """The run whose ``artifacts/model`` ``folder`` is, if any."""
    folder = folder.resolve()
    if folder.name != MODEL_DIR or folder.parent.name != RunFolder.ARTIFACTS:
        return None
    return read_record(RunFolder(folder.parent.parent).record)


def source_record(folder: Path, run: RunRecord | None, card: ModelCard) -> dict[str, Any]:
    """What ``version.json`` says about where a version came from."""
    out: dict[str, Any] = {"path": str(folder.resolve())}
    run_id = run.run_id if run is not None else card.provenance.get("run_id")
    if isinstance(run_id, str):
        out["run_id"] = run_id
    notebook = run.notebook_name if run is not None else card.provenance.get("notebook")
    if isinstance(notebook, str) and notebook:
        out["notebook"] = notebook
    return out


# ---------------------------------------------------------------------------------------- copying
def _copy_file(src: Path, dst: Path) -> None:
    """Copy one regular file (never through a link: ``O_NOFOLLOW``, then ``fstat``)."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise ModelError(f"cannot copy {str(src)!r} ({e.strerror}); model files must be regular files") from None
    with os.fdopen(fd, "rb") as fin:
        if not stat.S_ISREG(os.fstat(fin.fileno()).st_mode):
            raise ModelError(f"{str(src)!r} is not a regular file; refusing to copy it")
        with open(dst, "xb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())


def checked_card(source: Path) -> ModelCard:
    """The card of the model folder ``source``, every file's hash verified (before anything is copied)."""
    card = read_card(source)
    verify(source, card)
    return card


def copy_model(source: Path, dest: Path, card: ModelCard) -> ModelCard:
    """Copy the card and the files of ``source`` (whose verified card is ``card``) into ``dest`` (created);
    the copy is verified again; returns its card."""
    dest.mkdir()
    for name in [CARD_NAME, *card.files]:
        _copy_file(source / name, dest / name)
    copied = read_card(dest)
    if copied.to_dict() != card.to_dict():
        raise ModelError(f"{str(source / CARD_NAME)!r} changed while it was being registered; try again")
    verify(dest, copied)
    return copied


def new_record(name: str, folder: Path, run: RunRecord | None, card: ModelCard, model_dir: Path) -> dict[str, Any]:
    """``version.json`` of a version being registered (its number is filled in under the lock)."""
    files = {**card.files, CARD_NAME: file_sha256(model_dir / CARD_NAME)}
    return {"format": 1, "name": name, "version": None, "created": utc_stamp(), "user": current_user(),
            "source": source_record(folder, run, card),
            "card": {"kind": card.kind, "task": card.task, "flavor": card.flavor, "name": card.name,
                     "classes": list(card.classes)},
            "metrics": card.metrics, "run_metrics": dict(run.metrics or {}) if run is not None else {},
            "files": dict(sorted(files.items())), "digest": files_digest(files)}


def load_version(version: ModelVersion) -> Any:
    """Load a registered version: its ``model.json`` must be the one registered (sha256 in
    ``version.json``), then :func:`workbench.models.load` verifies every model file against it."""
    card = version.folder / CARD_NAME
    expected = version.files[CARD_NAME]
    try:
        got = file_sha256(card)
    except OSError as e:
        raise ModelError(f"{version.ref}: cannot read {str(card)!r} ({e.strerror}); the registry folder is damaged") \
            from None
    if got != expected:
        raise ModelError(f"{str(card)!r} does not match the sha256 recorded when {version.ref} was registered "
                         f"(expected {expected}, got {got}); the file was changed after registering; refusing to load")
    try:
        return load(version.folder)
    except ModelError as e:
        raise ModelError(f"{version.ref}: {e}") from None
