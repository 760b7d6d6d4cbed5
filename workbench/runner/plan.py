"""What a run will be, decided before anything runs or is written: :func:`plan_run`.

The notebook is read once (:class:`~workbench.runner.source.NotebookSource`); its signature checks the
parameters, its kernelspec gives the kernel, its code digest, the parameters, the input data's
fingerprints, the package versions and the keyed options give the cache key. A bad value, a missing
kernel or an unusable folder is an error here, before a kernel starts or a run folder exists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..core.envlock import environment_lock, lock_digest
from ..core.runfolder import ReportsTree, check_name, notebook_name
from ..core.runs import RunRecord
from ..core.secrets import environment_secrets, holds_secret, redact
from ..core.versions import package_versions
from ..errors import ParameterError
from .cache import cache_key, data_fingerprints, secret_salt
from .options import RunOptions
from .params import Signature
from .record import git_info, rerun_command
from .source import NotebookSource


@dataclass(frozen=True)
class Plan:
    """A checked run: the notebook, its parameters (``given`` and the ``full`` set injected), the options,
    the resolved kernel and the cache key with what it was computed from."""

    source: NotebookSource
    options: RunOptions
    given: dict[str, Any]
    full: dict[str, Any]
    kernel: str
    key: str
    fingerprints: dict[str, str]
    packages: dict[str, str]
    git: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    sweep_id: str | None = None
    executor: str = "local"
    notes: tuple[str, ...] = ()
    environment: dict[str, Any] = field(default_factory=dict)
    rerun_of: str | None = None

    @property
    def notebook(self) -> Path:
        return self.source.path

    @property
    def reports(self) -> ReportsTree:
        return ReportsTree(Path(self.options.reports))

    @property
    def scrub_values(self) -> dict[str, Any]:
        """Every value to keep out of what the run writes: the run's secret values (secret keys nested in
        dict parameters too), the notebook's secret defaults (they stand in its parameters cell even when
        a run overrides them) and the secrets in this process's environment (a notebook may print them)."""
        out = {k: v for k, v in self.full.items() if holds_secret(k, v)}
        out.update({f"{k} (default)": v for k, v in self.defaults.items() if holds_secret(k, v)})
        out.update({f"environment {k}": v for k, v in environment_secrets().items()})
        return out

    @property
    def secrets(self) -> dict[str, Any]:
        """Parameters that are secret or hold a secret-named key, with a value: passed to the kernel
        privately, never injected into the notebook."""
        return {k: v for k, v in self.full.items() if holds_secret(k, v) and v not in (None, "")}

    def record(self, run_id: str, started: str) -> RunRecord:
        """The run's first record (``running``): the fields executed and reused runs share, secrets redacted
        (``environment``: the lock's digest; the lock is stored when the run is indexed)."""
        return RunRecord(
            run_id=run_id, notebook=str(self.notebook), notebook_name=notebook_name(self.notebook), status="running",
            params=redact(dict(self.full)), given_params=redact(dict(self.given)), started=started,
            git=dict(self.git), packages=dict(self.packages), data=dict(self.fingerprints), cache_key=self.key,
            rerun_command=rerun_command(str(self.notebook), redact(dict(self.given)), self.options.rerun_args()),
            pid=os.getpid(), host=os.uname().nodename, sweep_id=self.sweep_id,
            options=self.options.keyed(self.kernel), notes=list(self.notes), executor=self.executor,
            notebook_sha256=self.source.sha256 or None, code_digest=self.source.code_digest or None,
            environment=lock_digest(self.environment) if self.environment else None,
            rerun_of=self.rerun_of)


def plan_run(notebook: str | Path | NotebookSource, params: Mapping[str, Any] | None = None,
             options: RunOptions | None = None, *, sweep_id: str | None = None,
             executor: str | None = None, rerun_of: str | None = None) -> Plan:
    """Check everything about a run; raises :class:`ParameterError` and friends before any work.

    Parameters
    ----------
    notebook : the ``.ipynb`` (a path, or a source already read).
    params : typed parameter values, checked against the notebook's signature.
    options : how it runs (default: :class:`RunOptions`'s defaults).
    sweep_id : the sweep this run belongs to, if any.
    executor : who runs it, for the record (default ``local``).
    rerun_of : the run this one reruns (``workbench rerun``), for the record.
    """
    source = NotebookSource.load(notebook)
    options = (options or RunOptions()).checked()
    signature = Signature.of(source)
    bound = signature.bind(dict(params or {}))
    kernel, kernel_note = resolve_kernel(source, options.kernel)
    if sweep_id is not None:
        check_name(sweep_id, "sweep id")
    ReportsTree(Path(options.reports)).run(source.path, "x")  # the notebook's name must be a safe folder name
    packages = package_versions()
    fingerprints = data_fingerprints(bound.full, cwd=options.cwd or ".")
    key = cache_key(source.code_digest, bound.full, fingerprints, packages, options.keyed(kernel),
                    salt=secret_salt() if any(holds_secret(k, v) for k, v in bound.full.items()) else None)
    git = git_info(source.path.parent) if source.revision is None else {"commit": source.revision, "dirty": False}
    return Plan(source, options, bound.given, bound.full, kernel, key, fingerprints, packages, git,
                signature.defaults, sweep_id, executor or "local", bound.notes + ((kernel_note,) if kernel_note else ()),
                environment_lock(), rerun_of)


def resolve_kernel(source: NotebookSource, requested: str | None) -> tuple[str, str | None]:
    """The kernel to run with: the requested one, else the notebook's kernelspec, else this environment's
    Python kernel (a notebook saved without kernelspec, by VS Code or as a blank file); and a note."""
    if requested:
        _check_kernel(requested)
        return requested, None
    if source.kernel:
        return source.kernel, None
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME

    return NATIVE_KERNEL_NAME, (f"the notebook names no kernel: ran with this environment's Python kernel "
                                f"({NATIVE_KERNEL_NAME}); --kernel chooses another")


def _check_kernel(name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if name not in specs:
        raise ParameterError(f"no Jupyter kernel named {name!r}; installed kernels: {', '.join(sorted(specs))} "
                             "(`jupyter kernelspec list`)")
