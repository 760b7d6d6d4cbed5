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


SECRET = 'sk-9f/x"y<z>&w q\'r'


def _escaped_forms() -> dict[str, str]:
    import html
    import json
    import urllib.parse

    j = json.dumps(SECRET)[1:-1]
    return {
        "html": html.escape(SECRET),  # a pandas table
        "html-no-quotes": html.escape(SECRET, quote=False),
        "json": j,  # json.dumps: \"
        "json-slash": j.replace("/", "\\/"),
        "plotly": j.replace("/", "\\u002f").replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"),
        "json-ascii-all": "".join(f"\\u{ord(c):04x}" if not c.isalnum() else c for c in SECRET),
        "json-in-html": html.escape(j),
        "json-twice": json.dumps(json.dumps(SECRET))[1:-1],
        "url": urllib.parse.quote(SECRET, safe=""),
        "url-plus": urllib.parse.quote_plus(SECRET),
        "repr": repr(SECRET),
    }


def test_a_secret_is_scrubbed_in_every_escaped_form():
    from workbench.core.secrets import scrub_text, secret_values

    values = secret_values({"api_key": SECRET})
    for name, form in _escaped_forms().items():
        out = scrub_text(f"<td>{form}</td>", values)
        assert "sk-9f" not in out and "***" in out, (name, form, out)


def test_formatted_numbers_and_letters_around_a_secret():
    from workbench.core.secrets import scrub_text, secret_values

    values = secret_values({"db_password": 73519046, "rate_secret": 0.123456789})
    for form in ("73,519,046", "73_519_046", "73519046.0", "7.351905e+07", "73,519,046.00", "0.123457"):
        assert scrub_text(f"x {form} y", values) == "x *** y", form
    assert scrub_text("public text & more \\u002f", values) == "public text & more \\u002f"


def test_env_secrets_and_nested_secret_keys_are_found():
    from workbench.core.secrets import environment_secrets, holds_secret, secret_values

    env = {"WANDB_API_KEY": "abcd1234efgh", "SSH_AUTH_SOCK": "/tmp/ssh-x/agent.1", "PATH": "/bin", "MY_TOKEN": "x",
           "AUTH_ENABLED": "true", "AWS_SHARED_CREDENTIALS_FILE": "/home/u/.aws/credentials"}
    assert environment_secrets(env) == {"WANDB_API_KEY": "abcd1234efgh"}
    opts = {"lr": 0.1, "auth": {"api_key": "nested-secret-1"}}
    assert holds_secret("opts", opts) and holds_secret("runs", [{"token": "t"}]) and not holds_secret("lr", 0.1)
    assert "nested-secret-1" in secret_values({"opts": opts})
