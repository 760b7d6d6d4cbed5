"""The model card (``model.json``, format 2): what a saved model is, what it takes and gives, where it
came from, and the sha256 of every file it consists of.

A card is read from an untrusted folder, so :meth:`ModelCard.from_dict` checks every field's type
and every file name before anything else looks at it, and parses the input schema into its typed
form (``_schema``: a consumer reads attributes, never the JSON). Cards written before format 2 (the tabular and
vision sidecars of format 1) are upgraded in memory.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, fields
from typing import Any

from ..core.io import to_jsonable
from ..errors import ModelError
from ._schema import InputSchema, OtherInput, parse_input

FORMAT_VERSION = 2
CARD_NAME = "model.json"
MAX_CARD_BYTES = 16 << 20
MAX_DEPTH = 64
"""How deep a card's JSON may nest (workbench's cards: under 10 levels)."""
MAX_CLASSES = 10_000
"""The most classes a card may list (a model's output layer and columns grow with them)."""
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
TASKS = ("binary", "multiclass", "regression", "ranking")


@dataclass
class ModelCard:
    """Everything ``model.json`` says about a saved model.

    Attributes
    ----------
    kind : the domain that reads it (``tabular``, ``vision``, ...): picks the loader.
    task : ``binary``, ``multiclass``, ``regression`` or ``ranking``.
    flavor : how the weights are stored (``skops``, ``catboost``, ``safetensors``, ``npz``).
    name : the model's name (registry name or backbone).
    files : file name (in the folder, no sub-folders) -> sha256 of its bytes; all are verified.
    input_schema : what the model takes, typed (:class:`TableInput`, :class:`ImageInput`, :class:`UsersInput`,
        or :class:`OtherInput` for another package's kind); a dict given here is parsed as from ``model.json``.
    output_schema : ``{"columns": [...]}``: the columns ``predict`` returns (see :attr:`output_columns`).
    classes : class labels (classification), positive class last for binary tasks.
    threshold : decision threshold on the positive class (binary), with ``threshold_rule``.
    metrics : held-out and validation metrics.
    provenance : run id, notebook, commit, dataset and its fingerprint, package versions, time.
    details : kind-specific settings the loader needs (backbone, taps, feature order, ...).
    """

    kind: str
    task: str
    flavor: str
    name: str
    files: dict[str, str]
    input_schema: InputSchema = field(default_factory=OtherInput)
    output_schema: dict[str, Any] = field(default_factory=dict)
    classes: list[Any] = field(default_factory=list)
    positive_label: Any = None
    threshold: float | None = None
    threshold_rule: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if isinstance(self.input_schema, dict):  # built in code: plain JSON first, as save_card writes it
            self.input_schema = parse_input(to_jsonable(self.input_schema), "model card")

    @property
    def output_columns(self) -> list[str]:
        """The columns ``predict`` returns, as the card lists them (``output_schema.columns``)."""
        return list(self.output_schema.get("columns", []))

    def to_dict(self) -> dict[str, Any]:
        """The card as ``model.json`` holds it (format 2)."""
        out: dict[str, Any] = {"format_version": self.format_version}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "format_version":
                out[f.name] = value.to_dict() if f.name == "input_schema" else copy.deepcopy(value)
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = CARD_NAME) -> "ModelCard":
        """A validated card from ``model.json`` content (format 1 upgraded)."""
        if not isinstance(data, dict):
            raise ModelError(f"{where} must hold a JSON object, got {type(data).__name__}")
        _check_depth(data, where)
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            data = upgrade_v1(data, where)
        card = cls(**_checked_fields(data, where))
        _check_files(card.files, where)
        return card


