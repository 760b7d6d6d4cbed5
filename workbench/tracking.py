"""Experiment tracking: the only module that talks to Weights & Biases.

Offline-first and never blocking:

- mode: ``off`` when ``WORKBENCH_TRACKING=off`` (or ``WANDB_MODE=disabled``); ``online`` when W&B is
  configured (``WANDB_MODE=online`` or an API key) *and* its server answers within a few seconds,
  else ``offline`` with a warning; ``offline`` by default. Never an interactive prompt.
- headless runs: the notebook's :class:`Tracker` journals history, tables, figures and artifacts
  into ``artifacts/``; after the kernel ends, the runner publishes one W&B run per workbench run
  (same id, ``job_type`` = notebook, ``group`` = sweep id, config = parameters with secrets
  redacted, summary = recorded metrics) plus the report and model files as artifacts. W&B start-up
  overlaps the kernel's work, and a W&B failure never fails a run.
- interactive (JupyterLab): :func:`track` starts an offline W&B run directly.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any, Mapping

SECRET_NAME = re.compile(r"key|token|secret|passw|credential|auth", re.I)
REDACTED = "***"
JOURNAL = "history.jsonl"
DEFAULT_PROJECT = "workbench"


def is_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(str(name)))


def redact(obj: Any) -> Any:
    """A copy of ``obj`` with the values of secret-looking keys (key, token, secret, password) hidden."""
    if isinstance(obj, Mapping):
        return {k: (REDACTED if is_secret(k) and v not in (None, "") else redact(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    return obj


def _has_api_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("//")[-1].split("/")[0]
    try:  # `wandb login` stores the key in ~/.netrc under the server's host
        return host in Path(os.environ.get("NETRC", Path.home() / ".netrc")).read_text()
    except OSError:
        return False


def server_answers(base_url: str, timeout: float = 3.0) -> bool:
    """Whether the W&B server at ``base_url`` answers HTTP within ``timeout`` seconds (any status)."""
    try:
        urllib.request.urlopen(urllib.request.Request(base_url.rstrip("/") + "/healthz", method="GET"),
                               timeout=timeout).close()
        return True
    except urllib.error.HTTPError:
        return True  # it answered, even if not with 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def decide_mode(probe_timeout: float = 3.0) -> tuple[str, str]:
    """``(mode, reason)`` with mode in ``online``, ``offline``, ``off``; at most ``probe_timeout`` s."""
    if os.environ.get("WORKBENCH_TRACKING", "").lower() in ("off", "0", "false", "disabled") \
            or os.environ.get("WANDB_MODE", "").lower() in ("disabled", "off"):
        return "off", "tracking turned off (WORKBENCH_TRACKING=off or WANDB_MODE=disabled)"
    wanted = os.environ.get("WANDB_MODE", "").lower()
    if wanted in ("offline", "dryrun"):
        return "offline", "WANDB_MODE=offline"
    if wanted == "online" or _has_api_key():
        base = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
        if server_answers(base, probe_timeout):
            return "online", f"W&B configured and {base} answers"
        return "offline", f"W&B is configured but {base} did not answer within {probe_timeout:g} s: logging offline"
    return "offline", "W&B not configured (no API key): logging offline; `workbench sync` uploads later"


def project_name() -> str:
    return os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT


# ----------------------------------------------------------------------------- notebook side


class Tracker:
    """What a notebook logs: history (epochs, folds), tables, plotly figures, files.

    Headless it journals into the run's ``artifacts/`` for the runner to publish; interactively it
    logs to an offline (or online, when configured) W&B run. Every method is safe to call when
    tracking is off.
    """

    def __init__(self, config: Mapping[str, Any] | None = None, project: str | None = None):
        self.config = redact(dict(config or {}))
        self.project = project or project_name()
        self.run_dir = os.environ.get("WORKBENCH_RUN_DIR")
        self._wandb_run = None
        self.mode = "journal" if self.run_dir else None
        if not self.run_dir:
            self.mode, reason = decide_mode()
            if self.mode != "off":
                self._start_interactive(reason)

    # -- interactive
    def _start_interactive(self, reason: str) -> None:
        try:
            import wandb

            self._wandb_run = wandb.init(project=self.project, config=self.config, mode=self.mode,
                                         job_type="interactive", reinit="finish_previous",
                                         settings=wandb.Settings(init_timeout=10, silent=True, console="off"))
        except Exception as e:  # never let tracking break exploration
            warnings.warn(f"W&B tracking unavailable ({type(e).__name__}: {e}); continuing without it", stacklevel=3)
            self.mode = "off"

    # -- journal
    def _journal(self, entry: dict[str, Any]) -> None:
        path = Path(self.run_dir) / "artifacts" / JOURNAL
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, default=_jsonable) + "\n")

    def log(self, values: Mapping[str, Any], step: int | None = None) -> None:
        """Log a row of history, e.g. ``{"epoch": 3, "val_loss": 0.21}``."""
        values = {k: _jsonable(v) for k, v in values.items()}
        if self.mode == "journal":
            self._journal({"kind": "history", "step": step, "values": values})
        elif self._wandb_run is not None:
            self._wandb_run.log(values, step=step)

    def log_table(self, name: str, frame: Any) -> None:
        """Log a pandas DataFrame as a W&B Table (e.g. the leaderboard)."""
        if self.mode == "journal":
            path = Path(self.run_dir) / "artifacts" / f"table-{_safe(name)}.json"
            path.write_text(frame.to_json(orient="split", default_handler=str), encoding="utf-8")
            self._journal({"kind": "table", "name": name, "path": path.name})
        elif self._wandb_run is not None:
            import wandb

            self._wandb_run.log({name: wandb.Table(dataframe=frame.reset_index(drop=True))})

    def log_figure(self, name: str, fig: Any) -> None:
        """Log a plotly figure (as an interactive HTML panel in W&B)."""
        if self.mode == "journal":
            path = Path(self.run_dir) / "artifacts" / f"figure-{_safe(name)}.json"
            path.write_text(fig.to_json(), encoding="utf-8")
            self._journal({"kind": "figure", "name": name, "path": path.name})
        elif self._wandb_run is not None:
            import wandb

            self._wandb_run.log({name: wandb.Html(fig.to_html(include_plotlyjs="cdn"))})

    def log_artifact(self, path: str | Path, name: str, type: str = "model") -> None:
        """Log a file or folder (e.g. the saved model) as a W&B artifact."""
        if self.mode == "journal":
            self._journal({"kind": "artifact", "name": name, "type": type, "path": str(Path(path).resolve())})
        elif self._wandb_run is not None:
            import wandb

            art = wandb.Artifact(_safe(name), type=type)
            (art.add_dir if Path(path).is_dir() else art.add_file)(str(path))
            self._wandb_run.log_artifact(art)

    def summary(self, values: Mapping[str, Any]) -> None:
        if self._wandb_run is not None:
            self._wandb_run.summary.update({k: _jsonable(v) for k, v in values.items()})

    def finish(self) -> None:
        if self._wandb_run is not None:
            self._wandb_run.finish()
            self._wandb_run = None


def track(config: Mapping[str, Any] | None = None, project: str | None = None) -> Tracker:
    """Start tracking for this notebook; headless, the config defaults to the run's parameters."""
    if config is None and os.environ.get("WORKBENCH_PARAMS"):
        config = json.loads(os.environ["WORKBENCH_PARAMS"])
    return Tracker(config, project)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name)).strip("-") or "item"


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        return v.item()
    if hasattr(v, "tolist"):
        return v.tolist()
    return v if isinstance(v, (int, float, str, bool, type(None), list, dict)) else str(v)


