"""Serving an image classifier: multipart uploads, unreadable images as error rows, limits, the log."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from serve_support import png_bytes

from workbench.models import load
from workbench.serve import create_app


@pytest.fixture
def client(vision_dir, config_for):
    with TestClient(create_app(config_for(("parts", vision_dir), max_images=5))) as c:
        yield c


def _bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A tiny PNG whose header claims a huge image (what a decompression bomb looks like at first)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_images_are_classified_and_bad_ones_are_error_rows(client, vision_dir, tmp_path):
    from PIL import Image

    gray = io.BytesIO()
    Image.fromarray(np.full((20, 25), 128, np.uint8), "L").save(gray, format="JPEG")
    files = [("files", ("a.png", png_bytes(seed=1), "image/png")), ("files", ("../../etc/passwd", b"not an image", "x")),
             ("files", ("gray.jpg", gray.getvalue(), "image/jpeg")), ("files", ("bomb.png", _bomb(), "image/png")),
             ("files", ("big.png", _bomb(7000, 7000), "image/png"))]
    r = client.post("/models/parts/predict", files=files)
    assert r.status_code == 200, r.text
    rows = r.json()["predictions"]
    assert [p["filename"] for p in rows] == ["a.png", "../../etc/passwd", "gray.jpg", "bomb.png", "big.png"]
    assert rows[0]["error"] is None and rows[0]["prediction"] in ("defect", "ok")
    assert abs(rows[0]["proba_defect"] + rows[0]["proba_ok"] - 1) < 1e-5
    assert "unreadable image" in rows[1]["error"] and rows[1]["prediction"] is None and rows[1]["proba_ok"] is None
    assert rows[2]["error"] is None
    assert "too large" in rows[3]["error"] and "too large (7000 x 7000" in rows[4]["error"]
    # the same numbers as the predictor on the same file
    (tmp_path / "a.png").write_bytes(png_bytes(seed=1))
    expected = load(vision_dir).predict([str(tmp_path / "a.png")])
    assert abs(expected["proba_ok"].iloc[0] - rows[0]["proba_ok"]) < 1e-6
    assert not (tmp_path / "etc").exists()


def test_image_requests_that_cannot_be_served(client):
    r = client.post("/models/parts/predict", json={"records": []})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"]
    r = client.post("/models/parts/predict", data={"files": "text, not a file"})
    assert r.status_code in (415, 422)
    r = client.post("/models/parts/predict", files=[("other", ("a.png", png_bytes(), "image/png"))])
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "files"]
    r = client.post("/models/parts/predict", files=[("files", (f"{i}.png", png_bytes(), "image/png")) for i in range(7)])
    assert r.status_code == 413 and "at most 5" in r.json()["detail"]
    body = b"--xyz\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n\r\nunterminated"
    r = client.post("/models/parts/predict", content=body, headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert r.status_code in (200, 422), r.text
    r = client.post("/models/parts/predict", content=b"x", headers={"content-type": "multipart/form-data"})
    assert r.status_code == 422


def test_image_log_has_names_and_sizes_never_bytes(vision_dir, config_for, tmp_path):
    data = png_bytes(seed=3)
    with TestClient(create_app(config_for(("parts", vision_dir)))) as client:
        for _ in range(2):
            assert client.post("/models/parts/predict", files=[("files", ("x.png", data, "image/png"))]).status_code == 200
        metrics = client.get("/metrics").text
    assert 'workbench_serve_cache_hits_total{model="parts"} 1.0' in metrics
    lines = [json.loads(x) for f in (tmp_path / "logs" / "parts").glob("*.jsonl") for x in f.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0]["input"] == {"filename": "x.png", "size_bytes": len(data)}
    assert set(lines[0]["output"]) == {"prediction", "proba_defect", "proba_ok", "error"}
