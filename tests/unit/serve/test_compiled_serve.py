"""A real ``workbench serve`` process answers a compiled model without importing scikit-learn, skops or pandas;
the first ``?explain=`` request loads the skops pipeline (and scikit-learn) then."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

from serve_support import free_port, run_serve_cli, telco_records

from workbench.models import load


def _mapped(pid: int) -> set[str]:
    """The packages whose extension modules the process has mapped (``import sklearn`` maps
    ``sklearn/__check_build``, pandas its ``_libs``, scipy its ``_lib``)."""
    text = Path(f"/proc/{pid}/maps").read_text()
    return {name for name in ("sklearn", "pandas", "scipy") if f"/site-packages/{name}/" in text}


def _post(port: int, path: str, body: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, json.loads(r.read())


def test_a_compiled_model_is_served_without_scikit_learn_until_explained(churn_dir, tmp_path):
    assert type(load(churn_dir)).__name__ == "CompiledPredictor"
    records = telco_records(20)
    port = free_port()
    proc, err = run_serve_cli([f"churn={churn_dir}", "--port", str(port), "--log-dir", str(tmp_path / "logs")],
                              port, cwd=tmp_path)
    try:
        status, body = _post(port, "/models/churn/predict", {"records": records})
        assert status == 200, body
        want = load(churn_dir).full.predict_records(records)  # the skops pipeline, in this process
        assert [{k: r[k] for k in w} for r, w in zip(body["predictions"], want)] == want
        assert _mapped(proc.pid) == set(), "the served process imported scikit-learn, pandas or scipy"
        status, body = _post(port, "/models/churn/predict?explain=2", {"records": records[:3]})
        assert status == 200, body
        assert all(isinstance(r["explain_1_feature"], str) for r in body["predictions"])
        assert "sklearn" in _mapped(proc.pid)  # loaded on the first explained request only
    finally:
        proc.terminate()
        proc.wait(60)
    assert "Traceback" not in err.text()
