"""Mutation audit: plant small bugs in behaviour users rely on, run the tests that guard each one, and
report which were killed (a test failed) and which survived (the suite did not notice).

Each mutant is one textual patch (an exact ``old`` text, present once, replaced by ``new``) applied to a
copy of ``workbench/`` in a temporary folder. The tests run from this checkout with ``PYTHONPATH``
pointing at the copy and ``python -P`` (so the library under test is the mutated copy, in every
subprocess and kernel too); the working tree is never touched. A mutant whose ``old`` text is gone (the
code moved on) is reported ``stale``: update its patch.

First the guarding tests run once on the unmutated copy (they must pass, or a "kill" means nothing).

    python benchmarks/mutation_audit.py --quick          # unit tests only (minutes)
    python benchmarks/mutation_audit.py                  # plus each mutant's end-to-end tests (slow)
    python benchmarks/mutation_audit.py --only bearer-prefix wilson-no-centre
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str  # under workbench/
    old: str
    new: str
    unit: tuple[str, ...]  # pytest node ids that must kill it
    e2e: tuple[str, ...] = field(default=())
    what: str = ""


U = "tests/unit/"
MUTANTS = [
    # ------------------------------------------------------------- the eight the issue-21 audit found missed
    Mutant("drift-datetime-left-out", "drift/_column_drift.py",
           'TESTED_KINDS = ("numeric", "datetime", ', 'TESTED_KINDS = ("numeric", ',
           (U + "drift/test_drift_kinds.py",), what="date columns silently left out of the drift tests"),
    Mutant("fold-prep-leak", "tabular/_fold.py",
           "a = fitted.fit_transform(task.X_train.iloc[tr])", "a = fitted.fit(task.X_train).transform(task.X_train.iloc[tr])",
           (U + "tabular/test_exact.py::test_fold_preprocessing_is_fitted_on_the_folds_training_rows_only",),
           what="fold preprocessing fitted on train + validation rows"),
    Mutant("log-loss-higher-is-better", "evaluation/_metrics.py",
           'Metric("log_loss", "log-loss", False)', 'Metric("log_loss", "log-loss", True)',
           (U + "tabular/test_exact.py::test_lower_is_better_metrics_rank_the_lowest_first",
            U + "tabular/test_exact.py::test_log_loss_ranking_picks_the_real_model_over_the_dummy"),
           what="log-loss ranked as higher-is-better (the dummy wins)"),
    Mutant("bearer-prefix", "serve/_http.py",
           "hmac.compare_digest(credentials.strip(), self.token)", "self.token.startswith(credentials.strip())",
           (U + "serve/test_guard_and_cache_keys.py::test_only_the_whole_token_passes",),
           what="token compared by prefix ('Bearer ' with nothing after it passes)"),
    Mutant("cache-key-without-version", "serve/_tables.py",
           'group = f"{self.digest}:t{k or \'\'}:', 'group = f"t{k or \'\'}:',
           (U + "serve/test_guard_and_cache_keys.py::test_two_models_never_answer_each_others_cached_predictions",
            U + "serve/test_guard_and_cache_keys.py::test_one_name_two_versions_sharing_a_cache_never_mix"),
           what="serve cache key without the model version"),
    Mutant("float-accepts-bool", "runner/params.py",
           "if isinstance(value, (int, float)) and not isinstance(value, bool):\n            return True, float(value)",
           "if isinstance(value, (int, float)):\n            return True, float(value)",
           (U + "runner/test_param_types.py",), what="a float parameter accepting true"),
    Mutant("vision-early-stop-on-test", "vision/_run.py",
           "fit_classifier(pick(fit_ds), fit_ds.labels, pick(val_ds), val_ds.labels,",
           "fit_classifier(pick(fit_ds), fit_ds.labels, pick(test_ds), test_ds.labels,",
           (U + "vision/test_vision_exact.py::test_early_stopping_watches_the_validation_split_not_the_test_split",),
           what="vision early stopping on the test split"),
    Mutant("vision-delta-uncapped", "vision/_packed.py",
           "raw = dec.decompress(packed, max_length=n)", "raw = dec.decompress(packed)",
           (U + "vision/test_packed.py::test_crafted_deltas_are_refused_before_anything_is_built",),
           what="a vision weight delta decompressed without its size cap (a bomb)"),
    Mutant("vision-delta-no-digest", "vision/_packed.py",
           'if state_sha256(state) != info["state_sha256"]:', "if False:",
           (U + "vision/test_packed.py::test_crafted_deltas_are_refused_before_anything_is_built",),
           what="vision weights rebuilt from deltas without checking the recorded digest"),
    Mutant("wilson-no-centre", "explore/_relations.py",
           "center = (p + z * z / (2 * n)) / denom", "center = p",
           (U + "explore/test_explore.py::test_wilson_and_auc_match_references",),
           what="Wilson interval without its centre correction (k=0, n=10: negative bound)"),
    # ------------------------------------------------------------------------------ sixteen more
    Mutant("recall-over-k", "recsys/_metrics.py",
           '("recall", lambda k: cum[:, k - 1] / n_rel)', '("recall", lambda k: cum[:, k - 1] / k)',
           (U + "recsys/test_history_metrics.py::test_ranking_metrics_by_hand",), what="recall@k divided by k"),
    Mutant("coverage-whole-list", "recsys/_metrics.py",
           "len(np.unique(top[:, :k]))", "len(np.unique(top))",
           (U + "recsys/test_compare.py::test_popularity_recommends_the_most_popular_unseen_items_and_its_metrics_are_exact",),
           what="coverage@k counted over the whole top-K list"),
    Mutant("bootstrap-level", "recsys/_metrics.py",
           "a = (1 - level) / 2", "a = (1 - level)",
           (U + "recsys/test_history_metrics.py::test_bootstrap_intervals_bracket_the_mean_and_shrink_with_more_users",),
           what="bootstrap CI at 90% instead of 95%"),
    Mutant("seen-not-excluded", "recsys/_metrics.py",
           "s[rows, items] = -np.inf", "s[rows, items] = s[rows, items]",
           (U + "recsys/test_history_metrics.py::test_ranking_metrics_by_hand",),
           what="already-seen items recommended again"),
    Mutant("secret-nested-not-redacted", "core/secrets.py",
           "else redact(v)) for k, v in obj.items()}", "else v) for k, v in obj.items()}",
           (U + "core/test_secrets.py::test_redact_hides_secret_names_only",),
           what="a secret nested in a dict parameter kept in run.json"),
    Mutant("param-size-unchecked", "runner/params.py",
           "    _check_size(text, what)\n", "",
           (U + "runner/test_params.py::test_values_and_files_have_size_and_encoding_limits",),
           what="parameter values without their size limit"),
    Mutant("bh-no-correction", "drift/_stats.py",
           "ranked = p[order] * k / np.arange(1, k + 1)", "ranked = p[order]",
           (U + "drift/test_drift.py::test_auc_interval_and_benjamini_hochberg",),
           what="drift p-values not adjusted for multiple testing"),
    Mutant("delong-level", "evaluation/_delong.py",
           "half = norm.ppf(0.5 + level / 2) * math.sqrt(", "half = norm.ppf(level) * math.sqrt(",
           (U + "evaluation/test_delong.py::test_a_tiny_example_by_hand",), what="AUC interval at the wrong level"),
    Mutant("metrics-route-open", "serve/_http.py",
           'OPEN_PATHS = ("/health",)', 'OPEN_PATHS = ("/health", "/metrics")',
           (U + "serve/test_tables.py::test_token_guards_every_route_but_health",),
           what="/metrics readable without the token"),
    Mutant("int-accepts-float", "runner/params.py",
           "return isinstance(value, int) and not isinstance(value, bool), value",
           "return isinstance(value, (int, float)) and not isinstance(value, bool), value",
           (U + "runner/test_param_types.py",), what="an int parameter accepting 2.5"),
    Mutant("cache-key-ignores-options", "runner/cache.py",
           '"options": dict(sorted((options or {}).items())),', '"options": {},',
           (U + "runner/test_cache_key_and_failures.py::test_keyed_run_options_change_the_key_and_the_others_do_not",),
           what="a --hide-code run reuses the visible run's report"),
    Mutant("folder-fingerprint-by-name", "runner/cache.py",
           "            update_file_hash(p, h)\n        else:", "            pass\n        else:",
           (U + "runner/test_cache.py::test_fingerprints_follow_content",),
           what="an image folder's changed files reuse a stale run"),
    Mutant("failed-run-recorded-succeeded", "runner/execute.py",
           "self.rec.status, self.rec.error = self.outcome.status, self.outcome.error",
           'self.rec.status, self.rec.error = "succeeded", self.outcome.error',
           (U + "runner/test_cache_key_and_failures.py::test_a_failing_cell_still_writes_its_marked_report_and_a_failed_record",),
           ("tests/e2e/test_run.py::test_failing_run_is_marked_and_earlier_reports_are_untouched",),
           what="a failing notebook recorded as succeeded"),
    Mutant("rmse-higher-is-better", "evaluation/_metrics.py",
           'Metric("rmse", "RMSE", False)', 'Metric("rmse", "RMSE", True)',
           (U + "tabular/test_exact.py::test_lower_is_better_metrics_rank_the_lowest_first",),
           what="RMSE ranked as higher-is-better"),
    Mutant("brier-absolute", "evaluation/_metrics.py",
           '"brier": float(np.mean((p - y) ** 2)),', '"brier": float(np.mean(np.abs(p - y))),',
           (U + "evaluation/test_metrics.py",), what="Brier score as mean absolute error"),
    Mutant("rerated-item-duplicated", "recsys/_predictor.py",
           "keep = items != code", "keep = items == items",
           (U + "recsys/test_predictor.py::test_update_changes_the_next_recommendations_at_once",),
           what="a re-rated item kept twice in the user's profile"),
    # ------------------------------------------------------------- issue 25: small run folders
    Mutant("gc-leaves-orphan-blobs", "runner/retention.py",
           "        blobs.remove_orphans(store.tree.root)", "        pass",
           (U + "registry/test_gc.py::test_gc_frees_a_shared_artifact_blob_only_with_the_last_run_that_links_it",),
           what="gc deletes the last run linking an artifact blob but keeps the blob"),
    Mutant("latest-html-not-rebased", "reports/_index.py",
           'atomic_write_text(dst, rebase(report.read_text(encoding="utf-8"), dst.parent, tree.root))',
           'atomic_write_text(dst, report.read_text(encoding="utf-8"))',
           (U + "reports/test_assets.py::test_latest_html_links_the_store_from_its_own_folder",),
           what="latest.html keeps the run folder's asset links (one level too deep): no charts"),
    Mutant("blob-shared-writable", "core/blobs.py",
           "        os.chmod(path, READ_ONLY)\n", "\n",
           (U + "core/test_blobs.py::test_the_same_file_in_two_runs_is_one_read_only_inode_and_a_writer_replaces_its_own",),
           what="a shared artifact blob left writable"),
    # ------------------------------------------------------------- issue 26: explanations and fairness
    Mutant("shap-onehot-to-first-column", "tabular/_explain.py",
           "[len(prep.numeric) + i for i, c in enumerate(prep.categories)",
           "[len(prep.numeric) + 0 for i, c in enumerate(prep.categories)",
           (U + "tabular/test_explain.py::test_linear_shap_is_the_coefficients_in_original_columns",),
           what="one-hot parts summed into the first categorical column, not their own (still additive)"),
    Mutant("catboost-shap-wrong-base", "models/_explain.py",
           "sv[:, -1].copy(), output", "sv[:, 0].copy(), output",
           (U + "tabular/test_explain.py::test_exact_explanations_add_up_to_the_margin",),
           what="CatBoost's expected value taken from a feature's column: base + contributions != margin"),
    Mutant("permutation-credit-scaled", "models/_explain.py",
           "diffs = np.diff(y, axis=3).mean(axis=2)", "diffs = 0.99 * np.diff(y, axis=3).mean(axis=2)",
           (U + "tabular/test_explain.py::test_permutation_explainer_is_additive_within_its_budget",),
           what="the permutation explainer's credits no longer add up to the margin"),
    Mutant("voting-not-back-to-log-odds", "models/_explain.py",
           "values, base = _rescaled(mean_values, mean_base, logit, _logit_slope)",
           "values, base = mean_values, mean_base",
           (U + "tabular/test_explain.py::test_soft_voting_is_its_members_carried_through_the_sigmoid",),
           what="a soft voting's explanation left in probability while its output says log-odds"),
    Mutant("explain-top-smallest", "models/_explain.py",
           "order = np.argsort(-np.abs(self.values)", "order = np.argsort(np.abs(self.values)",
           (U + "tabular/test_explain.py::test_predict_adds_the_top_k_columns",),
           what="--explain K returns the K smallest contributions"),
    Mutant("serve-explain-dropped", "serve/_tables.py",
           "else self.predictor.explain_records(records, k)", "else self.predictor.predict_records(records)",
           (U + "serve/test_explain.py::test_explain_through_a_real_server",),
           what="?explain=K answered without the contributions"),
    Mutant("fairness-eo-min", "evaluation/_fairness.py",
           '"eo_difference": max(tpr, fpr)', '"eo_difference": min(tpr, fpr)',
           (U + "evaluation/test_fairness.py::test_gaps_equal_fairlearn",),
           what="equalized-odds difference as the smaller of the TPR and FPR gaps (fairlearn: the larger)"),
    Mutant("fairness-precision-as-recall", "evaluation/_fairness.py",
           '"precision": (tp, int(pred.sum()))', '"precision": (tp, int(y.sum()))',
           (U + "evaluation/test_fairness.py::test_group_rates_equal_fairlearn_metricframe",),
           what="per-group precision divided by the positives (that is the TPR)"),
    Mutant("sensitive-as-feature-ignored", "tabular/_fairness.py",
           'return [] if fair["sensitive_as_feature"] else list(fair["sensitive"])', "return []",
           (U + "tabular/test_fairness.py::test_sensitive_as_feature_false_trains_without_them",),
           what="sensitive_as_feature=False still trains on the sensitive columns"),
    Mutant("gradcam-weight-independent", "vision/_gradcam.py",
           "out.append(cam(input_tensor=x, targets=[ClassifierOutputTarget(i) for i in idx]))",
           "m = x.detach().mean(1).cpu().numpy(); out.append((m - m.min()) / (m.max() - m.min()))",
           (U + "vision/test_gradcam.py::test_randomizing_the_head_and_last_stage_changes_the_maps",),
           what="a heatmap that reads the image only (the maps Adebayo et al. warn about)"),
    Mutant("content-why-unnormalized", "recsys/_why.py",
           "/ (norm if norm > 0 else 1.0)", "/ 1.0",
           (U + "recsys/test_why.py::test_contributions_add_up_to_the_score",),
           what="the content recommender's text-match contributions no longer add up to its score"),
    Mutant("drift-groups-pooled", "drift/_groups.py",
           "r, c = ref_pred[r_groups == value], cur_pred[c_groups == value]", "r, c = ref_pred, cur_pred",
           (U + "drift/test_groups.py::test_a_shift_in_one_group_drifts_that_groups_predictions_only",),
           what="prediction drift per group computed on all rows (a one-group shift averaged away)"),
]


def pytest_cmd(nodes: list[str]) -> list[str]:
    return [sys.executable, "-P", "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-W", "ignore", *nodes]


def run_tests(nodes: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, float]:
    """``(exit code, first failing test or error line, seconds)``; 124 on timeout."""
    t = time.perf_counter()
    try:
        p = subprocess.run(pytest_cmd(nodes), cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "timed out", time.perf_counter() - t
    out = p.stdout + p.stderr
    first = re.search(r"^(FAILED|ERROR) (\S+)", out, re.M)
    return p.returncode, first.group(2) if first else (out.strip().splitlines() or [""])[-1], time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="unit tests only")
    ap.add_argument("--only", nargs="*", default=None, help="mutant ids")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per pytest call")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if args.only is None or m.id in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.id:32} workbench/{m.file:26} {m.what}")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="wb-mutants-"))
    try:
        return audit(chosen, tmp, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def audit(chosen: list[Mutant], tmp: Path, args) -> int:
    shutil.copytree(REPO / "workbench", tmp / "workbench", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "WANDB_MODE": "offline", "PYTHONDONTWRITEBYTECODE": "1"}
    where = subprocess.run([sys.executable, "-P", "-c", "import workbench; print(workbench.__file__)"], cwd=REPO,
                           env=env, capture_output=True, text=True).stdout.strip()
    if not where.startswith(str(tmp)):
        print(f"the tests would import workbench from {where!r}, not the copy: aborting", file=sys.stderr)
        return 2
    layers = ["unit"] if args.quick else ["unit", "e2e"]
    nodes = sorted({n for m in chosen for layer in layers for n in getattr(m, layer)})
    rc, first, secs = run_tests(nodes, env, args.timeout * 3)
    print(f"baseline (unmutated copy): {len(nodes)} test selections {'pass' if rc == 0 else 'FAIL: ' + first} "
          f"({secs:.0f} s)", flush=True)
    if rc != 0:
        return 2
    results = [mutate_and_test(m, tmp, env, layers, args.timeout) for m in chosen]
    killed = [r for r in results if r["verdict"] == "killed"]
    unit = [r for r in killed if r["layer"] == "unit"]
    print(f"\n{len(killed)} of {len(results)} mutants killed ({len(unit)} by the unit tests); "
          f"survived: {', '.join(r['id'] for r in results if r['verdict'] == 'survived') or 'none'}; "
          f"stale: {', '.join(r['id'] for r in results if r['verdict'] == 'stale') or 'none'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0 if len(killed) == len(results) else 1


def mutate_and_test(m: Mutant, tmp: Path, env: dict[str, str], layers: list[str], timeout: float) -> dict:
    path = tmp / "workbench" / m.file
    original = path.read_text()
    row = {"id": m.id, "file": f"workbench/{m.file}", "what": m.what, "verdict": "survived", "layer": None,
           "by": "", "seconds": 0.0}
    if original.count(m.old) != 1:
        row["verdict"] = "stale"
        print(f"{m.id:32} STALE    the patch's text occurs {original.count(m.old)} times in {m.file}", flush=True)
        return row
    path.write_text(original.replace(m.old, m.new))
    try:
        for layer in layers:
            nodes = list(getattr(m, layer))
            if not nodes:
                continue
            rc, first, secs = run_tests(nodes, env, timeout)
            row["seconds"] += round(secs, 1)
            if rc != 0:
                row.update(verdict="killed", layer=layer, by=first)
                break
    finally:
        path.write_text(original)
    print(f"{m.id:32} {row['verdict'].upper():8} {row['seconds']:6.0f} s  {row['layer'] or '':5} {row['by']}",
          flush=True)
    return row


if __name__ == "__main__":
    sys.exit(main())
