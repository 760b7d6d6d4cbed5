"""Run options, declared once: the CLI's flags, the record, the cache key, the rerun command."""

from dataclasses import fields
from pathlib import Path

import pytest
from support import make_notebook

from workbench.cli._commands import run_options
from workbench.cli._parser import build_parser, rewrite_parameters
from workbench.errors import ParameterError, WorkbenchError
from workbench.runner.options import RunOptions
from workbench.runner.plan import plan_run


def _args(*argv: str):
    return build_parser().parse_args(rewrite_parameters(list(argv)))


def test_flags_not_given_keep_the_dataclass_defaults():
    assert run_options(_args("run", "nb.ipynb")) == RunOptions()
    assert run_options(_args("sweep", "nb.ipynb", "-g", "a=1")) == RunOptions()
    assert run_options(_args("demo")) == RunOptions()


def test_every_flag_sets_its_field():
    got = run_options(_args("run", "nb.ipynb", "--timeout", "5", "--hide-code", "--no-progress", "--kernel", "k",
                            "--force", "--cwd", "d", "--log-output", "--reports", "r", "--trust-html"))
    assert got == RunOptions(reports="r", timeout=5.0, hide_code=True, kernel="k", cwd="d", log_output=True,
                             progress=False, force=True, trust_html=True)
    sweep = run_options(_args("sweep", "nb.ipynb", "-g", "a=1", "--hide-code", "--cwd", "d", "--timeout", "2"))
    assert sweep == RunOptions(hide_code=True, cwd="d", timeout=2.0)
    helps = {a.dest: a.help for a in build_parser()._subparsers._group_actions[0].choices["run"]._actions}
    for f in fields(RunOptions):  # the help text is the field's, not a second copy
        assert helps[f.name] == f.metadata["help"]


def test_keyed_options_rerun_flags_and_checks(tmp_path: Path):
    opts = RunOptions(timeout=5.0, hide_code=True, kernel=None, cwd=str(tmp_path), force=True, progress=False)
    assert opts.keyed("python3") == {"hide_code": True, "trust_html": False, "kernel": "python3", "cwd": str(tmp_path)}
    assert RunOptions(trust_html=True).rerun_args() == ["--trust-html"]
    assert opts.rerun_args() == ["--timeout", "5", "--hide-code", "--cwd", str(tmp_path)]
    assert RunOptions().rerun_args() == [] and RunOptions(kernel="ir", timeout=0.5).rerun_args() == \
        ["--timeout", "0.5", "--kernel", "ir"]
    assert RunOptions.from_dict(opts.to_dict()) == opts
    assert RunOptions(cwd=".").checked().cwd == str(Path(".").resolve())
    (tmp_path / "file").write_text("x")
    for bad, message in ((RunOptions(reports=tmp_path / "file"), "reports folder .* is a file"),
                         (RunOptions(cwd=tmp_path / "nope"), "cwd .* is not a folder"),
                         (RunOptions(timeout=0), "timeout must be a positive number"),
                         (RunOptions(timeout="5"), "timeout must be a positive number")):
        with pytest.raises(WorkbenchError, match=message):
            bad.checked()


def test_plan_keys_what_changes_the_result_and_writes_nothing(tmp_path: Path):
    nb = make_notebook(tmp_path / "nb.ipynb", 'n = 2  # a number\ntoken = "t0"  # a secret', "print(n)")
    reports = tmp_path / "reports"
    plan = plan_run(nb, {"n": 3}, RunOptions(reports=reports))
    assert plan.given == {"n": 3} and plan.full == {"n": 3, "token": "t0"} and plan.kernel == "python3"
    assert plan_run(nb, {"n": 3}, RunOptions(reports=reports, timeout=9, force=True)).key == plan.key
    assert plan_run(nb, {"n": 4}, RunOptions(reports=reports)).key != plan.key
    assert plan_run(nb, {"n": 3}, RunOptions(reports=reports, hide_code=True)).key != plan.key
    assert plan_run(nb, {"n": 3}, RunOptions(reports=reports, cwd=tmp_path)).key != plan.key
    assert plan_run(nb, {"n": 3}, RunOptions(reports=reports, trust_html=True)).key != plan.key
    rec = plan_run(nb, {"n": 3, "token": "s3cret"}, RunOptions(reports=reports, timeout=9, hide_code=True)).record(
        "r1", "2026-01-01T00:00:00")
    assert rec.options == {"hide_code": True, "trust_html": False, "kernel": "python3", "cwd": None}
    assert rec.params == {"n": 3, "token": "***"} and rec.given_params == {"n": 3, "token": "***"}
    assert "-p n 3 -p token" in rec.rerun_command and rec.rerun_command.endswith(" --timeout 9 --hide-code")
    assert "s3cret" not in rec.rerun_command
    with pytest.raises(ParameterError, match="unknown parameter 'm'"):
        plan_run(nb, {"m": 1}, RunOptions(reports=reports))
    with pytest.raises(ParameterError, match="no Jupyter kernel named 'no-such-kernel'"):
        plan_run(nb, {}, RunOptions(reports=reports, kernel="no-such-kernel"))
    assert not reports.exists()
