"""Tables: a registered dataset by name, a CSV/TSV/Parquet file or a request log by path, as a :class:`Dataset`.

``load_dataset("telco_churn")`` or ``load_dataset("data/my.csv", target="label")`` returns a
:class:`Dataset`: the frame plus what a report needs (name, source, fingerprint, shape). Errors name
the problem and the fix: a missing file, an unreadable or empty one, an unknown dataset name (the
known ones are listed), a target column that is not there (the columns are listed).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DatasetError
from ._dataset import Dataset, frame_fingerprint
from ._registry import dataset_names, registered
from ._requestlog import log_files, read_request_log

if TYPE_CHECKING:  # pandas is imported where frames are made: the run cache reads this registry cheaply
    import pandas as pd


def _read_file(path: Path) -> pd.DataFrame:
    import pandas as pd

    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() in (".gz", ".bz2", ".zip", ".xz") \
        else path.suffix.lower()
    try:
        if suffix.startswith(".parquet") or suffix == ".pq":
            return pd.read_parquet(path)
        if suffix.startswith(".tsv"):
            return pd.read_csv(path, sep="\t")
        if suffix.startswith(".csv") or suffix.startswith(".txt"):
            return pd.read_csv(path, sep=None, engine="python") if suffix.startswith(".txt") else pd.read_csv(path)
    except pd.errors.EmptyDataError as e:
        raise DatasetError(f"{str(path)!r} is empty: it has no header and no rows") from e
    except UnicodeDecodeError as e:
        raise DatasetError(f"{str(path)!r} is not UTF-8 text ({e.reason} at byte {e.start}): "
                           "re-save it as UTF-8 (e.g. 'Save as CSV UTF-8')") from e
    except (pd.errors.ParserError, ValueError, OSError) as e:
        raise DatasetError(f"{str(path)!r} could not be read as {suffix or 'a table'}: {e}") from e
    except Exception as e:  # pyarrow raises its own errors for corrupt files
        raise DatasetError(f"{str(path)!r} could not be read: {type(e).__name__}: {e}") from e
    raise DatasetError(f"{str(path)!r} has an unsupported extension {path.suffix!r}: use .csv, .tsv or .parquet")


def _check_flat(df: pd.DataFrame, key: str) -> None:
    """Refuse nested columns (lists, structs, maps: Parquet allows them), naming them."""
    import pandas as pd

    nested = []
    for c in [c for c in df.columns if pd.api.types.is_object_dtype(df[c])]:
        first = df[c].dropna().head(50)
        if any(isinstance(v, (list, tuple, dict, set)) or type(v).__name__ == "ndarray" for v in first):
            nested.append(c)
    if nested:
        raise DatasetError(f"{key!r} has nested columns (lists, structs or maps): {', '.join(nested)}; "
                           "workbench reads flat tables: flatten them (e.g. one column per field) or drop them")


def load_dataset(name_or_path: str | Path, target: str | None = None) -> Dataset:
    """A registered dataset by name, a CSV/TSV/Parquet file by path, or the request log that
    ``workbench serve`` writes (a ``.jsonl`` file, a folder of them or a glob; see
    :func:`workbench.data.read_request_log`: the frame holds the logged inputs).

    Parameters
    ----------
    name_or_path : a name from :func:`dataset_names`, a file or request-log path.
    target : a column that must be present (``None`` or ``""`` for none).
    """
    key = str(name_or_path)
    entry = registered(key)
    if entry is not None and entry.kind != "table":
        raise DatasetError(f"{key!r} is an image dataset; load it with workbench.data.load_image_dataset "
                           f"(tables: {', '.join(dataset_names('table'))})")
    if entry is not None:
        df = entry.loader()
        name, source, description = key, entry.source, entry.description
    else:
        logs = log_files(key)
        if logs is not None:
            return _checked(read_request_log(key, logs), target)
        path = Path(key).expanduser()
        looks_like_path = path.suffix or "/" in key or "\\" in key
        if not path.exists():
            if looks_like_path:
                raise DatasetError(f"data file {key!r} not found (working directory: {Path.cwd()})")
            raise DatasetError(f"unknown dataset {key!r}; registered datasets: {', '.join(dataset_names('table'))}; "
                               "or give a path to a .csv/.parquet file")
        if path.is_dir():
            raise DatasetError(f"{key!r} is a folder without request logs (.jsonl); give a .csv or .parquet file, or "
                               "a folder of request logs (image folders are for the vision notebook)")
        if path.stat().st_size == 0:
            raise DatasetError(f"{key!r} is empty (0 bytes)")
        df = _read_file(path)
        name, source, description = path.stem, str(path), ""
    if df.shape[1] == 0:
        raise DatasetError(f"{key!r} has no columns")
    if df.shape[0] == 0:
        raise DatasetError(f"{key!r} has a header but no rows")
    df.columns = [str(c) for c in df.columns]
    _check_flat(df, key)
    return _checked(Dataset(frame=df, name=name, source=source, fingerprint=frame_fingerprint(df),
                            description=description), target)


def _checked(ds: Dataset, target: str | None) -> Dataset:
    df = ds.frame
    target = target or None
    if target is not None and target not in df.columns:
        near = [c for c in df.columns if c.lower() == str(target).lower()]
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise DatasetError(f"target column {target!r} not in {ds.name!r}{hint}; columns: {', '.join(df.columns)}")
    ds.target = target
    return ds
