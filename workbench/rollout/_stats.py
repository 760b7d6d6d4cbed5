"""Fixed-sample statistics of a rollout: the sample-ratio-mismatch check, intervals for one variant's
metric, the paired bootstrap of a shadow comparison, latency quantiles."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ParameterError

SRM_ALPHA = 0.001  # the usual threshold: an SRM test runs on every experiment, false alarms must stay rare


@dataclass(frozen=True)
class SRMResult:
    """Sample-ratio-mismatch check: the assignment counts against the configured shares (chi-square
    goodness of fit). ``flagged`` when ``p_value < alpha``: the assignment or the logging is broken
    and no comparison of the variants can be trusted."""

    names: tuple[str, ...]
    counts: tuple[int, ...]
    shares: tuple[float, ...]
    statistic: float
    p_value: float
    alpha: float = SRM_ALPHA

    @property
    def flagged(self) -> bool:
        return bool(self.p_value < self.alpha)

    @property
    def observed_shares(self) -> tuple[float, ...]:
        total = sum(self.counts)
        return tuple(c / total for c in self.counts)

    def describe(self) -> str:
        seen = ", ".join(f"{n} {c:,} ({s:.2%}, expected {e:.2%})"
                         for n, c, s, e in zip(self.names, self.counts, self.observed_shares, self.shares))
        verdict = "SAMPLE RATIO MISMATCH" if self.flagged else "no sample ratio mismatch"
        return (f"{verdict}: {seen}; chi-square {self.statistic:.3g}, p = {self.p_value:.3g} "
                f"(flagged below {self.alpha:g})")


def srm_test(counts: Mapping[str, int] | Sequence[int], shares: Sequence[float], alpha: float = SRM_ALPHA) -> SRMResult:
    """Chi-square goodness of fit of the observed assignment ``counts`` against the expected ``shares``.

    Parameters
    ----------
    counts : requests (or units) per variant, as a mapping name -> count or a sequence.
    shares : the configured share of each variant, in the same order; they must add up to 1.
    alpha : flag a mismatch below this p-value (default 0.001).
    """
    from scipy.stats import chisquare

    names = tuple(str(k) for k in counts) if isinstance(counts, Mapping) else tuple(f"v{i}" for i in range(len(counts)))
    values = list(counts.values()) if isinstance(counts, Mapping) else list(counts)
    shares = [float(s) for s in shares]
    if len(values) != len(shares) or len(values) < 2:
        raise ParameterError(f"srm_test needs one share per variant (at least two): {len(values)} counts, "
                             f"{len(shares)} shares")
    if any(isinstance(c, bool) or not float(c).is_integer() or c < 0 for c in values) or sum(values) <= 0:
        raise ParameterError(f"counts must be whole numbers >= 0 with a positive total, got {values}")
    if any(not 0 < s < 1 for s in shares) or not math.isclose(sum(shares), 1.0, abs_tol=1e-9):
        raise ParameterError(f"shares must lie in (0, 1) and add up to 1, got {shares}")
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must lie in (0, 1), got {alpha!r}")
    total = float(sum(values))
    res = chisquare(np.asarray(values, dtype=float), f_exp=np.asarray(shares) * total)
    return SRMResult(names, tuple(int(c) for c in values), tuple(shares), float(res.statistic), float(res.pvalue),
                     float(alpha))


def mean_interval(values: Any, level: float = 0.95) -> tuple[float, float, float]:
    """The mean of ``values`` and its normal (central limit) interval, ``mean +- z * sd / sqrt(n)``."""
    from scipy.stats import norm

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    half = float(norm.ppf(0.5 + level / 2) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def paired_bootstrap(a: Any, b: Any, *, root: bool = False, n_resamples: int = 2000, level: float = 0.95,
                     seed: int = 0) -> tuple[float, float, float]:
    """``mean(b) - mean(a)`` over paired per-request values, with a paired percentile-bootstrap interval.

    The same requests are resampled for both (the pairing keeps their correlation, which makes the
    interval much narrower than two independent ones). ``root``: compare ``sqrt(mean)`` instead (RMSE
    from squared errors).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ParameterError(f"paired values need the same length: {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    f = np.sqrt if root else (lambda v: v)
    if len(a) == 0:
        return math.nan, math.nan, math.nan
    estimate = float(f(b.mean()) - f(a.mean()))
    rng = np.random.default_rng(seed)
    n, chunk, diffs = len(a), max(1, min(n_resamples, 20_000_000 // max(len(a), 1))), []
    for start in range(0, n_resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_resamples - start), n))
        diffs.append(f(b[idx].mean(axis=1)) - f(a[idx].mean(axis=1)))
    d = np.concatenate(diffs)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(d, [tail, 100 - tail])
    return estimate, float(lo), float(hi)


def latency_quantiles(latency_ms: Any) -> tuple[float, float]:
    """p50 and p99 of latencies in milliseconds (NaN when there are none)."""
    x = np.asarray(latency_ms, dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return math.nan, math.nan
    p50, p99 = np.quantile(x, [0.5, 0.99])
    return float(p50), float(p99)
