"""What a saved model takes, typed: the card's ``input_schema`` as one object per input kind.

``model.json`` stores the input schema as JSON (``{"type": "table", "columns": [...]}``); the card parses
it once, in :meth:`ModelCard.from_dict <workbench.models.ModelCard.from_dict>`, into

- :class:`TableInput`: the input columns (:class:`Column`: name, role ``numeric`` or ``categorical``,
  dtype in training, the categories seen) and the ID columns echoed in predictions;
- :class:`ImageInput`: image size, channels, normalization mean and std;
- :class:`UsersInput`: a recommender's user and item columns (and whether user ids are numbers);
- :class:`OtherInput`: any other ``type`` (a kind from another package), its JSON kept as it is.

A field of the wrong type is refused with an error naming it. Consumers read attributes and compare
``schema.type``; ``to_dict()`` writes back the JSON the workbench writers write (format 2).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

from ..errors import ModelError

ROLES = ("numeric", "categorical")
USER_IDS = ("number", "text")
Scalar = Union[str, int, float, bool]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bad(where: str, name: str, expected: str, got: Any) -> ModelError:
    return ModelError(f"{where}: input_schema.{name} must be {expected}, got {_shown(got)}")


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int)) or (isinstance(value, float) and math.isfinite(value))


def _text(data: dict[str, Any], key: str, where: str, name: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise _bad(where, name, "a non-empty string", value)
    return value


def _numbers(value: Any, n: int, where: str, name: str, positive: bool = False) -> tuple[float, ...] | None:
    if value is None:
        return None
    ok = isinstance(value, list) and len(value) == n and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and (v > 0 or not positive)
        for v in value)
    if not ok:
        raise _bad(where, name, f"a list of {n} {'positive ' if positive else ''}numbers (one per channel)", value)
    return tuple(float(v) for v in value)


def _positive_int(data: dict[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _bad(where, key, "a positive integer", value)
    return value


@dataclass(frozen=True)
class Column:
    """One input column of a table: its name, role (``numeric`` or ``categorical``), dtype in training
    and, for a categorical column, the categories seen in training."""

    name: str
    role: str
    dtype: str = ""
    categories: tuple[Scalar, ...] = ()

    @property
    def numeric(self) -> bool:
        return self.role == "numeric"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "role": self.role}
        if self.dtype:
            out["dtype"] = self.dtype
        if self.role == "categorical" or self.categories:
            out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str, i: int) -> "Column":
        if not isinstance(data, dict):
            raise _bad(where, f"columns[{i}]", "an object with a name and a role", data)
        name = _text(data, "name", where, f"columns[{i}].name")
        role = data.get("role")
        if role not in ROLES:
            raise _bad(where, f"columns[{i}].role (column {name!r})", "numeric or categorical", role)
        dtype = data.get("dtype", "")
        if not isinstance(dtype, str):
            raise _bad(where, f"columns[{i}].dtype (column {name!r})", "a string", dtype)
        cats = data.get("categories")
        if cats is not None and not (isinstance(cats, list) and all(_scalar(c) for c in cats)):
            raise _bad(where, f"columns[{i}].categories (column {name!r})",
                       "a list of strings, numbers or booleans", cats)
        return cls(name, role, dtype, tuple(cats or ()))


@dataclass(frozen=True)
class TableInput:
    """A table's rows in: the input :class:`Column` s, and the ID columns echoed back in predictions."""

    type: ClassVar[str] = "table"
    columns: tuple[Column, ...]
    id_columns: tuple[str, ...] = ()

    @property
    def features(self) -> list[str]:
        """Every input column's name, in the card's order."""
        return [c.name for c in self.columns]

    @property
    def numeric(self) -> list[str]:
        return [c.name for c in self.columns if c.numeric]

    @property
    def categorical(self) -> list[str]:
        return [c.name for c in self.columns if not c.numeric]

    @property
    def categories(self) -> dict[str, list]:
        """Categorical column -> the categories seen in training."""
        return {c.name: list(c.categories) for c in self.columns if not c.numeric}

    @property
    def dtypes(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.columns}

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "columns": [c.to_dict() for c in self.columns], "id_columns": list(self.id_columns)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> "TableInput":
        raw = data.get("columns")
        if not isinstance(raw, list) or not raw:
            raise _bad(where, "columns", "a non-empty list of columns (each with a name and a role)", raw)
        columns = tuple(Column.from_dict(c, where, i) for i, c in enumerate(raw))
        names = [c.name for c in columns]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ModelError(f"{where}: input_schema.columns names {', '.join(map(repr, twice))} more than once")
        ids = data.get("id_columns")
        if ids is not None and not (isinstance(ids, list) and all(isinstance(c, str) and c for c in ids)):
            raise _bad(where, "id_columns", "a list of column names", ids)
        return cls(columns, tuple(ids or ()))


@dataclass(frozen=True)
class ImageInput:
    """Images in: the side they are resized to, channels, and the normalization (mean, std per channel)."""

    type: ClassVar[str] = "image"
    size: int
    channels: int = 3
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "size": self.size, "channels": self.channels}
        out.update({k: list(v) for k, v in (("mean", self.mean), ("std", self.std)) if v is not None})
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> "ImageInput":
        size = _positive_int(data, "size", where)
        channels = _positive_int(data, "channels", where, default=3)
        return cls(size, channels, _numbers(data.get("mean"), channels, where, "mean"),
                   _numbers(data.get("std"), channels, where, "std", positive=True))


@dataclass(frozen=True)
class UsersInput:
    """A recommender's input: users; ``user_col``/``item_col`` name the columns of its tables and answers,
    ``user_ids`` says whether ids are ``number`` s or ``text`` (None: not recorded)."""

    type: ClassVar[str] = "users"
    user_col: str = "user"
    item_col: str = "item"
    user_ids: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "user_col": self.user_col, "item_col": self.item_col}
        if self.user_ids is not None:
            out["user_ids"] = self.user_ids
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> "UsersInput":
        user_ids = data.get("user_ids")
        if user_ids is not None and user_ids not in USER_IDS:
            raise _bad(where, "user_ids", "'number' or 'text'", user_ids)
        return cls(_text(data, "user_col", where, "user_col", "user"), _text(data, "item_col", where, "item_col", "item"),
                   user_ids)


@dataclass(frozen=True)
class OtherInput:
    """An input kind this workbench does not know (another package's model kind, or none): the JSON as given."""

    type: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)


InputSchema = Union[TableInput, ImageInput, UsersInput, OtherInput]
INPUTS: dict[str, Any] = {c.type: c for c in (TableInput, ImageInput, UsersInput)}


def parse_input(data: Any, where: str) -> InputSchema:
    """The typed input schema of ``data`` (the card's ``input_schema`` JSON); errors name the field."""
    if not isinstance(data, dict):
        raise ModelError(f"{where}: field 'input_schema' must be dict, got {type(data).__name__}")
    kind = data.get("type", "")
    if not isinstance(kind, str):
        raise _bad(where, "type", "a string (table, image, users, ...)", kind)
    parser = INPUTS.get(kind)
    return parser.from_dict(data, where) if parser is not None else OtherInput(kind, copy.deepcopy(data))
