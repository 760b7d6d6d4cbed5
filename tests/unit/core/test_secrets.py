"""Secret parameters: which names hold them, redaction, every text form of their values."""

from workbench.core.secrets import redact


def test_redact_hides_secret_names_only():
    cfg = {"api_key": "k", "WANDB_TOKEN": "t", "db_password": "p", "lr": 0.1, "nested": {"secret": "s", "x": 1},
           "empty_key": ""}
    assert redact(cfg) == {"api_key": "***", "WANDB_TOKEN": "***", "db_password": "***", "lr": 0.1,
                           "nested": {"secret": "***", "x": 1}, "empty_key": ""}


def test_names_that_only_contain_a_secret_word_are_not_secrets():
    from workbench.core.secrets import is_secret

    for name in ("api_key", "WANDB_TOKEN", "db_password", "client_secret", "aws_credentials", "auth_header",
                 "private_key", "access_token"):
        assert is_secret(name), name
    for name in ("sort_key", "max_tokens", "num_tokens", "author", "group_key", "primary_key", "token_count", "lr"):
        assert not is_secret(name), name
    assert redact({"sort_key": "date", "max_tokens": 100}) == {"sort_key": "date", "max_tokens": 100}


def test_every_text_form_of_a_secret_of_any_type_is_listed_and_scrubbed():
    from workbench.core.secrets import scrub_text, secret_values

    values = secret_values({"api_key": "sk-123456", "pin_secret": 73519046, "auth_tokens": ["tok-a1", "tok-b2"],
                            "other": "public", "empty_key": None})
    assert {"sk-123456", "'sk-123456'", "73519046", "tok-a1", "'tok-b2'", "['tok-a1', 'tok-b2']"} <= set(values)
    assert "public" not in values
    text = "login sk-123456 pin 73519046 tokens ['tok-a1', 'tok-b2']"
    assert scrub_text(text, values) == "login *** pin *** tokens ***"


def test_source_scrubbing_replaces_literals_not_code():
    from workbench.runner._scrub import scrub_source

    src = 'import wandb\napi_key = "wandb"  # the key\npin = 1234\nmsg = "uses wandb here"\nx = wandb.init\n'
    out = scrub_source(src, {"api_key": "wandb", "pin_secret": 1234})
    assert out == "import wandb\napi_key = '***'  # the key\npin = '***'\nmsg = '***'\nx = wandb.init\n"
