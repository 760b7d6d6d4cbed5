"""Experiment tracking, runner side: one W&B run per workbench run, published from the run's journal.

After the kernel ends, :class:`Publisher` replays the notebook's journal (history, tables, figures,
summary, artifacts; see :mod:`workbench.core.tracking`), sets the summary to the recorded metrics and
logs the report and model as artifacts. W&B start-up overlaps the kernel's work, and a W&B failure
never fails a run. :func:`sync_offline_runs` uploads offline runs later.
"""

from __future__ import annotations

import io
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable

from ..core.io import atomic_write_text
from ..core.journal import FIGURE, TABLE, Journal, safe_name
from ..core.runfolder import RunFolder
from ..core.runs import RunRecord
from ..core.secrets import redact
from ..core.tracking import decide_mode, project_name
from ..errors import WorkbenchError

NAMESPACES = ("cv", "epoch", "fold", "trial")
"""History prefixes kept out of the W&B summary (per-fold, per-epoch, per-trial rows)."""


class Publisher:
    """Publishes one headless run to W&B from the runner process.

    :meth:`start` begins W&B's start-up in a thread while the kernel works; :meth:`finish` replays
    the notebook's journal, sets the summary and logs the report and model artifacts. Errors and
    time-outs turn into a warning and a note in the run record, never a failed run.
    """

    def __init__(self, rec: RunRecord, folder: RunFolder, mode: str | None, reason: str,
                 wandb_dir: str | Path | None = None, scrub: Callable[[Any], Any] = lambda v: v):
        self.rec, self.folder = rec, folder
        self.mode, self.reason, self.scrub = mode, reason, scrub
        self.wandb_dir = Path(wandb_dir or os.environ.get("WANDB_DIR") or Path.cwd())
        self.run = None
        self.probe_s: float | None = None
        self.error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "Publisher":
        """Decide the mode (``mode=None``: probe W&B now) and start W&B, both in a background thread."""
        if self.mode != "off":
            self._thread = threading.Thread(target=self._init, name="workbench-wandb-init", daemon=True)
            self._thread.start()
        return self

    def _init(self) -> None:
        if self.mode is None:
            t = time.perf_counter()
            self.mode, self.reason = decide_mode()
            self.probe_s = round(time.perf_counter() - t, 3)
            if self.mode == "off":
                return
        try:
            self.run = self._wandb_init(self.mode)
        except Exception as e:
            self.error = f"W&B init failed: {type(e).__name__}: {e}"
            if self.mode == "online":  # the server answered the probe but the run could not start: go offline
                try:
                    import wandb

                    wandb.teardown()  # the failed start holds the run id
                    self.run = self._wandb_init("offline")
                    self.reason = f"{self.error}; logged offline instead (`workbench sync` uploads later)"
                    self.mode, self.error = "offline", None
                except Exception as e2:
                    self.error += f"; offline fallback failed too: {type(e2).__name__}: {e2}"

    def _wandb_init(self, mode: str):
        import wandb

        self.wandb_dir.mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project=project_name(), id=self.rec.run_id, name=f"{self.rec.notebook_name}-{self.rec.run_id}",
            job_type=self.rec.notebook_name, group=self.rec.sweep_id or None,
            config=redact(self.rec.params), mode=mode, dir=str(self.wandb_dir),
            tags=[self.rec.notebook_name], reinit="create_new",
            settings=wandb.Settings(init_timeout=10, silent=True, console="off", x_disable_stats=True,
                                    x_disable_meta=True, x_disable_machine_info=True, save_code=False),
        )
        # per-fold and per-epoch rows are history only: the run-level summary holds the run's own metrics,
        # so W&B's runs table and parallel coordinates compare like with like
        for prefix in NAMESPACES:
            run.define_metric(f"{prefix}/*", summary="none")
        return run

    def finish(self, journal: Journal, timeout: float = 30.0) -> dict[str, Any]:
        """Publish ``journal`` (secrets already scrubbed) and the run's record and report, close the W&B
        run; returns the ``tracking`` part of the record."""
        t0 = time.perf_counter()
        if self._thread is not None:
            self._thread.join(timeout + 5)
        info: dict[str, Any] = {"mode": self.mode or "off", "reason": self.reason}
        if self.probe_s is not None:
            info["probe_s"] = self.probe_s
        if self.mode == "offline" and "did not answer" in self.reason:
            warnings.warn(self.reason, stacklevel=2)
        if self.mode in ("off", None):
            return info
        if self.run is None:
            info["error"] = self.error or f"W&B did not start within {timeout:g} s"
            warnings.warn(f"tracking skipped: {info['error']}", stacklevel=2)
            return info
        try:
            self._publish(journal)
            info["wandb_id"] = self.run.id
            info["project"] = self.run.project
            if self.mode == "offline":
                info["offline_dir"] = str(Path(self.run.dir).parent)
            else:
                info["url"] = self.run.url
        except Exception as e:
            info["error"] = f"W&B logging failed: {type(e).__name__}: {e}"
            warnings.warn(f"tracking incomplete: {info['error']}", stacklevel=2)
        finally:
            try:
                self.run.finish(exit_code=0 if self.rec.status == "succeeded" else 1)
            except Exception as e:  # pragma: no cover - defensive
                info.setdefault("error", f"W&B finish failed: {e}")
        info["seconds"] = round(time.perf_counter() - t0, 3)
        return info

    def _publish(self, journal: Journal) -> None:
        import pandas as pd
        import wandb

        run, scrub = self.run, self.scrub
        for step, values in journal.history():
            run.log(values, step=step)
        for kind, name, text in journal.files(TABLE, FIGURE):
            if kind == TABLE:
                run.log({name: wandb.Table(dataframe=pd.read_json(io.StringIO(scrub(text)), orient="split"))})
            else:
                import plotly.io as pio

                run.log({name: wandb.Html(pio.from_json(scrub(text)).to_html(include_plotlyjs="cdn"))})
        run.summary.update(journal.summary())
        run.summary.update(self.rec.metrics or {})
        run.summary["status"] = self.rec.status
        self._log_artifacts(journal)

    def _log_artifacts(self, journal: Journal) -> None:
        import wandb

        from ..reports import self_contained

        report = wandb.Artifact(f"report-{self.rec.notebook_name}", type="report",
                                metadata={"run_id": self.rec.run_id, "status": self.rec.status})
        if self.folder.report.exists():  # self-contained (assets inlined) beside W&B's run files
            whole = Path(self.run.dir).parent / self.folder.REPORT  # the staging folder, not its synced files/
            atomic_write_text(whole, self_contained(self.folder.report, self.folder.path.parent.parent))
            report.add_file(str(whole), name=self.folder.REPORT, policy="immutable", skip_cache=True)
        if self.folder.record.exists():  # immutable: referenced, not copied into W&B's staging area
            report.add_file(str(self.folder.record), policy="immutable", skip_cache=True)
        self.run.log_artifact(report)
        for name, kind, path in journal.artifacts():
            if path.exists():
                art = wandb.Artifact(safe_name(name), type=kind)
                (art.add_dir if path.is_dir() else art.add_file)(str(path), policy="immutable", skip_cache=True)
                self.run.log_artifact(art)


def sync_offline_runs(wandb_dir: str | Path | None = None) -> str:
    """Upload offline W&B runs not yet synced (``wandb sync``); returns a one-line summary."""
    import shutil
    import subprocess


    root = Path(wandb_dir or os.environ.get("WANDB_DIR") or ".") / "wandb"
    runs = sorted(p for p in root.glob("offline-run-*") if p.is_dir() and not any(p.glob("*.synced")))
    if not runs:
        return f"nothing to sync under {root}"
    mode, reason = decide_mode()
    if mode != "online":
        raise WorkbenchError(f"cannot sync {len(runs)} offline runs: {reason}. Configure W&B (`wandb login` or "
                             "WANDB_API_KEY) on a machine with network access, then rerun `workbench sync`")
    exe = shutil.which("wandb")
    if exe is None:
        raise WorkbenchError("the `wandb` command is not on PATH; activate the environment workbench runs in")
    failed = [r.name for r in runs
              if subprocess.run([exe, "sync", str(r)], capture_output=True, text=True).returncode != 0]
    if failed:
        raise WorkbenchError(f"{len(failed)} of {len(runs)} runs failed to sync: {', '.join(failed[:5])}")
    return f"synced {len(runs)} offline runs from {root}"
