"""Secret parameters: which names hold them, redaction, every text form of their values."""

from workbench.core.secrets import redact


def test_redact_hides_secret_names_only():
    cfg = {"api_key": "k", "WANDB_TOKEN": "t", "db_password": "p", "lr": 0.1, "nested": {"secret": "s", "x": 1},
           "empty_key": ""}
    assert redact(cfg) == {"api_key": "***", "WANDB_TOKEN": "***", "db_password": "***", "lr": 0.1,
                           "nested": {"secret": "***", "x": 1}, "empty_key": ""}
