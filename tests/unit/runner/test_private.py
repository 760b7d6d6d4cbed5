"""Secret values on the run path (issue 21, item 3): nested secret keys are passed privately, the cache
key is salted, environment secrets are scrubbed, sweeps never show secret grid values, and the kernel
gets its secrets through a pipe read once, never through its environment."""

import json
import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from support import make_notebook

from workbench.core import context
from workbench.runner._kernel import SecretPipe, inject_parameters
from workbench.runner.cache import cache_key
from workbench.runner.plan import plan_run
from workbench.runner.sweeps import Point, Sweep, run_point


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def nb(tmp_path: Path) -> Path:
    return make_notebook(tmp_path / "nb.ipynb", "opts = {}  # options\npin_secret = 0  # a PIN\nn = 1", "print(n)")


def test_a_secret_key_nested_in_a_dict_parameter_is_passed_privately(nb: Path):
    plan = plan_run(nb, {"opts": {"lr": 0.1, "service": {"api_key": "nested-s3cret"}}})
    assert plan.secrets["opts"] == {"lr": 0.1, "service": {"api_key": "nested-s3cret"}}
    injected = inject_parameters(plan.source.node(), plan.full, plan.secrets, plan.kernel)
    cell = next(c for c in injected.cells if "injected-parameters" in c.metadata["tags"])
    assert "nested-s3cret" not in cell.source and "opts = _wb_context.secret('opts')" in cell.source
    rec = plan.record("r1", "now")
    assert rec.params["opts"] == {"lr": 0.1, "service": {"api_key": "***"}} and "nested-s3cret" not in rec.rerun_command


def test_the_cache_key_of_a_short_secret_cannot_be_recomputed_without_the_private_salt(nb: Path, private_cache):
    plan = plan_run(nb, {"pin_secret": 4821})
    salt = private_cache / "workbench" / "cache-salt"
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600 and len(salt.read_bytes()) == 32
    options = plan.options.keyed(plan.kernel)
    guesses = {cache_key(plan.source.code_digest, {**plan.full, "pin_secret": pin}, plan.fingerprints, plan.packages,
                         options, salt=b"attacker-guess-of-the-salt-0000000") for pin in range(10_000)}
    assert plan.key not in guesses, "a 4-digit secret is recovered from run.json's cache key"
    assert plan_run(nb, {"pin_secret": 4821}).key == plan.key, "same secret, same salt: the run is reused"
    assert plan_run(nb, {"pin_secret": 4822}).key != plan.key, "another secret is another run"
    assert plan_run(nb, {"n": 2}).key, "no secret: no salt needed"


def test_environment_secrets_are_scrubbed_from_outputs(nb: Path, monkeypatch):
    from workbench.runner._scrub import scrub_value

    monkeypatch.setenv("SERVICE_API_TOKEN", "env-s3cret-value")
    plan = plan_run(nb, {})
    assert scrub_value('{"t": "env-s3cret-value"}', plan.scrub_values) == '{"t": "***"}'


def test_a_sweep_shows_no_secret_grid_value(tmp_path: Path, monkeypatch):
    sweep = Sweep("s1", "nb.ipynb", {"api_key": ["grid-s3cret-1", "grid-s3cret-2"], "n": [1, 2]},
                  {"db_password": "base-s3cret"}, [Point({"api_key": "grid-s3cret-1", "n": 1})])
    assert "s3cret" not in sweep.command and "-g n=1,2" in sweep.command
    seen = []
    real = subprocess.Popen

    def spy(args, **kw):
        seen.append(list(args))
        return real(["true"], **kw)

    monkeypatch.setattr(subprocess, "Popen", spy)
    run_point({"notebook": "nb.ipynb", "params": {"api_key": "grid-s3cret-1"}}, str(tmp_path))
    assert seen and not any("s3cret" in a for a in seen[0]), "a secret on a child's command line"


def test_the_kernel_reads_its_secrets_from_a_pipe_that_is_gone_once_read(tmp_path: Path, monkeypatch):
    pipe = SecretPipe(tmp_path, {"api_key": "pipe-s3cret", "opts": {"token": 7}})
    try:
        assert stat.S_ISFIFO(os.stat(pipe.path).st_mode) and stat.S_IMODE(os.stat(pipe.path).st_mode) == 0o600
        monkeypatch.setenv(context.SECRETS_ENV, pipe.path)
        monkeypatch.setattr(context, "_SECRETS", None)
        got: list = []
        t = threading.Thread(target=lambda: got.append(context.secret("api_key")))
        t.start()
        t.join(30)
        assert got == ["pipe-s3cret"] and context.secret("opts") == {"token": 7}
        assert not os.path.exists(pipe.path) and context.SECRETS_ENV not in os.environ
        with pytest.raises(KeyError, match="no secret parameter 'x'"):
            context.secret("x")
    finally:
        pipe.close()
    assert json.loads(json.dumps(context._SECRETS)) == {"api_key": "pipe-s3cret", "opts": {"token": 7}}
    monkeypatch.setattr(context, "_SECRETS", None)
