"""The card's typed input schema: parsed and refused field by field, written back exactly as read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from serve_support import build_movielens, build_recommender, build_vision, fit_churn

from workbench.errors import ModelError
from workbench.models import ImageInput, ModelCard, OtherInput, TableInput, UsersInput, read_card
from workbench.models._card import upgrade_v1

SHA = "0" * 64
COLUMNS = [{"name": "tenure", "role": "numeric", "dtype": "int64"},
           {"name": "contract", "role": "categorical", "dtype": "object", "categories": ["month", "year"]},
           {"name": "senior", "role": "categorical", "dtype": "bool", "categories": [False, True]}]


def _card(input_schema: dict, **extra) -> dict:
    return {"format_version": 2, "kind": "tabular", "task": "binary", "flavor": "skops", "name": "m",
            "files": {"model.skops": SHA}, "input_schema": input_schema, **extra}


CARDS = Path(__file__).parent / "cards"  # model.json files written by workbench 0.2 (before the typed schema)
BUILDERS = {"tabular": fit_churn, "vision": build_vision, "recommender": build_movielens, "fake": build_recommender}
TYPES = {"tabular": TableInput, "vision": ImageInput, "recommender": UsersInput, "fake": UsersInput}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_cards_written_before_come_back_exactly(name):
    text = (CARDS / f"{name}.json").read_text()
    card = ModelCard.from_dict(json.loads(text))
    assert type(card.input_schema) is TYPES[name]
    assert json.dumps(card.to_dict(), indent=2) + "\n" == text  # same fields, values and key order


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_saving_writes_the_input_schema_as_before(name, tmp_path):
    before = json.loads((CARDS / f"{name}.json").read_text())
    folder = BUILDERS[name](tmp_path / "model")
    written = json.loads((folder / "model.json").read_text())
    assert written["input_schema"] == before["input_schema"] and written["output_schema"] == before["output_schema"]
    assert read_card(folder).to_dict() == written


def test_a_table_input_is_typed_all_the_way_down():
    table = ModelCard.from_dict(_card({"type": "table", "columns": COLUMNS, "id_columns": ["id"]})).input_schema
    assert table.type == "table" and table.features == ["tenure", "contract", "senior"]
    assert table.numeric == ["tenure"] and table.categorical == ["contract", "senior"] and table.id_columns == ("id",)
    assert table.categories == {"contract": ["month", "year"], "senior": [False, True]}
    assert table.dtypes == {"tenure": "int64", "contract": "object", "senior": "bool"}
    assert [c.numeric for c in table.columns] == [True, False, False]


def test_cards_built_in_code_take_the_json_form_and_numpy_scalars():
    card = ModelCard(kind="vision", task="binary", flavor="safetensors", name="b", files={"w": SHA},
                     input_schema={"type": "image", "size": np.int64(48), "mean": np.array([0.5, 0.5, 0.5]),
                                   "std": [0.25, 0.25, 0.25]})
    assert card.input_schema == ImageInput(48, 3, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert card.to_dict()["input_schema"] == {"type": "image", "size": 48, "channels": 3, "mean": [0.5, 0.5, 0.5],
                                              "std": [0.25, 0.25, 0.25]}
    users = ModelCard(kind="recommender", task="ranking", flavor="npz", name="r", files={"w": SHA},
                      input_schema={"type": "users"}).input_schema
    assert (users.user_col, users.item_col, users.user_ids) == ("user", "item", None)


def test_other_input_kinds_and_none_are_kept_as_given():
    audio = {"type": "audio", "rate": 16000, "channels": ["l", "r"]}
    card = ModelCard.from_dict(_card(audio))
    assert card.input_schema == OtherInput("audio", audio) and card.to_dict()["input_schema"] == audio
    empty = ModelCard.from_dict({k: v for k, v in _card({}).items() if k != "input_schema"})
    assert empty.input_schema.type == "" and empty.to_dict()["input_schema"] == {}


def test_format_1_sidecars_upgrade_into_typed_inputs():
    v1 = {"format_version": 1, "model": "logreg", "file": "model.skops", "format": "skops", "sha256": SHA,
          "numeric": ["tenure"], "categorical": ["contract"], "categories": {"contract": ["month", "year"]},
          "dtypes": {"tenure": "int64"}, "classes": ["No", "Yes"], "id_columns": ["id"]}
    card = ModelCard.from_dict(v1)
    assert card.input_schema.numeric == ["tenure"] and card.input_schema.categories == {"contract": ["month", "year"]}
    assert card.input_schema.dtypes == {"tenure": "int64", "contract": "object"}
    assert card.to_dict()["input_schema"] == upgrade_v1(v1, "x")["input_schema"]
    vision = {"format_version": 1, "weights": "w.safetensors", "backbone": "b", "sha256": SHA, "image_size": 64,
              "mean": [0.5] * 3, "std": [0.5] * 3, "classes": ["a", "b"]}
    assert ModelCard.from_dict(vision).input_schema == ImageInput(64, 3, (0.5,) * 3, (0.5,) * 3)


@pytest.mark.parametrize("schema, match", [
    ({"type": "table", "columns": [{"role": "numeric"}]}, r"columns\[0\].name must be a non-empty string"),
    ({"type": "table", "columns": [{"name": "", "role": "numeric"}]}, r"columns\[0\].name must be a non-empty"),
    ({"type": "table", "columns": [{"name": "a", "role": "text"}]},
     r"columns\[0\].role \(column 'a'\) must be numeric or categorical, got 'text'"),
    ({"type": "table", "columns": [{"name": "a", "role": "categorical", "categories": [{"x": 1}]}]},
     r"columns\[0\].categories \(column 'a'\) must be a list of strings, numbers or booleans"),
    ({"type": "table", "columns": [{"name": "a", "role": "categorical", "categories": "ab"}]},
     r"columns\[0\].categories .* got 'ab'"),
    ({"type": "table", "columns": [{"name": "a", "role": "numeric", "dtype": 3}]},
     r"columns\[0\].dtype \(column 'a'\) must be a string, got 3"),
    ({"type": "table", "columns": ["a"]}, r"columns\[0\] must be an object with a name and a role, got 'a'"),
    ({"type": "table", "columns": []}, r"columns must be a non-empty list"),
    ({"type": "table"}, r"columns must be a non-empty list"),
    ({"type": "table", "columns": COLUMNS + COLUMNS[:1]}, r"columns names 'tenure' more than once"),
    ({"type": "table", "columns": COLUMNS, "id_columns": "id"}, r"id_columns must be a list"),
    ({"type": "image", "size": 0}, r"size must be a positive integer, got 0"),
    ({"type": "image", "size": "224; rm -rf /"}, r"size must be a positive integer"),
    ({"type": "image", "size": True}, r"size must be a positive integer, got True"),
    ({"type": "image"}, r"size must be a positive integer, got None"),
    ({"type": "image", "size": 32, "channels": 2.5}, r"channels must be a positive integer"),
    ({"type": "image", "size": 32, "mean": [0.5, 0.5]}, r"mean must be a list of 3 numbers"),
    ({"type": "image", "size": 32, "std": [0.5, 0.0, 0.5]}, r"std must be a list of 3 positive numbers"),
    ({"type": "users", "user_col": ""}, r"user_col must be a non-empty string"),
    ({"type": "users", "item_col": 7}, r"item_col must be a non-empty string, got 7"),
    ({"type": "users", "user_ids": "float"}, r"user_ids must be 'number' or 'text'"),
    ({"type": ["table"]}, r"type must be a string"),
])
def test_bad_input_schemas_are_refused_naming_the_field(schema, match):
    with pytest.raises(ModelError, match=r"^where: input_schema\." + match):
        ModelCard.from_dict(_card(schema), where="where")


def test_output_columns_are_names():
    card = ModelCard.from_dict(_card({"type": "table", "columns": COLUMNS}, output_schema={"columns": ["prediction"]}))
    assert card.output_columns == ["prediction"] and card.input_schema.id_columns == ()
    with pytest.raises(ModelError, match="output_schema.columns must be a list of column names"):
        ModelCard.from_dict(_card({}, output_schema={"columns": [1]}))


def test_a_card_in_a_folder_names_its_file_in_the_error(tmp_path: Path):
    (tmp_path / "model.json").write_text(json.dumps(_card({"type": "image", "size": -3})))
    with pytest.raises(ModelError, match=r"model.json: input_schema.size must be a positive integer, got -3"):
        read_card(tmp_path)
