"""Guardrails and the verdict: promote, keep collecting, roll back, or investigate the assignment,
with the exact registry command.

Rules, in order:

1. a sample ratio mismatch invalidates the experiment: the only verdict is "investigate the
   assignment" (broken bucketing or lost log lines bias every comparison);
2. roll back when a guardrail is breached: the challenger's error rate exceeds the champion's by more
   than ``error_rate`` (absolute), or its p99 latency by more than ``p99_latency`` (relative);
3. roll back when the always-valid confidence sequence of the difference lies entirely on the worse side
   of 0 (the challenger is significantly worse);
4. promote when it lies entirely on the better side of ``-margin``: with ``margin`` 0 (the default) the
   challenger must be significantly better; a positive margin asks for non-inferiority instead (not
   worse by more than the margin), the same rule in shadow and A/B mode;
5. otherwise keep collecting, with an estimate of the labelled requests still needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ._outcomes import RequestMetric
from ._stats import latency_quantiles

GUARDRAILS = {"error_rate": 0.01, "p99_latency": 0.2}
MIN_LATENCY_REQUESTS = 100  # a p99 from fewer requests is a guess: not judged
DECISIONS = ("promote", "keep collecting", "roll back", "investigate the assignment")


def guardrail_limits(overrides: Mapping[str, Any] | None) -> dict[str, float]:
    """:data:`GUARDRAILS` with ``overrides`` applied (``error_rate``: absolute points, ``p99_latency``: relative)."""
    limits = dict(GUARDRAILS)
    for k, v in dict(overrides or {}).items():
        if k not in GUARDRAILS:
            raise ParameterError(f"unknown guardrail {k!r}; expected {', '.join(GUARDRAILS)}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ParameterError(f"guardrail {k} must be a number >= 0, got {v!r}")
        limits[k] = float(v)
    return limits


@dataclass(frozen=True)
class Guardrail:
    """One guardrail: the champion's and the challenger's value, the challenger's limit and whether it was crossed."""

    name: str
    champion: float
    challenger: float
    limit: float
    breached: bool
    note: str = ""


def _per_request_latency(lines: pd.DataFrame) -> np.ndarray:
    return lines.groupby("request_id", sort=False)["latency_ms"].first().to_numpy(dtype=float)


def guardrails(champion: pd.DataFrame, challenger: pd.DataFrame, limits: Mapping[str, float]) -> list[Guardrail]:
    """Error rate (share of logged rows with an error) and p99 latency (per request), challenger vs champion."""
    e_a = float(champion["error"].mean()) if len(champion) else math.nan
    e_b = float(challenger["error"].mean()) if len(challenger) else math.nan
    err_limit = e_a + limits["error_rate"]
    out = [Guardrail("error rate", e_a, e_b, err_limit, bool(e_b > err_limit + 1e-12),
                     f"at most the champion's + {limits['error_rate']:.2%} (absolute)")]
    lat_a, lat_b = _per_request_latency(champion), _per_request_latency(challenger)
    p99_a, p99_b = latency_quantiles(lat_a)[1], latency_quantiles(lat_b)[1]
    lat_limit = p99_a * (1 + limits["p99_latency"])
    few = min(np.isfinite(lat_a).sum(), np.isfinite(lat_b).sum()) < MIN_LATENCY_REQUESTS
    note = f"at most the champion's + {limits['p99_latency']:.0%}"
    if few:
        note += f"; not judged: fewer than {MIN_LATENCY_REQUESTS} timed requests on a side"
    out.append(Guardrail("p99 latency (ms)", p99_a, p99_b, lat_limit, bool(not few and p99_b > lat_limit), note))
    return out


@dataclass
class Verdict:
    """The decision, the reasons for it, the commands that carry it out and, when the answer is to keep
    collecting, the estimated labelled requests (and days at the current rate) still needed."""

    decision: str
    reasons: list[str]
    commands: list[str] = field(default_factory=list)
    samples_needed: int | None = None
    days_needed: float | None = None

    def describe(self) -> str:
        return f"{self.decision.upper()}: " + "; ".join(self.reasons)


def parse_version(version: str) -> tuple[str, str] | None:
    """``("churn", "3")`` for a registry version ``"churn:3"``; None for a model-files digest or nothing."""
    name, sep, number = str(version or "").rpartition(":")
    return (name, number) if sep and name and number else None


def alias_commands(decision: str, versions: Mapping[str, str]) -> list[str]:
    """The registry commands for ``decision``, from the analysed versions (``NAME:VERSION``)."""
    champ = parse_version(versions.get("champion", ""))
    chall = parse_version(versions.get("challenger") or versions.get("shadow", ""))
    if decision not in ("promote", "roll back"):
        return []
    if champ is None or chall is None:
        return [f"# the log names no registry versions ({versions}): serve the models from the registry "
                "(NAME:VERSION) to get the alias command"]
    name = chall[0]
    if decision == "promote":
        return [f"workbench models alias {name} champion {chall[1]}"]
    return [f"workbench models alias {name} challenger {champ[1]}",
            f"# the challenger alias now serves the champion's version {champ[1]}: its traffic gets the "
            f"champion's answers at once; version {chall[1]} stays in the registry for a later fix"]


def decide(*, srm: Any, rails: list[Guardrail], low: float, high: float, metric: RequestMetric, margin: float,
           versions: Mapping[str, str], samples_needed: int | None = None, days_needed: float | None = None) -> Verdict:
    """Apply the rules of the module docstring to the last look's confidence sequence ``[low, high]`` of
    ``challenger - champion`` (per-request metric units)."""
    if srm is not None and srm.flagged:
        return Verdict("investigate the assignment", [srm.describe(), "no comparison of the variants is trustworthy "
                       "until the cause is found (bucketing, a variant failing to log, bots, a late start)"])
    breached = [g for g in rails if g.breached]
    if breached:
        why = [f"guardrail {g.name}: challenger {g.challenger:.4g} vs champion {g.champion:.4g} (limit {g.limit:.4g})"
               for g in breached]
        return Verdict("roll back", why, alias_commands("roll back", versions))
    if not (math.isfinite(low) or math.isfinite(high)):
        return Verdict("keep collecting", ["too few labelled requests on one side to compare yet (at least two per "
                                           "side, with some spread, are needed)"])
    sign = 1.0 if metric.greater_is_better else -1.0
    imp_lo, imp_hi = sorted((sign * low, sign * high))  # improvement: > 0 means the challenger is better
    shown = f"challenger - champion in {metric.unit}: always-valid interval [{low:+.4g}, {high:+.4g}]"
    if imp_hi < 0:
        return Verdict("roll back", [f"the challenger is significantly worse ({shown})"],
                       alias_commands("roll back", versions))
    if imp_lo > -margin:
        what = "significantly better" if margin == 0 else f"not worse by more than the margin {margin:g}"
        return Verdict("promote", [f"the challenger is {what} ({shown})"], alias_commands("promote", versions))
    why = [f"no significant difference yet ({shown})"]
    if samples_needed is not None:
        days = f", about {days_needed:.1f} more day(s) at the current rate" if days_needed is not None else ""
        why.append(f"estimate: about {samples_needed:,} more labelled requests{days} if the difference stays at "
                   "its current estimate")
    else:
        why.append("the estimated difference is too small to settle at any realistic sample size")
    return Verdict("keep collecting", why, [], samples_needed, days_needed)
