"""Model rollout: should the challenger replace the champion? A served name's request log plus the labels
that arrived later, compared with tests that stay valid when people look every day.

The ``rollout`` notebook is a few calls::

    sim = rollout.simulate(champion_dir, challenger_dir, test_rows, workbench.artifacts_dir(),
                           id_column="rownames", label_column="churn", mode="both")   # offline default
    report = rollout.RolloutReport(sim.log, sim.labels, id_column="rownames", label_column="churn")
    report.overview(); report.srm(); report.guardrails(); report.variants(); report.shadow()
    report.sequential(); report.validity(); report.verdict()
    rollout.record(report)                         # verdict, metric_delta, p_value, n_champion, n_challenger, srm_p
    rollout.save(report, workbench.artifacts_dir())  # rollout.csv (per variant), rollout_days.csv (per look)
    rollout.log(tracker, report)

- Shadow (paired: both models scored the same requests): agreement, paired bootstrap of per-request
  metric differences, DeLong's test of two correlated ROC-AUCs, latency.
- Canary / A/B (unpaired): the metric per variant with intervals, a sample-ratio-mismatch check
  (chi-square, flagged at p < 0.001), guardrails (error rate, p99 latency).
- Sequential: the mixture SPRT (Johari, Pekelis & Walsh 2017): always-valid p-values and a confidence
  sequence, one look per day, beside the naive fixed-horizon test recomputed daily.
- The verdict: promote, keep collecting (with the labelled requests still needed), roll back, or
  investigate the assignment (SRM), with the ``workbench models alias`` command.

Recommenders: the log's ``input.user`` and ``output.items`` against the interactions that followed
(hit@k within a window). Modules: ``_log`` (reading), ``_outcomes`` (per-request metrics), ``_stats``
(SRM, intervals, paired bootstrap), ``_sequential`` (mSPRT, samples needed, A/A simulation),
``_analysis`` (per variant, pairs, daily looks), ``_verdict`` (guardrails, rules, commands),
``_simulate`` (the offline default), ``_figures``, ``_text``, ``_report`` (:class:`RolloutReport`),
``_outputs`` (the save/log/record verbs). The building blocks are imported from their modules.
"""

from __future__ import annotations

from ._outputs import log, record, save
from ._report import RolloutReport
from ._simulate import Simulation, simulate
from ._verdict import Verdict

__all__ = ["RolloutReport", "simulate", "Simulation", "Verdict", "save", "log", "record"]
