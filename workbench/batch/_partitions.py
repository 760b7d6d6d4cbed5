"""A dataset's partitions: its files, their hive keys (``key=value`` folders) and their output names."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from ..errors import WorkbenchError

SUFFIXES = (".parquet", ".pq", ".csv", ".tsv")


@dataclass(frozen=True)
class Partition:
    """One input file: where it is, its name relative to the dataset (the output keeps it) and its hive keys."""

    path: str
    name: str
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def output_name(self) -> str:
        stem = self.name.rsplit(".", 1)[0] if "." in Path(self.name).name else self.name
        return stem + ".parquet"


def _hive_keys(relative: Path) -> dict[str, str]:
    keys = {}
    for part in relative.parent.parts:
        if "=" in part:
            k, _, v = part.partition("=")
            if k:  # pyarrow writes values URI-encoded (contract=Two%20year)
                keys[unquote(k)] = unquote(v)
    return keys


def find_partitions(data: str | Path) -> list[Partition]:
    """The data files of ``data`` (a folder searched recursively, a glob or one file), sorted by name."""
    text = str(data)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        root = Path(_common_root(files)) if files else Path(".")
    elif Path(text).is_dir():
        root = Path(text)
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                       and not any(s.startswith((".", "_")) for s in p.relative_to(root).parts))
    elif Path(text).is_file():
        root, files = Path(text).parent, [Path(text)]
    else:
        raise WorkbenchError(f"input {text!r} is not a file, a folder or a glob that matches files; give a Parquet "
                             "dataset (folder or glob) or CSV files")
    files = [f for f in files if f.suffix.lower() in SUFFIXES]
    if not files:
        raise WorkbenchError(f"input {text!r} holds no .parquet or .csv files")
    return [Partition(str(f), f.relative_to(root).as_posix(), _hive_keys(f.relative_to(root))) for f in files]


def _common_root(files: list[Path]) -> str:
    import os

    parents = [str(f.parent) for f in files]
    root = os.path.commonpath(parents) if len(parents) > 1 else parents[0]
    # hive folders below the common root belong to the partitions' names, not to the root
    while "=" in Path(root).name:
        root = str(Path(root).parent)
    return root
