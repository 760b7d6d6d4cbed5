"""Tracking mode rules and the W&B server probe."""

import time

from support import Silent

from workbench.core.tracking import decide_mode, server_answers


def test_mode_rules(monkeypatch):
    for k in ("WANDB_MODE", "WANDB_API_KEY", "WORKBENCH_TRACKING", "WANDB_BASE_URL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("NETRC", "/nonexistent")
    assert decide_mode()[0] == "offline"
    monkeypatch.setenv("WORKBENCH_TRACKING", "off")
    assert decide_mode()[0] == "off"
    monkeypatch.delenv("WORKBENCH_TRACKING")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert decide_mode()[0] == "off"


def test_unanswering_server_is_detected_quickly():
    with Silent() as url:
        t = time.perf_counter()
        assert server_answers(url, timeout=1.0) is False
        assert time.perf_counter() - t < 3
