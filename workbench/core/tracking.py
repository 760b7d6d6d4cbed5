"""Experiment tracking, notebook side: what a notebook logs, and whether W&B is online, offline or off.

Offline-first and never blocking:

- mode: ``off`` when ``WORKBENCH_TRACKING=off`` (or ``WANDB_MODE=disabled``); ``online`` when W&B is
  configured (``WANDB_MODE=online`` or an API key) *and* its server answers within a few seconds,
  else ``offline`` with a warning; ``offline`` by default. Never an interactive prompt.
- headless runs: :class:`Tracker` appends history, tables, figures and artifacts to the run's journal;
  the runner publishes them to W&B after the kernel ends (:mod:`workbench.runner.publish`).
- interactive (JupyterLab): :func:`track` starts a W&B run directly.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any, Mapping

from . import journal
from .context import current
from .io import to_jsonable
from .secrets import redact

DEFAULT_PROJECT = "workbench"


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


def kernel_env() -> dict[str, str]:
    """Environment for a headless kernel: W&B never prompts or prints."""
    return {"WANDB_SILENT": "true", "WANDB_CONSOLE": "off"}


class Tracker:
    """What a notebook logs: history (epochs, folds), tables, plotly figures, files.

    Headless it journals for the runner to publish; interactively it logs to an offline (or online,
    when configured) W&B run. Every method is safe to call when tracking is off.
    """

    def __init__(self, config: Mapping[str, Any] | None = None, project: str | None = None):
        self.config = redact(dict(config or {}))
        self.project = project or project_name()
        self.context = current()
        self._wandb_run = None
        self.mode = "journal" if self.context else None
        if not self.context:
            self.mode, reason = decide_mode()
            if self.mode != "off":
                self._start_interactive(reason)

    def _start_interactive(self, reason: str) -> None:
        try:
            import wandb

            self._wandb_run = wandb.init(project=self.project, config=self.config, mode=self.mode,
                                         job_type="interactive", reinit="finish_previous",
                                         settings=wandb.Settings(init_timeout=10, silent=True, console="off"))
        except Exception as e:  # never let tracking break exploration
            warnings.warn(f"W&B tracking unavailable ({type(e).__name__}: {e}); continuing without it", stacklevel=3)
            self.mode = "off"

    def log(self, values: Mapping[str, Any], step: int | None = None) -> None:
        """Log a row of history, e.g. ``{"epoch": 3, "val_loss": 0.21}``."""
        values = {k: to_jsonable(v) for k, v in values.items()}
        if self.mode == "journal":
            journal.append(journal.HISTORY, step=step, values=values)
        elif self._wandb_run is not None:
            self._wandb_run.log(values, step=step)

    def log_table(self, name: str, frame: Any) -> None:
        """Log a pandas DataFrame as a W&B Table (e.g. the leaderboard)."""
        if self.mode == "journal":
            journal.append_file(journal.TABLE, name, frame.to_json(orient="split", default_handler=str))
        elif self._wandb_run is not None:
            import wandb

            self._wandb_run.log({name: wandb.Table(dataframe=frame.reset_index(drop=True))})

    def log_figure(self, name: str, fig: Any) -> None:
        """Log a plotly figure (as an interactive HTML panel in W&B)."""
        if self.mode == "journal":
            journal.append_file(journal.FIGURE, name, fig.to_json())
        elif self._wandb_run is not None:
            import wandb

            self._wandb_run.log({name: wandb.Html(fig.to_html(include_plotlyjs="cdn"))})

    def log_artifact(self, path: str | Path, name: str, type: str = "model") -> None:
        """Log a file or folder (e.g. the saved model) as a W&B artifact."""
        if self.mode == "journal":
            journal.append(journal.ARTIFACT, name=name, type=type, path=str(Path(path).resolve()))
        elif self._wandb_run is not None:
            import wandb

            art = wandb.Artifact(journal.safe_name(name), type=type)
            (art.add_dir if Path(path).is_dir() else art.add_file)(str(path))
            self._wandb_run.log_artifact(art)

    def summary(self, values: Mapping[str, Any]) -> None:
        """Set run-level summary values (the numbers W&B's runs table compares)."""
        values = {k: to_jsonable(v) for k, v in values.items()}
        if self.mode == "journal":
            journal.append(journal.SUMMARY, values=values)
        elif self._wandb_run is not None:
            self._wandb_run.summary.update(values)

    def finish(self) -> None:
        if self._wandb_run is not None:
            self._wandb_run.finish()
            self._wandb_run = None


def track(config: Mapping[str, Any] | None = None, project: str | None = None) -> Tracker:
    """Start tracking for this notebook; headless, the config defaults to the run's parameters."""
    ctx = current()
    if config is None and ctx is not None:
        config = ctx.params
    return Tracker(config, project)
