"""The serve options: model names, tokens, limits; what workers receive through the environment."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.serve import ServeConfig, ServeError, parse_models
from workbench.serve._config import redact_url
from workbench.serve._http import route_labels


def test_model_names_from_folders_or_given(tmp_path):
    (tmp_path / "churn-v2").mkdir()
    (tmp_path / "a=b").mkdir()
    assert parse_models([str(tmp_path / "churn-v2")]) == [("churn-v2", str(tmp_path / "churn-v2"))]
    assert parse_models([f"best={tmp_path / 'churn-v2'}"]) == [("best", str(tmp_path / "churn-v2"))]
    with pytest.raises(ServeError, match="give one"):  # an existing folder wins over NAME=DIR; its name needs one
        parse_models([str(tmp_path / "a=b")])
    for bad in ("../x=dir", "na me=dir", "_private=dir", ".hidden=dir", f"{'n' * 65}=dir"):
        with pytest.raises(ServeError, match="is not allowed"):
            parse_models([bad])
    (tmp_path / "bad name").mkdir()
    with pytest.raises(ServeError, match="give one: workbench serve my_model="):
        parse_models([str(tmp_path / "bad name")])


@pytest.mark.parametrize("change, match", [
    (dict(models=[]), "at least one model"),
    (dict(models=[("m", "a"), ("m", "b")]), "two models are named 'm'"),
    (dict(token="short"), "at least 16 printable"),
    (dict(token="has a space in it, long enough"), "without spaces"),
    (dict(port=70000), r"^port must be an integer from 0 to 65535 \(port=70000\)$"),
    (dict(workers=0), r"^workers must be an integer >= 1 \(workers=0\)$"),
    (dict(workers=True), r"^workers must be an integer >= 1 \(workers=True\)$"),
    (dict(cache_bytes=1000), r"^cache_bytes must be an integer >= 1024 \(cache_bytes=1000\)$"),
    (dict(cache_ttl=-1), r"^cache_ttl must be a number of seconds >= 0 \(cache_ttl=-1\)$"),
    (dict(redis_timeout=float("nan")), r"^redis_timeout must be a number of seconds >= 0 \(redis_timeout=nan\)$"),
    (dict(redis_url="http://x"), "redis://"),
])
def test_bad_options_are_one_clear_error(change, match):
    base = dict(models=[("m", "folder")])
    with pytest.raises(ServeError, match=match) as e:
        ServeConfig(**{**base, **change}).check()
    field = next(iter(change))
    assert e.value.field == (None if field == "token" else field)


def test_the_cli_takes_every_default_and_help_from_serve_config(monkeypatch):
    """The serve flags carry no default of their own: a flag not given leaves the field's default."""
    import dataclasses

    from workbench.cli._parser import build_parser
    from workbench.cli._serve_flags import CHALLENGER_FLAGS, SERVE_FLAGS, serve_options
    from workbench.serve import serve_config

    monkeypatch.delenv("WORKBENCH_SERVE_TOKEN", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("WORKBENCH_SERVE_CACHE_KEY", raising=False)
    parser = build_parser()
    args = parser.parse_args(["serve", "churn=x"])
    assert not [name for name, _, _ in SERVE_FLAGS.values() if hasattr(args, name)]
    assert serve_config(args.model_dirs) == ServeConfig(models=[("churn", "x")])
    fields = {f.name for f in dataclasses.fields(ServeConfig)} - {"models", "redis_url", "cache_key"}  # env only
    flagged = [name for name, _, _ in SERVE_FLAGS.values()] + [name for name, _ in CHALLENGER_FLAGS.values()]
    assert sorted(flagged) == sorted(fields)  # every option has its flag
    serve = parser._subparsers._group_actions[0].choices["serve"]
    text = " ".join(serve.format_help().split())
    defaults = ServeConfig()
    for flag, help in (("--port PORT", f"port to listen on (default: {defaults.port})"),
                       ("--cache-mb MB", f"in-process cache size (default: {defaults.cache_bytes >> 20})"),
                       ("--no-replay", "turn off the replay of a recommender's logged interactions")):
        assert f"{flag} {help}" in text
    args = parser.parse_args(["serve", "m=x", "--cache-mb", "1.5", "--max-body-mb", "2", "--no-request-log",
                              "--cache-ttl", "0", "--workers", "3"])
    config = serve_config(args.model_dirs, **serve_options(args))
    assert (config.cache_bytes, config.max_body_bytes, config.request_log, config.cache_ttl, config.workers) == \
        (1536 << 10, 2 << 20, False, 0.0, 3)
    assert config.replay is True and config.max_rows == defaults.max_rows


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0"], "workbench: error: --workers must be an integer >= 1 (--workers=0)"),
    (["--port", "70000"], "workbench: error: --port must be an integer from 0 to 65535 (--port=70000)"),
    (["--cache-mb", "0.0001"], "workbench: error: --cache-mb 0.0001: cache_bytes must be an integer >= 1024 "
                               "(cache_bytes=105)"),
    (["--redis-timeout", "-1"], "workbench: error: --redis-timeout must be a number of seconds >= 0 "
                                "(--redis-timeout=-1.0)"),
])
def test_the_cli_names_its_flags_in_option_errors(argv, message, tmp_path, capsys):
    from workbench.cli import main

    assert main(["serve", f"m={tmp_path}", *argv]) == 2
    assert capsys.readouterr().err.strip() == message


