"""How a notebook runs: :class:`RunOptions`, declared once.

Each option is one field: its default, its help text, the command-line flag that sets it, and whether
it is *keyed* (it changes the result or the report: part of the cache key and of ``run.json``'s
``options``) or *rerun* (written into the record's rerun command when it differs from the default).
The CLI builds its flags from these fields, runs and sweeps take the dataclass itself, and a sweep
sends it to each grid point as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..core.runfolder import DEFAULT_REPORTS, ReportsTree
from ..errors import ParameterError


def _option(default: Any, help: str, flag: str, *, keyed: bool = False, rerun: bool = False,
            metavar: str | None = None, type: type | None = None) -> Any:
    return field(default=default, metadata={"help": help, "flag": flag, "keyed": keyed, "rerun": rerun,
                                            "metavar": metavar, "type": type})


@dataclass(frozen=True)
class RunOptions:
    """How a run executes and where it writes (everything but the notebook and its parameters)."""

    reports: str | Path = _option(DEFAULT_REPORTS, "reports folder (default: ./reports; created if missing)",
                                  "--reports", metavar="DIR")
    timeout: float | None = _option(None, "per-cell timeout in seconds (default: none)", "--timeout", rerun=True,
                                    metavar="S", type=float)
    hide_code: bool = _option(False, "leave code cells out of the HTML report", "--hide-code", keyed=True, rerun=True)
    kernel: str | None = _option(None, "Jupyter kernel name (default: the notebook's)", "--kernel", keyed=True,
                                 rerun=True, metavar="NAME")
    cwd: str | Path | None = _option(None, "working directory of the notebook (default: here); relative paths in "
                                           "it resolve there", "--cwd", keyed=True, rerun=True, metavar="DIR")
    trust_html: bool = _option(False, "draw the notebook's own HTML (markdown, HTML outputs) in the report as it "
                                      "is, scripts included; by default it is sanitized", "--trust-html", keyed=True,
                               rerun=True)
    log_output: bool = _option(False, "stream cell outputs to the terminal (stderr) as they arrive, secrets "
                                      "scrubbed", "--log-output")
    progress: bool | None = _option(None, "per-cell progress bar (default: when stderr is a terminal)",
                                    "--no-progress")
    force: bool = _option(False, "execute even if an identical earlier run (same code, parameters, data, "
                                 "packages) can be reused", "--force")

    def checked(self) -> "RunOptions":
        """These options validated, with ``cwd`` made absolute (raises :class:`ParameterError`)."""
        ReportsTree(Path(self.reports)).check()
        if self.timeout is not None and (isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float))
                                         or not self.timeout > 0):
            raise ParameterError(f"timeout must be a positive number of seconds or None (timeout={self.timeout!r})")
        if self.cwd is None:
            return self
        if not Path(self.cwd).is_dir():
            raise ParameterError(f"cwd {str(self.cwd)!r} is not a folder")
        return RunOptions(**{**self.to_dict(), "cwd": str(Path(self.cwd).resolve())})

    def keyed(self, kernel: str) -> dict[str, Any]:
        """The options that change a run's result or report, with the kernel the run resolved: part of
        the cache key, recorded as ``run.json``'s ``options``."""
        values = {**self.to_dict(), "kernel": kernel}
        return {f.name: values[f.name] for f in fields(self) if f.metadata["keyed"]}

    def rerun_args(self) -> list[str]:
        """The flags that give these options again (those that differ from the defaults)."""
        args: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if not f.metadata["rerun"] or value == f.default:
                continue
            if isinstance(value, bool):
                args.append(f.metadata["flag"])
            else:
                args += [f.metadata["flag"], f"{value:g}" if isinstance(value, float) else str(value)]
        return args

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (paths as text)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunOptions":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
