"""Where a command writes its output: never over an input or a model, never over a file without --force."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..errors import WorkbenchError


def check_output(output: str | Path, protected: Iterable[str | Path], force: bool = False) -> Path:
    """``output`` as a path once it is safe to write: not a folder, not one of the ``protected`` files
    and not inside a protected folder (inputs, the model), and not an existing file unless ``force``."""
    out = Path(output)
    if out.is_dir():
        raise WorkbenchError(f"output {str(output)!r} is a folder; give a file name, e.g. {out / 'predictions.csv'}")
    target = out.resolve()
    p = _protected_hit(target, protected)
    if p is not None:
        raise WorkbenchError(f"output {str(output)!r} would overwrite {'a file in ' if target != p else ''}"
                             f"{str(p)!r}, an input of this command; give another output file")
    if out.exists() and not force:
        raise WorkbenchError(f"output {str(output)!r} exists; give another name, or --force to replace it")
    return out


def check_explain_dir(folder: str | Path, protected: Iterable[str | Path]) -> Path:
    """``folder`` for heatmap PNGs once it is safe to use: not a file, not inside an input or the model."""
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise WorkbenchError(f"--explain {str(folder)!r} is a file; give a folder for the heatmap PNGs")
    p = _protected_hit(out.resolve(), protected)
    if p is not None:
        raise WorkbenchError(f"--explain {str(folder)!r} would write into {str(p)!r}, an input of this command; "
                             "give another folder")
    return out


def _protected_hit(target: Path, protected: Iterable[str | Path]) -> Path | None:
    """The first of ``protected`` (resolved) that ``target`` is, or lies inside; None when it is none of them."""
    for p in protected:
        p = Path(p).resolve()
        if target == p or (p.is_dir() and p in target.parents):
            return p
    return None
