"""Tracking mode rules and the W&B server probe."""

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


def test_unanswering_server_is_detected_within_the_probe_timeout(monkeypatch):
    """The mechanism, not a stopwatch: the probe hands its timeout to the socket, and a silent server
    then counts as not answering."""
    import urllib.request

    seen = []
    real = urllib.request.urlopen

    def spy(req, timeout=None):
        seen.append(timeout)
        return real(req, timeout=timeout)
    monkeypatch.setattr(urllib.request, "urlopen", spy)
    with Silent() as url:
        assert server_answers(url, timeout=0.5) is False
    assert seen == [0.5]
    seen.clear()
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.delenv("WORKBENCH_TRACKING", raising=False)
    with Silent() as url:
        monkeypatch.setenv("WANDB_BASE_URL", url)
        mode, reason = decide_mode(probe_timeout=0.5)
    assert seen == [0.5] and mode == "offline" and "did not answer within 0.5 s" in reason
