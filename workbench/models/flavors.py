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
import math
import os
import zipfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import ModelError
from ._skops_import import skops_io
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
MAX_SCHEMA_DEPTH = 200
"""How deep a skops schema may nest (scikit-learn pipelines of our registry: about 30 levels)."""
MAX_SCHEMA_ITEMS = 2_000_000
"""How many JSON values a skops schema may hold (a random forest of 100 trees: about 70,000)."""
MAX_MEMBERS = 100_000
MIN_UNZIPPED = 256 << 20
MAX_EXPANSION = 100
MAX_UNZIPPED = 8 << 30
"""An archive (skops, ``.npz``) may declare at most ``max(MIN_UNZIPPED, MAX_EXPANSION x its size)`` bytes
uncompressed, and never more than ``MAX_UNZIPPED``: workbench's skops files are stored uncompressed and
its ``.npz`` files compress about 3-30 times, while a decompression bomb expands about 1000 times."""


def _refuse(path: str | Path, why: str) -> ModelError:
    return ModelError(f"{str(path)!r} {why}; refusing it before decompressing anything (a damaged file or a "
                      "decompression bomb); fix: re-save the model")


def check_archive(path: str | Path, z: zipfile.ZipFile) -> None:
    """Refuse a zip archive (skops, ``.npz``) from its headers alone: too many members, more bytes declared
    than its size allows (see :data:`MAX_UNZIPPED`), or an ``.npy`` member whose header's shape x dtype
    disagrees with the member's size or holds Python objects."""
    infos = z.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _refuse(path, f"holds {len(infos)} files (at most {MAX_MEMBERS})")
    size = os.path.getsize(path)
    total = sum(i.file_size for i in infos)
    budget = min(MAX_UNZIPPED, max(MIN_UNZIPPED, MAX_EXPANSION * size))
    if total > budget:
        raise _refuse(path, f"declares {total / 2**20:.0f} MiB uncompressed from {size / 2**20:.1f} MiB (at most "
                            f"{budget / 2**20:.0f} MiB for a file of this size)")
    for info in infos:
        if info.filename.endswith(".npy"):
            _check_npy(path, z, info)


def _check_npy(path: str | Path, z: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """An ``.npy`` member's header (read alone, a few hundred bytes) must account for its size exactly."""
    import numpy as np
    from numpy.lib import format as npy

    try:
        with z.open(info) as f:
            version = npy.read_magic(f)
            reader = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}.get(version)
            if reader is None:
                raise ValueError(f"npy format version {version} is not one workbench writes")
            shape, _, dtype = reader(f, max_header_size=10_000)
            start = f.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, SyntaxError, TypeError) as e:
        raise _refuse(path, f"holds an array {info.filename!r} whose header is not readable ({e})") from None
    if dtype.hasobject:
        raise _refuse(path, f"holds an array of Python objects ({info.filename!r})")
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    if start + nbytes != info.file_size:
        raise _refuse(path, f"holds an array {info.filename!r} whose header declares {shape} {dtype} "
                            f"({nbytes} bytes) in {info.file_size - start} bytes")


def _schema(path: str | Path) -> Any:
    """The parsed ``schema.json`` of a skops file, its archive checked first."""
    try:
        with zipfile.ZipFile(path) as z:
            check_archive(path, z)
            info = z.getinfo("schema.json")
            if info.file_size > MAX_SCHEMA_BYTES:
                raise ModelError(f"{str(path)!r}: schema.json is over {MAX_SCHEMA_BYTES >> 20} MiB; refusing it")
            return json.loads(z.read(info).decode("utf-8"))
    except ModelError:
        raise
    except RecursionError:
        raise ModelError(f"{str(path)!r}: schema.json nests too deeply to be a model; refusing it") from None
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, ValueError, OSError) as e:
        raise ModelError(f"{str(path)!r} is not a readable skops file ({type(e).__name__}: {e}); it is damaged or "
                         "not a model; fix: re-save the model") from None


def skops_nodes(path: str | Path) -> Iterator[str]:
    """Every node of a skops file as ``"<NodeKind> <module>.<name>"`` (from its schema, nothing loaded);
    a schema nested over :data:`MAX_SCHEMA_DEPTH` levels or over :data:`MAX_SCHEMA_ITEMS` values is refused."""
    stack: list[tuple[Any, int]] = [(_schema(path), 1)]
    items = 0
    while stack:
        node, depth = stack.pop()
        items += 1
        if depth > MAX_SCHEMA_DEPTH or items > MAX_SCHEMA_ITEMS:
            raise ModelError(f"{str(path)!r}: schema.json nests over {MAX_SCHEMA_DEPTH} levels or holds over "
                             f"{MAX_SCHEMA_ITEMS} values: not a model workbench saved; refusing it")
        if isinstance(node, dict):
            if "__loader__" in node:
                yield f"{node.get('__loader__')} {node.get('__module__')}.{node.get('__class__')}"
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def untrusted_skops_nodes(path: str | Path, allowed: Iterable[str]) -> list[str]:
    """The nodes of a skops file that neither ``allowed`` nor :data:`SKOPS_DATA_NODES` list exactly
    (``"<NodeKind> <module>.<name>"``): every type, function or method reference must be listed."""
    allowed = set(allowed) | SKOPS_DATA_NODES
    return sorted({node for node in skops_nodes(path) if node not in allowed})


def check_skops(path: str | Path, allowed: Iterable[str]) -> set[str]:
    """The nodes of a skops file, each on the exact ``allowed`` list (ModelError naming the others), read from
    its schema without importing skops (a compiled tabular folder checks its skops file this way at load)."""
    nodes = set(skops_nodes(path))
    bad = sorted(nodes - set(allowed) - SKOPS_DATA_NODES)
    if bad:
        raise ModelError(f"{str(path)!r} contains types outside the allow-list: {', '.join(bad)}; refusing to "
                         "load it (nothing was run); only models saved by workbench's own pipelines load; fix: "
                         "re-create the model with a workbench notebook")
    return nodes


def load_skops(path: str | Path, allowed: Iterable[str]) -> Any:
    """A scikit-learn object from a skops file whose every node is on the exact ``allowed`` list, every
    tree in it checked (:func:`~workbench.models._trees.check_trees`). skops is imported only once the
    file passed (importing it costs seconds and hundreds of MB)."""
    nodes = check_skops(path, allowed)
    try:
        obj = skops_io().load(path, trusted=sorted({n.partition(" ")[2] for n in nodes}))
    except Exception as e:  # a damaged file: every error becomes one clear message
        raise ModelError(f"{str(path)!r} could not be loaded by skops ({type(e).__name__}: {e}); fix: re-save "
                         "the model") from None
    check_trees(obj, repr(str(path)))  # scikit-learn's tree code trusts its node arrays: check them first
    return obj


def save_skops(obj: Any, path: str | Path) -> None:
    skops_io().dump(obj, path)


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
    """Named numpy arrays from an ``.npz`` file, never unpickling (object arrays are refused); its
    declared sizes are checked first (:func:`check_archive`)."""
    import numpy as np

    try:
        with zipfile.ZipFile(path) as archive:
            check_archive(path, archive)
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ModelError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise ModelError(f"{str(path)!r} is not a readable array file ({e}); fix: re-save the model") from None
