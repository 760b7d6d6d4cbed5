"""How model weights are stored, and deserialized safely: skops, CatBoost, safetensors, numpy arrays.

Every reader here takes a file that :func:`workbench.models.verify` has already checked against its
card. Hashes catch accidents, not attackers (who rewrite the card too), so the readers themselves
trust nothing: skops files are read node by node and refused unless every node's kind and type is on
the caller's exact allow-list (no prefixes, no function references), and every tree in what they hold
is checked before it can predict (:mod:`._trees`); safetensors and ``.npz`` files
hold plain arrays (``allow_pickle=False``); CatBoost's format holds no code.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import ModelError
from ._trees import check_trees

_BUILTIN_DATA = ("dict", "list", "tuple", "str", "int", "float", "bool", "NoneType", "slice")
_NUMPY_DTYPES = ("ndarray", "float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint64", "uint32",
                 "uint16", "uint8", "bool_", "bool", "object_", "str_", "bytes_", "intp", "complex128")
# plain data every skops file of a scikit-learn object consists of (numpy scalars, arrays, dtypes)
SKOPS_DATA_NODES = frozenset(
    [f"{kind} builtins.{t}" for kind in ("DictNode", "ListNode", "TupleNode", "JsonNode", "TypeNode")
     for t in _BUILTIN_DATA]
    + [f"{kind} numpy.{t}" for kind in ("NdArrayNode", "DTypeNode", "TypeNode") for t in _NUMPY_DTYPES]
    + ["SliceNode builtins.slice", "DTypeNode numpy.dtype", "TypeNode numpy.dtype"]
)
MAX_SCHEMA_BYTES = 64 << 20


def skops_nodes(path: str | Path) -> Iterator[str]:
    """Every node of a skops file as ``"<NodeKind> <module>.<name>"`` (from its schema, nothing loaded)."""
    try:
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("schema.json")
            if info.file_size > MAX_SCHEMA_BYTES:
                raise ModelError(f"{str(path)!r}: schema.json is over {MAX_SCHEMA_BYTES >> 20} MiB; refusing it")
            schema = json.loads(z.read(info).decode("utf-8"))
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, ValueError, OSError) as e:
        raise ModelError(f"{str(path)!r} is not a readable skops file ({type(e).__name__}: {e}); it is damaged or "
                         "not a model; fix: re-save the model") from None
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__loader__" in node:
                yield f"{node.get('__loader__')} {node.get('__module__')}.{node.get('__class__')}"
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def untrusted_skops_nodes(path: str | Path, allowed: Iterable[str]) -> list[str]:
    """The nodes of a skops file that neither ``allowed`` nor :data:`SKOPS_DATA_NODES` list exactly
    (``"<NodeKind> <module>.<name>"``): every type, function or method reference must be listed."""
    allowed = set(allowed) | SKOPS_DATA_NODES
    return sorted({node for node in skops_nodes(path) if node not in allowed})


def load_skops(path: str | Path, allowed: Iterable[str]) -> Any:
    """A scikit-learn object from a skops file whose every node is on the exact ``allowed`` list."""
    import skops.io as sio

    allowed = set(allowed)
    bad = untrusted_skops_nodes(path, allowed)
    if bad:
        raise ModelError(f"{str(path)!r} contains types outside the allow-list: {', '.join(bad)}; refusing to "
                         "load it (nothing was run); only models saved by workbench's own pipelines load; fix: "
                         "re-create the model with a workbench notebook")
    try:
        trusted = sorted({n.partition(" ")[2] for n in skops_nodes(path)})
        obj = sio.load(path, trusted=trusted)
    except Exception as e:  # a damaged file: every error becomes one clear message
        raise ModelError(f"{str(path)!r} could not be loaded by skops ({type(e).__name__}: {e}); fix: re-save "
                         "the model") from None
    check_trees(obj, repr(str(path)))  # scikit-learn's tree code trusts its node arrays: check them first
    return obj


def save_skops(obj: Any, path: str | Path) -> None:
    import skops.io as sio

    sio.dump(obj, path)


def load_catboost(path: str | Path, classifier: bool = True) -> Any:
    """A CatBoost model from its native ``.cbm`` file."""
    from catboost import CatBoostClassifier, CatBoostError, CatBoostRegressor

    model = CatBoostClassifier() if classifier else CatBoostRegressor()
    try:
        model.load_model(str(path), format="cbm")
    except (CatBoostError, OSError, ValueError) as e:
        raise ModelError(f"{str(path)!r} is not a readable CatBoost model ({e}); fix: re-save the model") from None
    return model


def load_safetensors(path: str | Path) -> dict[str, Any]:
    """A torch state dict from a safetensors file (tensors only, no code)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelError(f"{str(path)!r} is not a readable safetensors file ({e}); fix: re-save the model") from None


def save_safetensors(state: dict[str, Any], path: str | Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(path), metadata={"format": "pt"})


def load_arrays(path: str | Path) -> dict[str, Any]:
    """Named numpy arrays from an ``.npz`` file, never unpickling (object arrays are refused)."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise ModelError(f"{str(path)!r} is not a readable array file ({e}); fix: re-save the model") from None