def test_the_cli_names_the_environment_variable_it_read(tmp_path, capsys, monkeypatch):
    from workbench.cli import main

    monkeypatch.setenv("REDIS_URL", "http://user:secret@host")
    assert main(["serve", f"m={tmp_path}"]) == 2
    assert capsys.readouterr().err.strip() == ("workbench: error: REDIS_URL must be a redis://, rediss:// or unix:// URL "
                                               "(REDIS_URL='http://user:***@host')")


def test_workers_get_the_config_and_the_token_separately(monkeypatch):
    config = ServeConfig(models=[("m", "/x")], token="t" * 20, workers=3, redis_url="redis://:pw@h:6379/0").check()
    env = config.to_env()
    assert "t" * 20 not in env["WORKBENCH_SERVE_CONFIG"] and env["WORKBENCH_SERVE_TOKEN"] == "t" * 20
    key = env["WORKBENCH_SERVE_CACHE_KEY"]  # none configured: one random key, shared by the workers, never in the JSON
    assert len(key) >= 32 and key not in env["WORKBENCH_SERVE_CONFIG"] and config.to_env()["WORKBENCH_SERVE_CACHE_KEY"] != key
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert ServeConfig.from_env() == dataclasses.replace(config, cache_key=key)
    keyed = dataclasses.replace(config, cache_key="k" * 20)
    assert keyed.to_env()["WORKBENCH_SERVE_CACHE_KEY"] == "k" * 20 and "k" * 20 not in keyed.to_env()["WORKBENCH_SERVE_CONFIG"]
    assert redact_url("redis://user:pw@h:6379/0") == "redis://user:***@h:6379/0"
    assert ServeConfig(models=[("m", "x")], host="0.0.0.0").loopback is False
    assert ServeConfig(models=[("m", "x")], host="::1").loopback and ServeConfig(models=[("m", "x")]).loopback


def test_metric_labels_stay_bounded():
    models = {"churn"}
    assert route_labels("/models/churn/predict", models) == ("churn", "/models/{name}/predict")
    assert route_labels("/models/churn/users/42", models) == ("churn", "/models/{name}/users/{user}")
    assert route_labels("/models/other/predict", models) == ("-", "other")
    assert route_labels("/models/churn/../../x", models) == ("-", "other")
    assert route_labels("/metrics", models) == ("-", "/metrics")


def test_an_unwritable_log_folder_is_refused_at_start(churn_dir, config_for, tmp_path):
    from workbench.serve import create_app

    (tmp_path / "file").write_text("x")
    with pytest.raises(ServeError, match="--log-dir .* cannot be created"):
        create_app(config_for(("churn", churn_dir), log_dir=str(tmp_path / "file" / "logs")))
    create_app(config_for(("churn", churn_dir), log_dir=str(tmp_path / "file" / "logs"), request_log=False))


def test_loading_a_model_imports_no_other_domain(churn_dir):
    """Start-up cost: serving a tabular model must not import the vision or recommender packages."""
    import subprocess
    import sys

    code = (f"import sys; from workbench.models import load; load({str(churn_dir)!r}); "
            "print(sorted(m for m in ('workbench.vision', 'workbench.recsys', 'workbench.drift') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