# ----------------------------------------------------------------------------- runner side


def kernel_env() -> dict[str, str]:
    """Environment for a headless kernel: W&B never prompts or prints."""
    return {"WANDB_SILENT": "true", "WANDB_CONSOLE": "off"}


class Publisher:
    """Publishes one headless run to W&B from the runner process.

    :meth:`start` begins W&B's start-up in a thread while the kernel works; :meth:`finish` replays
    the notebook's journal, sets the summary and logs the report and model artifacts. Errors and
    time-outs turn into a warning and a note in the run record, never a failed run.
    """

    def __init__(self, rec: dict[str, Any], out_dir: Path, mode: str, reason: str, wandb_dir: str | Path | None = None):
        self.rec, self.out_dir, self.mode, self.reason = rec, Path(out_dir), mode, reason
        self.wandb_dir = Path(wandb_dir or os.environ.get("WANDB_DIR") or Path.cwd())
        self.run = None
        self.error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "Publisher":
        if self.mode != "off":
            self._thread = threading.Thread(target=self._init, name="workbench-wandb-init", daemon=True)
            self._thread.start()
        return self

    def _init(self) -> None:
        try:
            import wandb

            self.wandb_dir.mkdir(parents=True, exist_ok=True)
            self.run = wandb.init(
                project=project_name(), id=self.rec["run_id"], name=f'{self.rec["notebook_name"]}-{self.rec["run_id"]}',
                job_type=self.rec["notebook_name"], group=self.rec.get("sweep_id") or None,
                config=redact(self.rec.get("params", {})), mode=self.mode, dir=str(self.wandb_dir),
                tags=[self.rec["notebook_name"]], reinit="create_new",
                settings=wandb.Settings(init_timeout=10, silent=True, console="off", x_disable_stats=True,
                                        x_disable_meta=True, x_disable_machine_info=True, save_code=False),
            )
        except Exception as e:
            self.error = f"W&B init failed: {type(e).__name__}: {e}"

    def finish(self, timeout: float = 30.0) -> dict[str, Any]:
        """Publish everything and close the W&B run; returns the ``tracking`` part of the record."""
        info: dict[str, Any] = {"mode": self.mode, "reason": self.reason}
        if self.mode == "off":
            return info
        t0 = time.perf_counter()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.run is None:
            info["error"] = self.error or f"W&B did not start within {timeout:g} s"
            warnings.warn(f"tracking skipped: {info['error']}", stacklevel=2)
            return info
        try:
            self._publish()
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
                self.run.finish(exit_code=0 if self.rec.get("status") == "succeeded" else 1)
            except Exception as e:  # pragma: no cover - defensive
                info.setdefault("error", f"W&B finish failed: {e}")
        info["seconds"] = round(time.perf_counter() - t0, 3)
        return info

    def _publish(self) -> None:
        import pandas as pd
        import wandb

        run, art_dir = self.run, self.out_dir / "artifacts"
        journal = art_dir / JOURNAL
        entries = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines() if line.strip()] \
            if journal.exists() else []
        for e in entries:
            if e["kind"] == "history":
                run.log(e["values"], step=e.get("step"))
        for e in entries:
            if e["kind"] == "table":
                frame = pd.read_json(art_dir / e["path"], orient="split")
                run.log({e["name"]: wandb.Table(dataframe=frame)})
            elif e["kind"] == "figure":
                import plotly.io as pio

                fig = pio.read_json(str(art_dir / e["path"]))
                run.log({e["name"]: wandb.Html(fig.to_html(include_plotlyjs="cdn"))})
        run.summary.update(self.rec.get("metrics") or {})
        run.summary["status"] = self.rec.get("status")
        report = wandb.Artifact(f'report-{self.rec["notebook_name"]}', type="report",
                                metadata={"run_id": self.rec["run_id"], "status": self.rec.get("status")})
        for name in ("report.html", "run.json"):
            if (self.out_dir / name).exists():
                report.add_file(str(self.out_dir / name))
        run.log_artifact(report)
        for e in entries:
            if e["kind"] == "artifact" and Path(e["path"]).exists():
                art = wandb.Artifact(_safe(e["name"]), type=e.get("type", "model"))
                (art.add_dir if Path(e["path"]).is_dir() else art.add_file)(e["path"])
                run.log_artifact(art)


def sync_offline_runs(wandb_dir: str | Path | None = None) -> str:
    """Upload offline W&B runs not yet synced (``wandb sync``); returns a one-line summary."""
    import shutil
    import subprocess

    from .errors import WorkbenchError

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
