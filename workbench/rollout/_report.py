"""A rollout report: a served name's request log and the labels that arrived later, champion against
challenger, and a verdict.

``RolloutReport(log, labels, id_column=..., label_column=...)`` validates its arguments, reads the log
and joins the labels up front (bad input fails here, before any statistic); the comparisons run on
first use and are cached. Each section method returns something a notebook cell displays.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from ..errors import DatasetError, ParameterError
from ..evaluation import Note, Panel, fmt, section
from ._analysis import looks, shadow_pairs, shadow_summary, variant_table
from ._figures import monitoring_figure
from ._log import Requests, load_labels, read_requests
from ._outcomes import check_labels, hit_at_k, request_metric, request_values
from ._sequential import TAU, peeking_simulation, samples_needed
from ._stats import SRM_ALPHA, SRMResult, srm_test
from ._text import Commands, methods_text, overview_rows, rules_text, shadow_rows
from ._verdict import Guardrail, Verdict, decide, guardrail_limits, guardrails

MODES = ("auto", "ab", "shadow")


def _number(name: str, value: Any, low: float, high: float, closed_low: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or not (low <= value if closed_low else low < value) or not value < high:
        bracket = "[" if closed_low else "("
        raise ParameterError(f"{name} must be a number in {bracket}{low:g}, {high:g}), got {value!r}")
    return float(value)


class RolloutReport:
    """Champion against challenger from a request log and delayed labels.

    Parameters
    ----------
    log : the served name's request log (a ``.jsonl`` file, a folder of them or a glob; see
        :mod:`workbench.data`) or a :class:`workbench.data.Dataset` read from one.
    labels : the delayed ground truth: a table (path, registered dataset or DataFrame) keyed by
        ``id_column`` with ``label_column``; for a recommender, the interactions that followed
        (user, item and ``time_column``).
    id_column : the logged input that keys the labels (a recommender's user column).
    label_column : the true outcome (a recommender's item column).
    model : the served name, when the log holds several.
    champion_version, challenger_version : the versions to compare ("" = the most frequent in the log).
    mode : ``auto`` (A/B when the log has challenger lines, else shadow), ``ab`` or ``shadow``.
    metric : a per-request metric (``auto``: log-loss, RMSE or hit rate; see :mod:`._outcomes`).
    alpha : the level of the tests (always-valid).
    challenger_share : the configured share of the challenger in A/B mode (the SRM check's expectation).
    margin : 0: promote only a significantly better challenger; > 0: a non-inferiority margin, in the
        metric's per-request units.
    guardrails : overrides of ``{"error_rate": 0.01, "p99_latency": 0.2}``.
    srm_alpha : flag a sample ratio mismatch below this p-value.
    tau : the mixture's sd in per-request sds (see :mod:`._sequential`).
    time_column, window_days, k : recommenders: the interactions' time column, the window after a
        request in which an interaction counts, the recommended items that count (0: all logged).
    seed : seed of the bootstrap and of the A/A simulation.
    """

    def __init__(self, log: Any, labels: Any, *, id_column: str, label_column: str, model: str = "",
                 champion_version: str = "", challenger_version: str = "", mode: str = "auto", metric: str = "auto",
                 alpha: float = 0.05, challenger_share: float = 0.5, margin: float = 0.0,
                 guardrails: Mapping[str, float] | None = None, srm_alpha: float = SRM_ALPHA, tau: float = TAU,
                 time_column: str = "ts", window_days: float = 7.0, k: int = 0, seed: int = 0):
        self.alpha = _number("alpha", alpha, 0, 1)
        self.srm_alpha = _number("srm_alpha", srm_alpha, 0, 1)
        self.share = _number("challenger_share", challenger_share, 0, 1)
        self.margin = _number("margin", margin, 0, math.inf, closed_low=True)
        self.tau = _number("tau", tau, 0, math.inf)
        self.window = pd.Timedelta(days=_number("window_days", window_days, 0, math.inf))
        if mode not in MODES:
            raise ParameterError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ParameterError(f"k must be a whole number >= 0 (0: every logged item), got {k!r}")
        self.limits = guardrail_limits(guardrails)
        self.id_column, self.label_column, self.time_column, self.k, self.seed = \
            id_column, label_column, time_column, k, int(seed)
        self.requests: Requests = read_requests(log, id_column=id_column, model=model,
                                                champion_version=champion_version,
                                                challenger_version=challenger_version)
        self.metric = request_metric(metric, self.requests.task)
        self.mode, self.mode_text = self._resolve_mode(mode)
        self.label_table = load_labels(labels, id_column=id_column, label_column=label_column,
                                       ranking=self.requests.task == "ranking", time_column=time_column)
        self.labels, self.values = self._score()
        self.failures: list[str] = []
        self._cache: dict[str, Any] = {}

    def _resolve_mode(self, mode: str) -> tuple[str, str]:
        counts = self.requests.counts()
        if mode == "auto":
            mode = "ab" if "challenger" in counts else "shadow"
            why = "A/B: the log has challenger lines" if mode == "ab" else "shadow: the log has shadow lines only"
            return mode, f"{why} (auto)"
        wanted = {"ab": "challenger", "shadow": "shadow"}[mode]
        if wanted not in counts:
            raise DatasetError(f"mode {mode!r} needs {wanted} lines, and the log has none (it has: "
                               f"{', '.join(counts)}); use mode auto")
        return mode, f"{'A/B' if mode == 'ab' else 'shadow'} (asked for)"

    def _score(self) -> tuple[pd.Series | None, np.ndarray]:
        q, t = self.requests, self.label_table
        if q.task == "ranking":
            values = hit_at_k(q.lines["key"], q.lines["ts"], q.lines["items"], t, user_column=self.id_column,
                              item_column=self.label_column, time_column=self.time_column, window=self.window,
                              k=self.k or None)
            if not q.lines["key"].isin(set(t["_key"].dropna())).any():
                raise DatasetError(f"none of the log's users ({self.id_column!r}) appears in the interactions table "
                                   f"({len(t):,} rows): check id_column and the labels file")
            return None, np.where(q.lines["error"].to_numpy(), np.nan, values)
        labels = q.lines["key"].map(dict(zip(t["_key"], t[self.label_column])))
        if q.task != "regression":
            check_labels(labels, q.classes)
        values = request_values(q.lines, labels, self.metric, q.classes)
        if not np.isfinite(values).any():
            raise DatasetError(f"no logged request has a label: none of the log's {self.id_column!r} values is in the "
                               f"labels table ({len(t):,} rows); check id_column and the labels file")
        return labels, values

    # ------------------------------------------------------------------ cached computations

    def _cached(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    @property
    def table(self) -> pd.DataFrame:
        """Per-variant numbers (``rollout.csv``): requests, errors, latency, the metric and ROC-AUC with intervals."""
        return self._cached("table", lambda: variant_table(self.requests, self.values, self.labels, self.metric))

    @property
    def pairs(self) -> pd.DataFrame:
        return self._cached("pairs", lambda: shadow_pairs(self.requests))

    @property
    def looks(self) -> pd.DataFrame:
        """One row per day: cumulative counts, the estimate, the confidence sequence, both p-values."""
        return self._cached("looks", lambda: looks(self.requests, self.values, self.mode, tau=self.tau,
                                                   alpha=self.alpha, pairs=self.pairs if self.mode == "shadow" else None))

    @property
    def shadow_result(self) -> dict[str, Any]:
        """The paired comparison over the shadow pairs (see :func:`._analysis.shadow_summary`)."""
        return self._cached("shadow", lambda: shadow_summary(self.requests, self.values, self.labels, self.metric,
                                                             self.pairs, self.seed))

    @property
    def srm_result(self) -> SRMResult | None:
        """The sample-ratio-mismatch check of an A/B split (None in shadow mode: nothing is assigned)."""
        if self.mode != "ab":
            return None
        counts = self.requests.counts()
        return self._cached("srm", lambda: srm_test({"champion": counts.get("champion", 0),
                                                     "challenger": counts.get("challenger", 0)},
                                                    [1 - self.share, self.share], self.srm_alpha))

    @property
    def rails(self) -> list[Guardrail]:
        other = "challenger" if self.mode == "ab" else "shadow"
        return self._cached("rails", lambda: guardrails(self.requests.of("champion"), self.requests.of(other),
                                                        self.limits))

    @property
    def result(self) -> Verdict:
        """The verdict (see :mod:`._verdict` for the rules)."""
        return self._cached("verdict", self._decide)

    def _decide(self) -> Verdict:
        last = self.looks.iloc[-1]
        low, high = float(last["low"]), float(last["high"])
        if low > high:  # the running intersection emptied (a drifting effect): the last look's own interval
            low, high = float(last["naive_low"]), float(last["naive_high"])
        need, days = self._samples_needed(last)
        return decide(srm=self.srm_result, rails=self.rails, low=low, high=high, metric=self.metric,
                      margin=self.margin, versions=self.requests.versions, samples_needed=need, days_needed=days)

    def _samples_needed(self, last: pd.Series) -> tuple[int | None, float | None]:
        est, n = float(last["estimate"]), int(last["n"])
        if not (math.isfinite(est) and math.isfinite(float(last["variance"])) and n):
            return None, None
        improvement = est if self.metric.greater_is_better else -est
        distance = improvement + self.margin if improvement + self.margin > 0 else -improvement
        total = samples_needed(distance, float(last["variance"]) * n, n, self.tau, self.alpha)
        if total is None:
            return None, None
        more = max(total - n, 0)
        return more, more / (n / len(self.looks))

    # ------------------------------------------------------------------ headline values

    def metric_delta(self) -> float:
        """Challenger (or shadow) minus champion in the metric (e.g. log-loss; RMSE for ``rmse``)."""
        if self.mode == "shadow":
            return float(self.shadow_result["bootstrap"][0])
        t = self.table.set_index("variant")["value"]
        return float(t.get("challenger", math.nan) - t.get("champion", math.nan))

    def headline(self) -> dict[str, Any]:
        """``verdict``, ``metric_delta``, ``p_value`` (always valid, last look), ``n_champion``,
        ``n_challenger`` (requests; shadow mode: shadowed requests) and ``srm_p`` (None in shadow mode)."""
        counts = self.requests.counts()
        srm = self.srm_result
        p = float(self.looks["p_value"].iloc[-1])
        return {"verdict": self.result.decision, "metric_delta": self.metric_delta(), "p_value": p,
                "n_champion": counts.get("champion", 0),
                "n_challenger": counts.get("challenger" if self.mode == "ab" else "shadow", 0),
                "srm_p": srm.p_value if srm is not None else None}

    # ------------------------------------------------------------------ sections

    @section("overview")
    def overview(self) -> Panel:
        """What was read: the log, the window, the versions, the requests per variant, the labels, the tests."""
        table = pd.DataFrame(overview_rows(self), columns=["", "value"]).set_index("")
        notes = [Note(n, "warning") for n in self.requests.notes]
        repeated = self.requests.of("champion")["key"].duplicated().mean()
        if repeated > 0.01:
            notes.append(Note(f"{repeated:.0%} of the champion's rows repeat a key: requests of one key are "
                              "correlated and the intervals below are too narrow", "warning"))
        return Panel(table, *notes, Note(methods_text(self)))

    @section("sample ratio")
    def srm(self) -> Any:
        """The sample-ratio-mismatch check (A/B) or the shadow's coverage of the champion's requests."""
        res = self.srm_result
        if res is None:
            counts = self.requests.counts()
            cover = counts.get("shadow", 0) / max(counts.get("champion", 0), 1)
            level = "warning" if cover < 0.99 else "info"
            return Note(f"shadow mode, nothing assigned: the shadow scored {cover:.1%} of the champion's requests"
                        + (" (missing copies bias the pairs if the shadow drops hard requests)" if level == "warning"
                           else ""), level)
        return Note(res.describe(), "error" if res.flagged else "info")

    @section("guardrails")
    def guardrails(self) -> Any:
        """Error rate and p99 latency, challenger against champion, with the limits."""
        other = "challenger" if self.mode == "ab" else "shadow"
        t = pd.DataFrame([{"guardrail": g.name, "champion": fmt(g.champion), other: fmt(g.challenger),
                           "limit": fmt(g.limit), "breached": "BREACHED" if g.breached else "", "rule": g.note}
                          for g in self.rails]).set_index("guardrail")
        return Panel(t)

    @section("per-variant metrics")
    def variants(self) -> Any:
        """The metric per variant with 95% intervals (and ROC-AUC with DeLong's interval), errors, latency."""
        t = self.table.copy()
        shown = pd.DataFrame({"variant": t["variant"], "version": t["version"], "requests": t["requests"],
                              "labelled": t["labelled"], "error rate": t["error_rate"].map(lambda v: f"{v:.2%}"),
                              self.metric.label: [f"{fmt(v)} [{fmt(lo)}, {fmt(hi)}]"
                                                  for v, lo, hi in zip(t["value"], t["low"], t["high"])],
                              "p50 ms": t["latency_p50_ms"].map(fmt), "p99 ms": t["latency_p99_ms"].map(fmt)})
        if self.requests.task == "binary":
            shown["ROC-AUC"] = [f"{fmt(v)} [{fmt(lo)}, {fmt(hi)}]" for v, lo, hi in
                                zip(t["roc_auc"], t["auc_low"], t["auc_high"])]
        return Panel(shown.set_index("variant"), Note("95% intervals per variant: Wilson for shares, the normal "
                                                      "interval of the mean otherwise, DeLong for ROC-AUC"))

    @section("shadow comparison")
    def shadow(self) -> Any:
        """Paired: agreement, the paired-bootstrap difference, DeLong's test of the two AUCs, latency."""
        if not len(self.pairs):
            return Note("no shadow lines in this log: the paired comparison needs a shadow model (workbench serve "
                        "with a shadow)")
        rows = shadow_rows(self.shadow_result, self.metric.label)
        return Panel(pd.DataFrame(rows, columns=["", "value"]).set_index(""))

    @section("sequential monitoring")
    def sequential(self) -> Any:
        """The estimate, the always-valid confidence sequence and both p-values, one look per day."""
        t = self.looks
        fig = monitoring_figure(t, unit=f"mean {self.metric.unit}", alpha=self.alpha, margin=self.margin,
                                greater_is_better=self.metric.greater_is_better)
        shown = t[["day", "n_champion", "n_challenger", "estimate", "low", "high", "p_value", "naive_p"]].rename(
            columns={"low": "CS low", "high": "CS high", "p_value": "always-valid p", "naive_p": "fixed-horizon p"})
        return Panel(fig, shown.set_index("day").map(fmt))

    @section("validity check")
    def validity(self, n_experiments: int = 200) -> Any:
        """A/A simulation on this log's scale: how often each test would flag two identical models."""
        champ = self.values[(self.requests.lines["variant"] == "champion").to_numpy()]
        if np.isfinite(champ).sum() < 2:
            return Note("the champion has fewer than two labelled requests: nothing to simulate from yet")
        t = self.looks
        per_day = max(int(t["n"].iloc[-1] // len(t)), 2)
        res = peeking_simulation(champ, n_experiments=n_experiments, days=len(t), per_day=per_day,
                                 share=self.share if self.mode == "ab" else 0.5, tau=self.tau, alpha=self.alpha,
                                 seed=self.seed)
        how = "" if self.mode == "ab" else " (simulated as a 50/50 A/B split of this size)"
        return Note(res.describe() + how + ": the always-valid test holds its level under daily peeking, the daily "
                    "fixed-horizon test does not")

    @section("verdict")
    def verdict(self) -> Any:
        """The decision with its reasons, the command that carries it out, and the rules."""
        v = self.result
        level = {"promote": "info", "keep collecting": "info", "roll back": "warning"}.get(v.decision, "error")
        parts: list[Any] = [Note(v.describe(), level)]
        if v.commands:
            parts.append(Commands(v.commands))
        return Panel(*parts, Note(rules_text(self)))
