"""Helpers for the serving tests: model folders, a real redis-server, a fake recommender model kind.

The fake recommender implements the interface the recommender issue specifies (``predict(users, k)``
with ``user, rank, item, score, cold_start, error`` rows, ``update(user, item, rating)``, ``profile``,
``user_key``), registered as the model kind ``recommender`` through :data:`workbench.models.KINDS`;
``register_fake_recommender`` is also what a subprocess runs (``sitecustomize``) in the end-to-end tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np

CATALOG = [f"item{i}" for i in range(20)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fit_churn(folder: Path, rows: int = 1200, model: str = "logreg") -> Path:
    """A tabular churn model on a telco_churn slice, saved through the contract."""
    import workbench

    df = workbench.load_dataset("telco_churn").frame.iloc[:rows].copy()
    df["customer_id"] = [f"c{i}" for i in range(len(df))]
    return _fit_and_save(df, "churn", model, folder, positive_label="Yes")


def _fit_and_save(df: Any, target: str, model: str, folder: Path, **task_kw: Any) -> Path:
    """One model compared on 2 folds, refit and saved through the contract (warnings silenced)."""
    from workbench import tabular
    from workbench.tabular._persist import save_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(df, target, folds=2, models=[model], **task_kw)
        comp = tabular.compare_models(task, n_jobs=1, verbose=False)
        fitted = tabular.fit_best(task, comp).model
    return save_model(fitted, folder)


def telco_records(n: int, start: int = 0) -> list[dict[str, Any]]:
    """Raw telco rows as JSON-ready records (the target left in: the server ignores it)."""
    import workbench

    df = workbench.load_dataset("telco_churn").frame.iloc[start:start + n].copy()
    df["customer_id"] = [f"c{i}" for i in range(start, start + n)]
    return json.loads(df.to_json(orient="records"))


def build_vision(folder: Path, size: int = 32) -> Path:
    """A vision model folder (random weights: valid predictions, no training needed)."""
    from workbench.vision._io import save_model
    from workbench.vision._nets import build_classifier

    net = build_classifier("efficientnet_lite0", 2, pretrained=False)
    meta = {"backbone": "efficientnet_lite0", "classes": ["defect", "ok"], "image_size": size,
            "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "taps": list(net.taps), "tta": False}
    return save_model(net, meta, folder)


def png_bytes(size: tuple[int, int] = (40, 30), seed: int = 0) -> bytes:
    import io

    from PIL import Image

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "RGB").save(buf, format="PNG")
    return buf.getvalue()


# ------------------------------------------------------------------------------ fake recommender
class FakeRecommender:
    """Scores = item popularity + 1 for items "near" the user's last item; seen items excluded."""

    def __init__(self, folder: Path, card: Any):
        from workbench.models import Predictor

        Predictor.__init__(self, folder, card)  # type: ignore[arg-type]
        data = json.loads((Path(folder) / "data.json").read_text())
        self.items, self.popularity = data["items"], data["popularity"]
        self.history: dict[Any, list] = {int(u): list(h) for u, h in data["history"].items()}
        self.updates = 0

    def user_key(self, user: Any) -> Any:
        if user is None or (isinstance(user, str) and not user.strip()):
            return None
        try:
            return int(str(user).strip())
        except ValueError:
            return str(user).strip()

    def update(self, user: Any, item: Any, rating: float | None = None) -> dict:
        from workbench.errors import ModelError

        if item not in self.items:
            raise ModelError(f"item {item!r} is not in the model's catalog ({len(self.items)} items)")
        key = self.user_key(user)
        hist = [h for h in self.history.get(key, []) if h[0] != item]
        self.history[key] = [*hist, [item, rating]]
        self.updates += 1
        return self.profile(key)

    def reset(self, user: Any = None) -> None:
        """Forget live interactions: of ``user`` (back to the saved history), or of everyone."""
        saved = {int(u): list(h) for u, h in json.loads((Path(self.folder) / "data.json").read_text())["history"].items()}
        if user is None:
            self.history = saved
            return
        key = self.user_key(user)
        if key in saved:
            self.history[key] = saved[key]
        else:
            self.history.pop(key, None)

    def profile(self, user: Any) -> dict:
        key = self.user_key(user)
        hist = self.history.get(key, [])
        return {"user": key, "items": [h[0] for h in hist], "ratings": [h[1] for h in hist]}

    def predict(self, inputs: Any, k: int | None = None):
        import pandas as pd

        k = 10 if k is None else int(k)
        rows = []
        for user in (inputs if isinstance(inputs, list) else [inputs]):
            key = self.user_key(user)
            hist = self.history.get(key, [])
            seen = {h[0] for h in hist}
            last = self.items.index(hist[-1][0]) if hist else None
            scores = {it: p + (1.0 if last is not None and abs(i - last) == 1 else 0.0)
                      for i, (it, p) in enumerate(zip(self.items, self.popularity)) if it not in seen}
            top = sorted(scores, key=lambda it: (-scores[it], it))[:k]
            rows += [{"user": key, "rank": r + 1, "item": it, "score": scores[it], "cold_start": not hist,
                      "error": None} for r, it in enumerate(top)]
        return pd.DataFrame(rows, columns=["user", "rank", "item", "score", "cold_start", "error"])


