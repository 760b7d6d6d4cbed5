"""The recommender interface, the model registry, and the array checks every saved model goes through.

A fitted :class:`Recommender` scores every item for each row of a :class:`History`; ``arrays()`` is all
it needs to score again (saved with numpy, no pickle), and ``set_arrays()`` takes them back from an
untrusted file, checking every dtype, shape and index range first (:func:`checked`).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Iterator

import numpy as np

from ..core.registry import Registry
from ..errors import ModelError
from ._history import History, ProfileSpec


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    import scipy.linalg  # noqa: F401 - loads scipy's own OpenBLAS, so that it is controlled too
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # scanning the loaded libraries takes ~10 ms: once per process


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS on one thread inside the block: many small products (one user's request, per-user solves)
    run faster without thread start-up and, on a busy machine, without threads spinning for cores."""
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


@dataclass
class FitContext:
    """What fitting may use besides the interactions: item text (content model), seed, threads."""

    item_text: list[str] | None = None
    seed: int = 0
    threads: int = 1


class Recommender:
    """A recommender: ``fit(history, ctx)`` then ``score(history)`` → ``(rows, n_items)`` float32 scores.

    Subclasses set ``key`` (registry name), ``defaults`` (hyperparameters), ``grid`` (the candidates
    tried on validation; with ``ordered_grid`` the search stops at the first candidate that does worse
    than the one before) and implement ``_fit``, ``score``, ``arrays`` and ``set_arrays``. ``profile``
    (a :class:`ProfileSpec`) says how a history becomes weights; it is tuned on validation when
    ``tune_profile`` is true.
    """

    key: ClassVar[str] = ""
    description: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    grid: ClassVar[list[dict[str, Any]]] = [{}]
    tune_profile: ClassVar[bool] = True
    collaborative: ClassVar[bool] = True
    ordered_grid: ClassVar[bool] = False

    def __init__(self, **params: Any):
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ModelError(f"{self.key}: unknown parameter(s) {', '.join(unknown)}; valid: "
                             f"{', '.join(self.defaults) or 'none'}")
        self.params = {**self.defaults, **params}
        self.profile = ProfileSpec()
        self.n_items = 0

    def fit(self, train: History, ctx: FitContext | None = None) -> "Recommender":
        """Fit on ``train`` (BLAS on one thread: on two shared cores OpenBLAS's threads made EASE's
        Cholesky and the SVD 2-4x slower, spinning for cores; ALS parallelizes over users itself)."""
        self.n_items = train.n_items
        with single_threaded_blas():
            self._fit(train, ctx or FitContext())
        return self

    def _fit(self, train: History, ctx: FitContext) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, hist: History) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def derive(self, params: dict[str, Any]) -> "Recommender | None":
        """This fitted model with other ``params`` if it can be had without refitting (fewer factors or
        neighbors), else None. Tuning uses it to skip fits."""
        return None

    def arrays(self) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def set_arrays(self, arrays: dict[str, np.ndarray], n_items: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """What a saved model's card records to rebuild this recommender (JSON: name, params, profile)."""
        return {"model": self.key, "params": dict(self.params), "profile": self.profile.to_dict()}

    def set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray], n_items: int) -> None:
        """Take back the profile and arrays of :meth:`state` (``restore`` checked the rest)."""
        self.profile = ProfileSpec.from_dict(state.get("profile", {}))
        self.set_arrays(arrays, n_items)

    def settings(self) -> str:
        """Hyperparameters and profile, one line."""
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return "; ".join(filter(None, [params, self.profile.label() if self.tune_profile else ""]))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.settings()}>"


MODELS: Registry[type] = Registry("recommender", "workbench.recommenders", ModelError,
                                  aliases={"itemknn": "item_knn", "knn": "item_knn", "pop": "popularity",
                                           "most_popular": "popularity", "puresvd": "svd", "tfidf": "content"})
DEFAULT_MODELS = ["popularity", "item_knn", "svd", "als", "ease", "content", "hybrid"]


def model_names() -> list[str]:
    """Registered recommenders: the built-in ones in :data:`DEFAULT_MODELS` order, then plug-ins."""
    names = MODELS.names()
    return [m for m in DEFAULT_MODELS if m in names] + sorted(m for m in names if m not in DEFAULT_MODELS)