def _check_depth(data: Any, where: str) -> None:
    """Refuse JSON nested over :data:`MAX_DEPTH` levels (checked without recursion)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ModelError(f"{where} nests over {MAX_DEPTH} levels deep: not a model card; refusing it")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, depth + 1) for c in children)


_TYPES: dict[str, tuple[type, ...]] = {
    "kind": (str,), "task": (str,), "flavor": (str,), "name": (str,), "files": (dict,),
    "input_schema": (dict,), "output_schema": (dict,), "classes": (list,), "threshold": (float, int, type(None)),
    "threshold_rule": (str,), "metrics": (dict,), "provenance": (dict,), "details": (dict,),
    "format_version": (int,), "positive_label": (str, int, float, bool, type(None)),
}
_REQUIRED = ("kind", "task", "flavor", "name", "files")


def _checked_fields(data: dict[str, Any], where: str) -> dict[str, Any]:
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ModelError(f"{where} lacks {', '.join(missing)}: not a workbench model card")
    out = {}
    for key, types in _TYPES.items():
        if key not in data:
            continue
        value = data[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ModelError(f"{where}: field {key!r} must be {' or '.join(t.__name__ for t in types)}, "
                             f"got {type(value).__name__}")
        out[key] = value
    if "input_schema" in out:
        out["input_schema"] = parse_input(out["input_schema"], where)
    columns = out.get("output_schema", {}).get("columns", [])
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ModelError(f"{where}: output_schema.columns must be a list of column names, got {columns!r:.80}")
    if out["task"] not in TASKS:
        raise ModelError(f"{where}: task {out['task']!r} is not one of {', '.join(TASKS)}")
    classes = out.get("classes", [])
    if len(classes) > MAX_CLASSES:
        raise ModelError(f"{where}: classes lists {len(classes)} classes, more than the {MAX_CLASSES} a model may "
                         "have; refusing it")
    for c in classes:
        if not isinstance(c, (str, int, float, bool)):
            raise ModelError(f"{where}: classes must be strings or numbers, got {type(c).__name__}")
    return out


def _check_files(files: dict[str, Any], where: str) -> None:
    if not files:
        raise ModelError(f"{where} lists no model files")
    for name, digest in files.items():
        if not _FILE_NAME.fullmatch(name) or name == CARD_NAME:
            raise ModelError(f"{where}: file name {name!r} is not allowed: model files must be plain names inside "
                             "the model folder (letters, digits, '._-'; no paths)")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise ModelError(f"{where}: file {name!r} has no valid sha256 (got {digest!r}); every model file "
                             "must carry its hash; fix: re-create the folder by rerunning the notebook that saved it")


_V1_TYPES: dict[str, tuple[type, ...]] = {
    "file": (str,), "weights": (str,), "numeric": (list,), "categorical": (list,), "categories": (dict,),
    "dtypes": (dict,), "classes": (list,), "id_columns": (list,), "threshold_rule": (str,), "backbone": (str,),
    "model": (str,), "image_size": (int,), "mean": (list,), "std": (list,), "taps": (list, type(None)),
    "config": (dict,), "metrics": (dict,), "sha256": (str,),
}


def _check_v1(data: dict[str, Any], where: str) -> None:
    """The format-1 fields the upgrade reads, type-checked (``numeric: 1`` is refused by name)."""
    for key, types in _V1_TYPES.items():
        value = data.get(key)
        if key in data and (not isinstance(value, types) or isinstance(value, bool)):
            raise ModelError(f"{where}: format-1 field {key!r} must be {' or '.join(t.__name__ for t in types)}, "
                             f"got {type(value).__name__}")
    for key in ("numeric", "categorical", "id_columns"):
        if not all(isinstance(c, str) for c in data.get(key, [])):
            raise ModelError(f"{where}: format-1 field {key!r} must list column names")
    if not all(isinstance(v, list) for v in data.get("categories", {}).values()):
        raise ModelError(f"{where}: format-1 field 'categories' must map each column to a list of categories")
    if not all(isinstance(v, str) for v in data.get("dtypes", {}).values()):
        raise ModelError(f"{where}: format-1 field 'dtypes' must map each column to a dtype name")


def upgrade_v1(data: dict[str, Any], where: str) -> dict[str, Any]:
    """A format-2 card from a format-1 sidecar (tabular ``format``/``file``, vision ``weights``)."""
    if data.get("format") in ("skops", "catboost-cbm") and "file" in data:
        _check_v1(data, where)
        return _upgrade_tabular_v1(data)
    if "weights" in data and "backbone" in data:
        _check_v1(data, where)
        return _upgrade_vision_v1(data)
    raise ModelError(f"{where} has format_version {data.get('format_version')!r}, which this workbench cannot "
                     f"read (it reads {FORMAT_VERSION} and the format-1 tabular and vision sidecars); fix: rerun the "
                     "notebook that saved the model to re-create its folder")


def _sha(data: dict[str, Any]) -> str:
    return data.get("sha256") if isinstance(data.get("sha256"), str) else ""


def _upgrade_tabular_v1(d: dict[str, Any]) -> dict[str, Any]:
    cats = d.get("categories") or {}
    dtypes = d.get("dtypes") or {}
    columns = [{"name": c, "role": "numeric", "dtype": dtypes.get(c, "float64")} for c in d.get("numeric", [])]
    columns += [{"name": c, "role": "categorical", "dtype": dtypes.get(c, "object"), "categories": cats.get(c, [])}
                for c in d.get("categorical", [])]
    classes = d.get("classes", [])
    flavor = "catboost" if d["format"] == "catboost-cbm" else "skops"
    details = {k: d[k] for k in ("catboost", "dropped_columns", "target") if k in d}
    return {
        "kind": "tabular", "task": "binary" if len(classes) == 2 else "multiclass", "flavor": flavor,
        "name": str(d.get("model", "")), "files": {str(d["file"]): _sha(d)},
        "input_schema": {"type": "table", "columns": columns, "id_columns": d.get("id_columns", [])},
        "output_schema": {"columns": ["prediction", *[f"proba_{c}" for c in classes], "error"]},
        "classes": classes, "positive_label": d.get("positive_label"), "threshold": d.get("threshold"),
        "threshold_rule": d.get("threshold_rule", ""),
        "metrics": {k: d[k] for k in ("metric", "test_score", "test_metrics", "cv_metrics") if k in d},
        "provenance": {k: d[k] for k in ("dataset", "data_fingerprint", "seed", "folds", "n_train", "n_test",
                                         "created", "packages", "refit_time_s") if k in d},
        "details": details,
    }


def _upgrade_vision_v1(d: dict[str, Any]) -> dict[str, Any]:
    classes = d.get("classes", [])
    return {
        "kind": "vision", "task": "binary" if len(classes) == 2 else "multiclass", "flavor": "safetensors",
        "name": str(d.get("backbone")), "files": {str(d["weights"]): _sha(d)},
        "input_schema": {"type": "image", "size": d.get("image_size"), "channels": 3, "mean": d.get("mean"),
                         "std": d.get("std")},
        "output_schema": {"columns": ["path", "prediction", *[f"proba_{c}" for c in classes], "error"]},
        "classes": classes, "metrics": {"test": d.get("metrics", {})},
        "provenance": {k: d[k] for k in ("dataset", "n_train", "n_val", "n_test", "workbench_version", "timings")
                       if k in d},
        "details": {"backbone": d.get("backbone"), "taps": d.get("taps"), "tta": d.get("tta", True),
                    "config": d.get("config", {})},
    }
