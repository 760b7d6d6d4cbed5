"""Thresholds of the drift checks: one place, validated, overridable per key."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from ..errors import ParameterError

_ALIASES = {"alpha": "p_value", "p": "p_value", "ks": "p_value", "chi2": "p_value", "chi_square": "p_value",
            "wasserstein_norm": "wasserstein", "js": "jensen_shannon", "jensenshannon": "jensen_shannon",
            "missing": "missing_share", "new_category": "new_categories", "auc": "domain_auc",
            "domain": "domain_auc"}


@dataclass(frozen=True)
class Thresholds:
    """When a check flags drift.

    Attributes
    ----------
    p_value : level of the two-sample tests (KS for numbers, chi-square for categories), after a
        Benjamini-Hochberg correction over the compared columns: on tables without drift, the
        chance that any column is flagged stays near this level.
    wasserstein : normalised Wasserstein distance (in reference standard deviations) at or above
        which a numeric column drifted, on large samples.
    jensen_shannon : Jensen-Shannon distance (natural log, 0 to 0.83) at or above which a
        categorical column drifted, on large samples. 0.05 is about as sensitive as 0.1 of
        normalised Wasserstein; 0.1 (Evidently's default) misses a 13-point move of one
        category's share.
    psi : population stability index shown as a major shift (PSI is reported, it does not decide).
    missing_share : change of the share of missing values (absolute, e.g. 0.02 = 2 points) that
        flags a column, when the change is also significant.
    new_categories : share of current rows holding a category the reference never had that flags
        a column.
    domain_auc : ROC-AUC of the domain classifier at or above which the tables differ as a whole
        (its 95% interval must also exclude 0.5).
    small_sample : columns with at most this many values on either side are decided by the tests'
        p-values; larger ones by the distances (and the test must agree).
    """

    p_value: float = 0.05
    wasserstein: float = 0.1
    jensen_shannon: float = 0.05
    psi: float = 0.25
    missing_share: float = 0.02
    new_categories: float = 0.01
    domain_auc: float = 0.55
    small_sample: int = 1000

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | Thresholds | None) -> Thresholds:
        """Defaults overridden by ``values`` (keys as the attributes, or aliases such as ``alpha``,
        ``js``, ``auc``); unknown keys and out-of-range values are errors naming the valid ones."""
        if values is None:
            return cls()
        if isinstance(values, Thresholds):
            return values
        if not isinstance(values, Mapping):
            raise ParameterError(f"threshold must be a mapping of check to value, e.g. {{p_value: 0.01, wasserstein: "
                                 f"0.2}}; got {type(values).__name__} {values!r}")
        names = [f.name for f in fields(cls)]
        out: dict[str, Any] = {}
        for key, value in values.items():
            k = _ALIASES.get(str(key).strip().lower(), str(key).strip().lower())
            if k not in names:
                raise ParameterError(f"unknown threshold {key!r}; valid: {', '.join(names)}")
            out[k] = _checked(k, value)
        return cls(**out)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_BOUNDS = {"p_value": (0.0, 1.0, False), "domain_auc": (0.5, 1.0, True), "missing_share": (0.0, 1.0, True),
           "new_categories": (0.0, 1.0, True)}


def _checked(key: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"threshold {key!r} must be a number, got {type(value).__name__} {value!r}")
    if key == "small_sample":
        if value < 0 or int(value) != value:
            raise ParameterError(f"threshold 'small_sample' must be a whole number >= 0, got {value!r}")
        return int(value)
    lo, hi, closed = _BOUNDS.get(key, (0.0, math.inf, False))
    if not (lo < value and (value <= hi if closed else value < hi)):
        bounds = f"({lo:g}, {hi:g}{']' if closed else ')'}" if hi != math.inf else f"> {lo:g}"
        raise ParameterError(f"threshold {key!r} must be in {bounds}, got {value!r}")
    return float(value)
