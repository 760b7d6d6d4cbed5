"""Request validation generated from each model's card: pydantic types, so ``/docs`` shows the real fields.

A tabular model's request is ``{"records": [{column: value, ...}, ...]}``: every input column of the
card is required (``null`` is a missing value, imputed as in training), numeric columns take JSON
numbers, categorical ones text (``true``/``false`` too for boolean columns); the card's ID columns may
be given and are echoed back; any other key (the target, a dropped column) is ignored, as by
``workbench predict``. Validation runs on the raw body in pydantic-core (Rust): no dict is built before
the body is known to be valid. Errors become FastAPI-style 422 details naming the field
(``_http.error_details``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr, TypeAdapter
from typing_extensions import NotRequired, TypedDict

from ..models import Column, ModelCard

REF = "#/components/schemas/{model}"
Scalar = Union[StrictStr, StrictInt, Annotated[float, Field(strict=True, allow_inf_nan=False)], StrictBool, None]


def _integer(value: Any) -> Any:
    """JSON Schema's integer: whole numbers, also written 3.0; never a boolean or text."""
    if isinstance(value, (bool, str)):
        raise ValueError("Input should be a valid integer")
    return value


def integer(**constraints: Any) -> Any:
    """An integer type (see :func:`_integer`) with ``Field`` constraints."""
    return Annotated[int, Field(strict=False, **constraints), BeforeValidator(_integer)]


# at least one character that is not white space by Python's str.isspace (what the server strips), spelt out
# because JSON Schema (ECMA), pydantic-core (Rust) and Python disagree on \s: "\x1e" is space only to Python
NOT_BLANK = r"[^\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
Id = Union[Annotated[StrictStr, Field(min_length=1, max_length=256, pattern=NOT_BLANK)], integer(ge=-(2 ** 53), le=2 ** 53)]


def _typed_dict(title: str, fields: dict[str, Any], extra: str) -> Any:
    td = TypedDict(title, fields)  # type: ignore[misc]  # the functional form takes any column name
    td.__pydantic_config__ = ConfigDict(extra=extra, title=title)  # type: ignore[attr-defined]
    return td


def _column_type(col: Column) -> Any:
    name, dtype = col.name, col.dtype
    if col.numeric:
        return Annotated[Union[float, None], Field(strict=True, allow_inf_nan=False,
                                                   description=f"{name}: a number ({dtype or 'numeric'} in training) "
                                                               "or null for a missing value")]
    cats = [str(c) for c in col.categories]
    shown = ", ".join(cats[:20]) + (f", ... ({len(cats)} in all)" if len(cats) > 20 else "")
    desc = f"{name}: a category ({shown or 'text'}; others are scored as unknown) or null for a missing value"
    extra: dict[str, Any] = {"examples": cats[:3]} if cats else {}
    kinds = (StrictBool, StrictStr) if dtype.startswith("bool") else (StrictStr,)
    return Annotated[Union[(*kinds, None)], Field(description=desc, **extra)]  # type: ignore[arg-type]


@dataclass
class TableSchema:
    """A tabular model's request: the pydantic type, its JSON schema pieces, the columns."""

    adapter: TypeAdapter
    request: dict[str, Any]
    components: dict[str, Any]
    features: list[str]
    id_columns: list[str]


def table_schema(name: str, card: ModelCard, max_rows: int) -> TableSchema:
    """The request type of a model whose card has a ``table`` input schema."""
    table = card.input_schema
    ids, features = list(table.id_columns), table.features
    fields: dict[str, Any] = {c.name: _column_type(c) for c in table.columns}
    for c in ids:
        if c not in fields:
            fields[c] = NotRequired[Annotated[Scalar, Field(description=f"{c}: an ID column, echoed in the answer")]]
    record = _typed_dict(f"{name}_record", fields, "ignore")
    body = _typed_dict(f"{name}_request", {"records": Annotated[list[record], Field(  # type: ignore[valid-type]
        min_length=1, max_length=max_rows, description=f"rows to predict (at most {max_rows:,})")]}, "forbid")
    adapter = TypeAdapter(body)
    schema = adapter.json_schema(ref_template=REF)
    components = schema.pop("$defs", {})
    return TableSchema(adapter, schema, components, features, ids)


def recommender_schemas(name: str, max_k: int, default_k: int) -> tuple[TypeAdapter, TypeAdapter]:
    """The request types of a recommender: predict (``user``, ``k``) and interactions (``user``, ``item``, ``rating``)."""
    predict = _typed_dict(f"{name}_request", {
        "user": Annotated[Id, Field(description="the user's id; unknown users get the popular items (cold start)")],
        "k": NotRequired[integer(ge=1, le=max_k, description=f"how many items (default {default_k}, at most {max_k})")],
    }, "forbid")
    interaction = _typed_dict(f"{name}_interaction", {
        "user": Annotated[Id, Field(description="the user's id")],
        "item": Annotated[Id, Field(description="an item of the model's catalog")],
        "rating": NotRequired[Annotated[Union[float, None], Field(
            strict=True, allow_inf_nan=False, description="the rating, or null/absent for implicit feedback")]],
    }, "forbid")
    return TypeAdapter(predict), TypeAdapter(interaction)


def json_schema(adapter: TypeAdapter) -> tuple[dict[str, Any], dict[str, Any]]:
    """An adapter's JSON schema for OpenAPI, and the components it refers to."""
    schema = adapter.json_schema(ref_template=REF)
    return schema, schema.pop("$defs", {})