def validate_models(models: Any) -> list[str]:
    """Registry names for ``models`` (a list or a comma-separated string); unknown names are an error
    that lists the valid ones."""
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",") if m.strip()]
    if not models:
        raise ModelError(f"no models given; valid models: {', '.join(model_names())}")
    out: list[str] = []
    for m in models:
        try:
            name = MODELS.resolve(str(m))
        except ModelError:
            raise ModelError(f"unknown recommender {m!r}; valid models: {', '.join(model_names())}") from None
        if name not in out:
            out.append(name)
    return out


def build(name: str, **params: Any) -> Recommender:
    """A new, unfitted recommender of the registered ``name``."""
    return MODELS.get(name)(**params)


def restore(state: Any, arrays: dict[str, np.ndarray], n_items: int, where: str = "model.json") -> Recommender:
    """A fitted recommender from its :meth:`Recommender.state` and arrays, everything checked first."""
    if not isinstance(state, dict) or not isinstance(state.get("model"), str) or not isinstance(
            state.get("params", {}), dict):
        raise ModelError(f"{where}: details.recommender must be an object with a model name and params, got {state!r}")
    params = state.get("params", {})
    for k, v in params.items():
        if not isinstance(v, (str, int, float, bool, type(None))):
            raise ModelError(f"{where}: parameter {k!r} of {state['model']} must be a number or text, got {v!r}")
    try:
        model = build(state["model"], **params)
    except ModelError as e:
        raise ModelError(f"{where}: {e}") from None
    model.set_state(state, arrays, n_items)
    model.n_items = n_items
    return model


# ------------------------------------------------------------------------------------ array checks
def checked(arrays: dict[str, np.ndarray], key: str, kind: str, ndim: int, shape: tuple | None = None,
            bound: int | None = None, where: str = "model.npz", allow_nan: bool = False) -> np.ndarray:
    """``arrays[key]`` if it exists with dtype kind ``kind`` (``f`` float, ``i`` integer, ``U`` text),
    ``ndim`` dimensions, ``shape`` (None entries free), finite values (NaN too with ``allow_nan``),
    and integers in ``[0, bound)``."""
    if key not in arrays:
        raise ModelError(f"{where} lacks the array {key!r}; the model folder is incomplete; fix: re-save the model")
    a = arrays[key]
    kinds = {"f": "f", "i": "iu", "U": "U"}[kind]
    if a.dtype.kind not in kinds or a.ndim != ndim:
        what = {"f": "float", "i": "integer", "U": "text"}[kind]
        raise ModelError(f"{where}: array {key!r} must be a {ndim}-d {what} array, got {a.ndim}-d {a.dtype}; "
                         "refusing the model")
    if shape is not None and any(s is not None and s != d for s, d in zip(shape, a.shape)):
        raise ModelError(f"{where}: array {key!r} has shape {a.shape}, expected "
                         f"{tuple('*' if s is None else s for s in shape)}; refusing the model")
    if kind == "f" and a.size and not (np.isfinite(a) | (allow_nan & np.isnan(a))).all():
        raise ModelError(f"{where}: array {key!r} holds NaN or infinite values; refusing the model")
    if kind == "i" and bound is not None and a.size and (a.min() < 0 or a.max() >= bound):
        raise ModelError(f"{where}: array {key!r} holds indices outside [0, {bound}); refusing the model")
    return a


def checked_csr(arrays: dict[str, np.ndarray], prefix: str, shape: tuple[int, int], where: str = "model.npz"):
    """A CSR matrix from ``<prefix>_data/_indices/_indptr`` arrays, each checked (see :func:`checked`)."""
    import scipy.sparse as sp

    indptr = checked(arrays, f"{prefix}_indptr", "i", 1, (shape[0] + 1,), where=where)
    indices = checked(arrays, f"{prefix}_indices", "i", 1, None, shape[1], where=where)
    data = checked(arrays, f"{prefix}_data", "f", 1, (len(indices),), where=where)
    if indptr[0] != 0 or indptr[-1] != len(indices) or np.any(np.diff(indptr) < 0):
        raise ModelError(f"{where}: {prefix}_indptr is not a valid CSR offset array; refusing the model")
    return sp.csr_matrix((data.astype(np.float32), indices.astype(np.int32), indptr.astype(np.int64)), shape=shape)


def csr_arrays(prefix: str, m: Any) -> dict[str, np.ndarray]:
    """The CSR component arrays of ``m`` under ``prefix``."""
    m = m.tocsr()
    return {f"{prefix}_data": m.data.astype(np.float32), f"{prefix}_indices": m.indices.astype(np.int32),
            f"{prefix}_indptr": m.indptr.astype(np.int64)}
