"""The report's words: what was read, how each number is computed, the rules of the verdict (each
function reads the attributes of a ``RolloutReport`` it is given; no import of it, no cycle)."""

from __future__ import annotations

import html
from typing import Any

from ..evaluation import fmt


class Commands:
    """Shell commands shown as a code block (plain text in a terminal)."""

    def __init__(self, lines: list[str]):
        self.lines = list(lines)

    def _repr_html_(self) -> str:
        body = html.escape("\n".join(self.lines))
        return f'<pre class="wb-commands" style="background:#f6f8fa;padding:8px 12px;margin:4px 0">{body}</pre>'

    def __repr__(self) -> str:
        return "\n".join(self.lines)


def overview_rows(r: Any) -> list[tuple[str, Any]]:
    q = r.requests
    info = q.info
    counts = q.counts()
    labelled = r.table.set_index("variant")["labelled"].to_dict()
    rows = [("served name", q.model or "(not logged)"), ("model task", q.task + (f" (classes {', '.join(q.classes)})"
                                                                              if q.classes else "")),
            ("request log", f"{len(info.get('files', []))} file(s), {info.get('lines', 0):,} line(s) read, "
                            f"{info.get('skipped_lines', 0)} unreadable"),
            ("experiment window", f"{q.lines['ts'].min():%Y-%m-%d %H:%M} to {q.lines['ts'].max():%Y-%m-%d %H:%M} UTC, "
                                  f"{len(q.days)} day(s)"),
            ("mode", r.mode_text)]
    rows += [(f"{v}", f"version {q.versions.get(v) or '(not logged)'}: {n:,} request(s), {labelled.get(v, 0):,} "
                      "labelled row(s)") for v, n in counts.items()]
    rows += [("metric", f"{r.metric.label} ({'higher' if r.metric.greater_is_better else 'lower'} is better), per "
                        f"request: {r.metric.unit}"),
             ("labels", f"{len(r.label_table):,} row(s) joined on {r.id_column!r}"),
             ("sequential test", f"mSPRT, normal mixture tau = {r.tau:g} per-request sd, alpha = {r.alpha:g}, one look "
                                 "per day")]
    return rows


def methods_text(r: Any) -> str:
    paired = ("Shadow: both models scored the same requests, so the comparison is paired (per-request "
              "differences, paired bootstrap, DeLong's test for two correlated ROC-AUCs). ")
    ab = ("A/B: each request was answered by one variant, so the arms are independent samples (Welch's variance "
          "of the difference of means; Wilson or normal intervals per arm; DeLong's interval per AUC). ")
    return ((ab if r.mode == "ab" else paired) + "The sequential test is the mixture SPRT of Johari, Pekelis & Walsh "
            "(2017): its p-value and confidence sequence stay valid however often one looks, unlike the fixed-horizon "
            "test recomputed every day (shown beside it for contrast). Requests are assumed independent (one request "
            "per key); repeated keys make every interval too narrow.")


def rules_text(r: Any) -> str:
    lim = r.limits
    promote = ("significantly better (the always-valid interval entirely on the better side of 0)" if r.margin == 0 else
               f"not worse by more than the non-inferiority margin {r.margin:g} (interval entirely beyond it)")
    srm = (f"a sample ratio mismatch (p < {r.srm_alpha:g}) leaves only 'investigate the assignment'; "
           if r.mode == "ab" else "")
    return (f"Rules: {srm}roll back when a guardrail is breached (error rate above the champion's + "
            f"{lim['error_rate']:.2%}, p99 latency above the champion's + {lim['p99_latency']:.0%}) or when the "
            f"challenger is significantly worse; promote when it is {promote}; otherwise keep collecting. Level "
            f"alpha = {r.alpha:g}.")


def shadow_rows(s: dict[str, Any], metric_label: str) -> list[tuple[str, str]]:
    est, lo, hi = s["bootstrap"]
    rows = [("request pairs", f"{s['pairs']:,} ({s['labelled']:,} labelled)"),
            (s["agreement_label"], f"{s['agreement']:.2%}" if "share" in s["agreement_label"] or
             "agreement" in s["agreement_label"] else fmt(s["agreement"])),
            (f"{metric_label}: shadow - champion", f"{est:+.4g} (paired bootstrap 95% interval {lo:+.4g} to {hi:+.4g})")]
    if "delong" in s:
        d = s["delong"]
        rows.append(("ROC-AUC: shadow - champion", f"{d.difference:+.4f} ({d.auc_b:.4f} vs {d.auc_a:.4f}; 95% interval "
                                                   f"{d.low:+.4f} to {d.high:+.4f}; DeLong p = {d.p_value:.3g})"))
    for side in ("champion", "shadow"):
        p50, p99 = s[f"latency_{side}"]
        rows.append((f"latency {side}", f"p50 {fmt(p50)} ms, p99 {fmt(p99)} ms"))
    return rows