def build_movielens(folder: Path, users: int = 60, model: str = "ease") -> Path:
    """A real recommender (workbench.recsys) on the first MovieLens users, saved through the contract."""
    import workbench
    from workbench import recsys
    from workbench.recsys._base import FitContext, build
    from workbench.recsys._saved import save_model

    frame = workbench.load_dataset("movielens").frame
    frame = frame[frame["userId"] <= users].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = recsys.prepare_interactions(frame, "userId", "movieId", "rating", "timestamp",
                                           item_text_cols=["title", "genres"])
        task = recsys.prepare_task(data, [model], k=10)
        fitted = build(model).fit(task.train, FitContext(item_text=data.item_text()))
    return save_model(fitted, task, folder)


def _fake_class():
    from workbench.models import Predictor

    return type("FakeRecommenderPredictor", (FakeRecommender, Predictor), {})


def register_fake_recommender() -> None:
    """Register the fake as the model kind ``recommender`` (replacing any other)."""
    from workbench.models import KINDS

    cls = _fake_class()
    KINDS.register("recommender", lambda folder, card: cls(folder, card))


@contextlib.contextmanager
def fake_recommender_kind() -> Iterator[None]:
    """The fake registered as kind ``recommender`` for the duration (the previous entry restored after)."""
    from workbench.models import KINDS

    before = KINDS._entries.get("recommender")
    register_fake_recommender()
    try:
        yield
    finally:
        KINDS.unregister("recommender")
        if before is not None:
            KINDS.register("recommender", before)


def build_recommender(folder: Path) -> Path:
    """A recommender model folder for the fake kind: 20 items, users 1-3 with histories."""
    from workbench.models import ModelCard, save_card

    folder.mkdir(parents=True, exist_ok=True)
    popularity = [round(1.0 - i / 40, 3) for i in range(len(CATALOG))]
    history = {"1": [["item0", 5.0], ["item1", 4.0]], "2": [["item5", None]], "3": []}
    (folder / "data.json").write_text(json.dumps({"items": CATALOG, "popularity": popularity, "history": history}))
    card = ModelCard(kind="recommender", task="ranking", flavor="json", name="fake", files={"data.json": ""},
                     input_schema={"type": "users", "user_col": "user", "item_col": "item"},
                     output_schema={"columns": ["user", "rank", "item", "score", "cold_start", "error"]},
                     details={"k": 5})
    return save_card(folder, card)


def sitecustomize_dir(tmp: Path) -> Path:
    """A folder whose ``sitecustomize.py`` registers the fake recommender in a subprocess (PYTHONPATH)."""
    tests = Path(__file__).resolve().parent
    d = tmp / "site"
    d.mkdir(exist_ok=True)
    (d / "sitecustomize.py").write_text(f"import sys\nsys.path.insert(0, {str(tests)!r})\n"
                                        "import serve_support\nserve_support.register_fake_recommender()\n")
    return d


# ------------------------------------------------------------------------------------ redis-server
@contextlib.contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen]]:
    """A real ``redis-server`` in the foreground on a free port (no persistence); stopped by PID."""
    from support import missing

    exe = shutil.which("redis-server")
    if exe is None:
        missing("redis-server", "apt-get install -y redis-server (make test installs it)")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_serve_cli(args: list[str], port: int, cwd: Path, env: dict | None = None, site: Path | None = None,
                  timeout: float = 240) -> tuple[subprocess.Popen, "Reader"]:
    """``workbench serve ARGS`` in the background; returns once ``/health`` answers (stderr collected)."""
    import http.client
    import sys

    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    if site is not None:
        full_env["PYTHONPATH"] = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "serve", *args], cwd=cwd, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err, _ = Reader(proc.stderr), Reader(proc.stdout)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"workbench serve exited with {proc.returncode}:\n{err.text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return proc, err
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"workbench serve did not answer within {timeout} s:\n{err.text()[-3000:]}")


class Reader(threading.Thread):
    """Collects a subprocess's stderr lines as they come (so the pipe never fills)."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.lines = stream, []
        self.start()

    def run(self) -> None:
        for line in self.stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)


def fit_ames(folder: Path, rows: int = 600, model: str = "ridge") -> Path:
    """A regression model (log10 sale price) on an ames slice, with its 90% interval, saved through the contract."""
    import workbench

    return _fit_and_save(workbench.load_dataset("ames").frame.iloc[:rows].copy(), "log10_sale_price", model, folder)
