"""A linear pipeline's compiled form: ``model.compiled.safetensors``, written next to the skops file.

A logistic regression on our preprocessing (:func:`~._prep.make_preprocessor`) is, once fitted, a few arrays:
the numerics' fill values, means and scales, the one-hot categories, the coefficients and intercepts.
:func:`write_compiled` stores them as float64 tensors in a safetensors file whose one metadata entry,
``workbench``, is a small JSON object (format, model, the columns and categories, the estimator's classes); the card
lists the file with its sha256 and names it in ``details.compiled``. :func:`read_compiled` builds the same
:class:`~._scorer.LinearScorer` ``predict_records`` uses from those arrays alone: serving such a folder imports
neither scikit-learn nor skops (about 2 s of a cold start).

The file is untrusted input like the rest of the folder: its size is bounded before it is opened, the JSON has
an exact key set and types, it must name the card's numeric and categorical columns in the card's order and exactly
the card's classes, the tensors must be exactly the expected names, dtype (F64) and shapes
(derived from the JSON, within :data:`MAX_WIDTH`), every number finite and every scale non-zero; anything else
is refused with one line naming the problem. Other models (trees, boosting, CatBoost, ensembles, regressions)
compile to nothing and keep the skops path, as do folders saved before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..core.io import atomic_write_bytes
from ..errors import ModelError
from ..models import ModelCard
from ._scorer import LinearScorer, Preprocessor

COMPILED = "model.compiled.safetensors"
FORMAT = 1
MAX_BYTES = 256 << 20
"""A compiled file over this size is refused before it is opened (Telco's: 4 KB)."""
MAX_WIDTH = 1 << 20
"""At most this many features after one-hot encoding (and classes: :data:`MAX_CLASSES`)."""
MAX_CLASSES = 1000
_SPEC_KEYS = {"format", "model", "numeric", "categorical", "categories", "classes", "center", "scale"}
_FIX = "fix: re-save the model (tabular.save), or delete the file and its details.compiled entry from model.json"


def _refuse(where: Any, why: str) -> ModelError:
    return ModelError(f"{where}: compiled model refused: {why}; {_FIX}")


# ----------------------------------------------------------------------------------------------- writing
def compile_linear(model: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The tensors and JSON spec of a fitted ``TabularModel`` whose estimator is our preprocessing + a
    ``LogisticRegression`` (classification), or None for any other model."""
    from sklearn.linear_model import LogisticRegression

    from ._scorer import _steps, compile_preprocessor

    if model.regression or len(model.classes) > MAX_CLASSES:
        return None
    steps = _steps(model.estimator)
    if steps is None or type(steps[1]) is not LogisticRegression:
        return None
    prep = compile_preprocessor(steps[0], model.numeric, model.categorical)
    final = steps[1]
    if prep is None or getattr(final, "n_features_in_", None) != prep.width or prep.width > MAX_WIDTH:
        return None
    native = [c.item() if isinstance(c, np.generic) else c for c in final.classes_]
    if not all(type(c) in (str, int, bool) for c in native) or not all(c in native for c in model.classes):
        return None
    tensors = {"fill": np.asarray(prep.fill, dtype=np.float64), "coef": np.asarray(final.coef_, dtype=np.float64),
               "intercept": np.asarray(final.intercept_, dtype=np.float64)}
    if prep.mean is not None:
        tensors["mean"] = np.asarray(prep.mean, dtype=np.float64)
    if prep.scale is not None:
        tensors["scale"] = np.asarray(prep.scale, dtype=np.float64)
    if not all(np.isfinite(a).all() for a in tensors.values()) or ("scale" in tensors and (tensors["scale"] == 0).any()):
        return None
    spec = {"format": FORMAT, "model": "logistic", "numeric": list(prep.numeric), "categorical": list(prep.categorical),
            "categories": [list(c) for c in prep.categories], "classes": native,
            "center": prep.mean is not None, "scale": prep.scale is not None}
    return {k: np.ascontiguousarray(v) for k, v in tensors.items()}, spec


def write_compiled(model: Any, folder: Path) -> str | None:
    """Write ``model``'s compiled form into ``folder`` (atomically) and return its file name, or None when
    the model does not compile (nothing written)."""
    built = compile_linear(model)
    if built is None:
        return None
    from safetensors.numpy import save

    tensors, spec = built
    atomic_write_bytes(folder / COMPILED, save(tensors, metadata={"workbench": json.dumps(spec)}))
    return COMPILED


# ----------------------------------------------------------------------------------------------- reading
def compiled_file(card: ModelCard, where: Any) -> str | None:
    """The compiled file a card names (``details.compiled``), checked against its files; None when it has none."""
    entry = card.details.get("compiled")
    if entry is None:
        return None
    if entry != {"file": COMPILED, "format": FORMAT} or COMPILED not in card.files:
        raise _refuse(where, f"details.compiled must be {{'file': {COMPILED!r}, 'format': {FORMAT}}} naming one of "
                             f"the card's files, got {str(entry)[:200]}")
    if card.flavor != "skops" or len(card.files) != 2 or card.task not in ("binary", "multiclass"):
        raise _refuse(where, "only a classifier saved as one skops file has a compiled form")
    return COMPILED


def _names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value) and len(set(value)) == len(value)


def _spec(meta: dict[str, str] | None, card: ModelCard, where: Any) -> dict[str, Any]:
    """The JSON spec of a compiled file, checked key by key against the card."""
    if not meta or set(meta) != {"workbench"}:
        raise _refuse(where, f"its metadata must hold exactly the key 'workbench', got {sorted(meta or {})[:10]}")
    try:
        spec = json.loads(meta["workbench"])
    except (ValueError, RecursionError) as e:  # nested a million deep: not JSON we read
        raise _refuse(where, f"its metadata is not JSON ({type(e).__name__}: {str(e)[:100]})") from None
    if not isinstance(spec, dict) or set(spec) != _SPEC_KEYS:
        got = sorted(spec)[:20] if isinstance(spec, dict) else type(spec).__name__
        raise _refuse(where, f"its spec must have exactly the keys {sorted(_SPEC_KEYS)}, got {got}")
    if type(spec["format"]) is not int or spec["format"] != FORMAT or spec["model"] != "logistic":
        raise _refuse(where, f"unknown format {spec['format']!r} or model {spec['model']!r} (expected {FORMAT}, 'logistic')")
    table = card.input_schema
    if spec["numeric"] != list(table.numeric) or spec["categorical"] != list(table.categorical):
        raise _refuse(where, "its columns disagree with the card's input schema (numeric and categorical, in order)")
    cats = spec["categories"]
    if not isinstance(cats, list) or len(cats) != len(spec["categorical"]) or not all(_names(c) for c in cats):
        raise _refuse(where, "categories must be one list of distinct strings per categorical column")
    native = spec["classes"]
    if not isinstance(native, list) or not all(type(c) in (str, int, bool) for c in native) or len(native) > MAX_CLASSES:
        raise _refuse(where, "classes must be a list of the estimator's class labels (text, integers or booleans)")
    if type(spec["center"]) is not bool or type(spec["scale"]) is not bool:
        raise _refuse(where, "center and scale must be true or false")
    return spec


def _shapes(spec: dict[str, Any], k: int, where: Any) -> dict[str, tuple[int, ...]]:
    """The exact tensor names and shapes a spec implies."""
    n = len(spec["numeric"])
    width = n + sum(len(c) for c in spec["categories"])
    if width > MAX_WIDTH or k > MAX_CLASSES:
        raise _refuse(where, f"{width} features and {k} classes exceed the limits ({MAX_WIDTH} and {MAX_CLASSES})")
    rows = 1 if k == 2 else k
    out = {"fill": (n,), "coef": (rows, width), "intercept": (rows,)}
    out.update({name: (n,) for name in ("mean", "scale") if spec["center" if name == "mean" else "scale"]})
    return out


def read_compiled(path: Path, card: ModelCard) -> LinearScorer:
    """The scorer a compiled file holds, after every check of the module docstring (ModelError otherwise)."""
    from safetensors import SafetensorError, safe_open

    where = str(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise _refuse(where, f"{size:,} bytes is over the limit of {MAX_BYTES:,}")
    try:
        with safe_open(where, framework="numpy") as f:
            spec = _spec(f.metadata(), card, where)
            shapes = _shapes(spec, len(card.classes), where)
            got = {name: (f.get_slice(name).get_dtype(), tuple(f.get_slice(name).get_shape())) for name in f.keys()}
            want = {name: ("F64", shape) for name, shape in shapes.items()}
            if got != want:
                raise _refuse(where, f"tensors must be exactly {want} (float64), got {dict(list(got.items())[:10])}")
            arrays = {name: f.get_tensor(name) for name in shapes}
    except ModelError:
        raise
    except (SafetensorError, OSError, ValueError) as e:
        raise _refuse(where, f"not a readable safetensors file ({str(e)[:200]})") from None
    bad = [name for name, a in arrays.items() if not np.isfinite(a).all()]
    if bad or ("scale" in arrays and (arrays["scale"] == 0).any()):
        raise _refuse(where, f"non-finite numbers in {', '.join(bad) or 'scale'} (or a zero scale)")
    prep = Preprocessor(spec["numeric"], arrays["fill"], arrays.get("mean"), arrays.get("scale"), spec["categorical"],
                        [{v: j for j, v in enumerate(c)} for c in spec["categories"]])
    return LinearScorer(prep, arrays["coef"], arrays["intercept"], _order(spec["classes"], card, path))


def _order(native: list, card: ModelCard, path: Path) -> list[int]:
    """The position of each of the card's classes among the estimator's (the card's must be exactly those)."""
    own = list(card.classes)
    if len(own) != len(native) or not all(any(c == o and type(c) is type(o) for o in native) for c in own):
        raise ModelError(f"{path.parent / 'model.json'}: the card's classes {own} disagree with the estimator's "
                         f"{native}; refusing the model")
    return [next(j for j, o in enumerate(native) if c == o and type(c) is type(o)) for c in own]

