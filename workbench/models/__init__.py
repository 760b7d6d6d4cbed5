"""The saved-model contract: one folder format for every kind of model, one loader, one ``predict``.

A model folder holds the model's files plus ``model.json`` (a :class:`ModelCard`, format 2: kind,
task, flavor, files with sha256, input and output schema, classes, threshold, metrics, provenance).
``load(folder)`` verifies the card and every file's hash before anything is deserialized, then the
loader of the card's kind returns a :class:`Predictor`; ``predict`` gives the same columns for every
kind: the input key, ``prediction``, ``proba_<class>``, ``error``. The card's input schema is typed
(:class:`TableInput`, :class:`ImageInput`, :class:`UsersInput`): consumers read attributes, never JSON.

A model folder is untrusted input: see SECURITY.md. The flavors (:mod:`workbench.models.flavors`)
deserialize with exact type allow-lists, never pickle.
"""

from __future__ import annotations

from ._card import CARD_NAME, FORMAT_VERSION, ModelCard
from ._predictor import Predictor, frame_records, probability_frame
from ._schema import Column, ImageInput, InputSchema, OtherInput, TableInput, UsersInput
from ._store import KINDS, load, provenance, read_card, save_card, verify

__all__ = ["CARD_NAME", "FORMAT_VERSION", "ModelCard", "Column", "ImageInput", "InputSchema", "OtherInput", "TableInput",
           "UsersInput", "Predictor", "frame_records", "probability_frame", "KINDS", "load", "provenance", "read_card",
           "save_card", "verify"]
