"""The sequential test: a mixture sequential probability ratio test (mSPRT) with a normal mixture,
after Johari, Pekelis & Walsh (2017), "Always valid inference: bringing sequential analysis to A/B
testing" (arXiv:1512.04922; Operations Research 2022).

An estimate ``theta_hat`` of the difference (challenger minus champion, per-request metric) has
variance ``V``. Against ``H0: theta = 0``, mixing ``theta ~ N(0, tau^2)`` gives the likelihood ratio::

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 * theta_hat^2 / (2 V (V + tau^2)))

The always-valid p-value is the running minimum of ``min(1, 1 / Lambda)`` over the looks; rejecting
when it falls below ``alpha`` keeps the false-positive rate at most ``alpha`` however often one looks
(Ville's inequality). Inverting it gives a confidence sequence: the ``theta`` with
``Lambda(theta) < 1 / alpha``, ``theta_hat +- half_width``, intersected over the looks.

``tau`` is set in units of the per-request standard deviation (``tau_theta^2 = tau^2 * s^2`` with
``V = s^2 / N``), so ``Lambda`` depends on the z statistic and the sample size only. The variances are
plug-in estimates (paired: of the per-request differences; unpaired: Welch's ``s_a^2/n_a + s_b^2/n_b``);
the validity holds asymptotically, and :func:`peeking_simulation` checks it on the data at hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError

TAU = 0.05  # mixture sd in per-request sds: the boundary is lowest near N * tau^2 = 8, i.e. ~3,000 requests


def log_mixture_ratio(z: Any, n: Any, tau: float = TAU) -> np.ndarray:
    """``log Lambda`` of the normal-mixture SPRT from the z statistic and the sample size ``n``."""
    r = np.asarray(n, dtype=float) * tau * tau  # tau_theta^2 / V
    z = np.asarray(z, dtype=float)
    return -0.5 * np.log1p(r) + 0.5 * z * z * r / (1.0 + r)


def half_width(variance: Any, n: Any, tau: float = TAU, alpha: float = 0.05) -> np.ndarray:
    """Half-width of the always-valid confidence sequence at variance ``V`` of the estimate and size ``n``."""
    v = np.asarray(variance, dtype=float)
    r = np.asarray(n, dtype=float) * tau * tau
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(2.0 * v * (1.0 + r) / r * (math.log(1.0 / alpha) + 0.5 * np.log1p(r)))


def naive_p_value(z: Any) -> np.ndarray:
    """The fixed-horizon two-sided p-value of a z statistic (valid for one look only)."""
    from scipy.stats import norm

    return 2.0 * norm.sf(np.abs(np.asarray(z, dtype=float)))


def _check(tau: float, alpha: float) -> None:
    if not (isinstance(tau, (int, float)) and tau > 0):
        raise ParameterError(f"tau must be a number > 0 (the mixture sd, in per-request sds), got {tau!r}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ParameterError(f"alpha must lie in (0, 1), got {alpha!r}")


def msprt(estimate: Any, variance: Any, n: Any, tau: float = TAU, alpha: float = 0.05) -> dict[str, np.ndarray]:
    """The mSPRT over a sequence of looks (last axis): cumulative ``estimate``, its ``variance`` and the
    sample size ``n`` at each look.

    Returns arrays shaped like the inputs: ``z``, ``log_lr``, ``p_value`` (always valid: running
    minimum), ``low``/``high`` (confidence sequence: running intersection), ``naive_p`` (the
    fixed-horizon p-value at each look) and ``naive_low``/``naive_high`` (its interval). Looks
    without a usable variance (fewer than two requests per side, or zero variance) keep p = 1.
    """
    from scipy.stats import norm

    _check(tau, alpha)
    est, var, n = (np.asarray(x, dtype=float) for x in (estimate, variance, n))
    ok = np.isfinite(est) & np.isfinite(var) & (var > 0) & (n > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(ok, est / np.sqrt(np.where(ok, var, 1.0)), 0.0)
    log_lr = np.where(ok, log_mixture_ratio(z, np.where(ok, n, 1.0), tau), 0.0)
    p = np.minimum.accumulate(np.minimum(1.0, np.exp(-log_lr)), axis=-1)
    w = np.where(ok, half_width(np.where(ok, var, 1.0), np.where(ok, n, 1.0), tau, alpha), np.inf)
    low = np.maximum.accumulate(np.where(ok, est - w, -np.inf), axis=-1)
    high = np.minimum.accumulate(np.where(ok, est + w, np.inf), axis=-1)
    naive_half = norm.ppf(1 - alpha / 2) * np.sqrt(np.where(ok, var, np.inf))
    return {"z": z, "log_lr": log_lr, "p_value": p, "low": low, "high": high,
            "naive_p": np.where(ok, naive_p_value(z), 1.0), "naive_low": est - naive_half, "naive_high": est + naive_half}


def samples_needed(distance: float, unit_variance: float, n_now: int, tau: float = TAU, alpha: float = 0.05
                   ) -> int | None:
    """How many requests in all (labelled, in the current proportions) the confidence sequence needs to
    exclude a point ``distance`` away from the current estimate, if the estimate stays where it is.

    ``unit_variance`` is ``n * V`` (the per-request variance of the estimate). None when the distance is
    zero or more than a trillion requests would be needed. An estimate, not a promise: the estimate moves.
    """
    _check(tau, alpha)
    d = abs(float(distance))
    if d == 0 or not math.isfinite(d) or not unit_variance > 0:
        return None

    def width(n: float) -> float:
        return float(half_width(unit_variance / n, n, tau, alpha))

    lo, hi = max(float(n_now), 2.0), 1e12
    if width(lo) <= d:
        return int(math.ceil(lo))
    if width(hi) > d:
        return None
    for _ in range(200):  # the half-width falls monotonically with n: bisection on log n
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if width(mid) <= d else (mid, hi)
        if hi - lo < 1:
            break
    n = int(math.floor(lo))
    while width(n) > d:  # the smallest whole n on the right side
        n += 1
    return n


@dataclass(frozen=True)
class PeekingResult:
    """How often each test flagged a difference over simulated experiments looked at every day."""

    n_experiments: int
    days: int
    per_day: int
    effect: float
    alpha: float
    msprt_rate: float  # the mSPRT, looked at every day
    naive_rate: float  # the fixed-horizon test, looked at every day (and stopped at the first p < alpha)
    fixed_rate: float  # the fixed-horizon test, looked at once, on the last day
    msprt_sign_right: float  # among mSPRT detections: share whose sign is the planted effect's (nan for A/A)
    mean_stop_day: float  # mean day of the first mSPRT detection (nan when none)

    def describe(self) -> str:
        what = "A/A (no difference)" if self.effect == 0 else f"a planted difference of {self.effect:+.4g}"
        return (f"{self.n_experiments} simulated experiments, {what}, {self.days} daily looks of {self.per_day:,} "
                f"requests: mSPRT flags {self.msprt_rate:.1%}, the fixed-horizon test looked at daily flags "
                f"{self.naive_rate:.1%} (once, at the end: {self.fixed_rate:.1%}); alpha {self.alpha:g}")


def _daily_sums(x: np.ndarray, arm: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cumulative count, sum and sum of squares per experiment and day, for each arm."""
    out = []
    for mask in (~arm, arm):
        w = mask.astype(float)
        out += [np.cumsum(w.sum(-1), -1), np.cumsum((x * w).sum(-1), -1), np.cumsum((x * x * w).sum(-1), -1)]
    return tuple(out)


