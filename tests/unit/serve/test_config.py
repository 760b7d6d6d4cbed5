"""The serve options: model names, tokens, limits; what workers receive through the environment."""

from __future__ import annotations

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
    (dict(port=70000), "--port"),
    (dict(workers=0), "--workers"),
    (dict(cache_ttl=-1), "--cache-ttl"),
    (dict(redis_url="http://x"), "redis://"),
])
def test_bad_options_are_one_clear_error(change, match):
    base = dict(models=[("m", "folder")])
    with pytest.raises(ServeError, match=match):
        ServeConfig(**{**base, **change}).check()


def test_workers_get_the_config_and_the_token_separately(monkeypatch):
    config = ServeConfig(models=[("m", "/x")], token="t" * 20, workers=3, redis_url="redis://:pw@h:6379/0").check()
    env = config.to_env()
    assert "t" * 20 not in env["WORKBENCH_SERVE_CONFIG"] and env["WORKBENCH_SERVE_TOKEN"] == "t" * 20
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert ServeConfig.from_env() == config
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