def unpaired_looks(n_a: Any, s_a: Any, q_a: Any, n_b: Any, s_b: Any, q_b: Any) -> tuple[np.ndarray, ...]:
    """Estimate (``mean_b - mean_a``), Welch variance and total size from cumulative counts, sums and
    sums of squares of both arms."""
    n_a, s_a, q_a, n_b, s_b, q_b = (np.asarray(v, dtype=float) for v in (n_a, s_a, q_a, n_b, s_b, q_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        m_a, m_b = s_a / n_a, s_b / n_b
        v_a = np.maximum(q_a - n_a * m_a * m_a, 0.0) / (n_a - 1)
        v_b = np.maximum(q_b - n_b * m_b * m_b, 0.0) / (n_b - 1)
        var = np.where((n_a >= 2) & (n_b >= 2), v_a / n_a + v_b / n_b, np.nan)
    return m_b - m_a, var, n_a + n_b


def peeking_simulation(values: Any, *, n_experiments: int = 200, days: int = 14, per_day: int = 500,
                       share: float = 0.5, effect: float = 0.0, tau: float = TAU, alpha: float = 0.05,
                       seed: int = 0) -> PeekingResult:
    """Simulate A/B experiments looked at once a day, vectorised: each request draws a per-request metric
    value from ``values`` (the champion's, say) and goes to the challenger with probability ``share``; the
    challenger's values are shifted by ``effect`` (0: an A/A test, two identical models).

    Returns the share of experiments in which the mSPRT, the fixed-horizon test applied every day and
    the fixed-horizon test applied once flag a difference at level ``alpha``.
    """
    _check(tau, alpha)
    pool = np.asarray(values, dtype=float)
    pool = pool[np.isfinite(pool)]
    if len(pool) < 2:
        raise ParameterError("peeking_simulation needs at least two finite per-request values")
    for name, v in (("n_experiments", n_experiments), ("days", days), ("per_day", per_day)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ParameterError(f"{name} must be a whole number >= 1, got {v!r}")
    if not 0 < share < 1:
        raise ParameterError(f"share must lie in (0, 1), got {share!r}")
    rng = np.random.default_rng(seed)
    flags, naive, stop_sign, stop_day = [], [], [], []
    chunk = max(1, 4_000_000 // (days * per_day))
    for start in range(0, n_experiments, chunk):
        e = min(chunk, n_experiments - start)
        x = pool[rng.integers(0, len(pool), size=(e, days, per_day))]
        arm = rng.random((e, days, per_day)) < share
        x = x + effect * arm
        est, var, n = unpaired_looks(*_daily_sums(x, arm))
        res = msprt(est, var, n, tau, alpha)
        hit = res["p_value"] < alpha
        flags.append(hit.any(-1))
        naive.append(np.stack([(res["naive_p"] < alpha).any(-1), res["naive_p"][:, -1] < alpha]))
        first = np.argmax(hit, axis=-1)
        stop_sign.append(np.sign(est[np.arange(e), first]))
        stop_day.append(first + 1)
    flagged = np.concatenate(flags)
    nv = np.concatenate(naive, axis=1)
    signs, stops = np.concatenate(stop_sign)[flagged], np.concatenate(stop_day)[flagged]
    sign_right = float(np.mean(signs == np.sign(effect))) if effect != 0 and len(signs) else math.nan
    return PeekingResult(int(n_experiments), int(days), int(per_day), float(effect), float(alpha),
                         float(flagged.mean()), float(nv[0].mean()), float(nv[1].mean()), sign_right,
                         float(stops.mean()) if len(stops) else math.nan)
