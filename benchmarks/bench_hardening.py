"""Hostile model files refused cheaply: the time and memory of each refusal (issue 21, item 4).

Each case is a small file that would expand, nest or point its way into gigabytes or a crash. Every case
runs in a fresh process (so one case's memory does not hide another's): the process imports what a
loader imports, reads its baseline memory, then loads the file and must get a ModelError. Printed per
case: the file's size, the median time to the refusal and the peak resident memory above the baseline
(goal: <= 2 s and <= 300 MB each). The baseline includes numpy, scikit-learn and skops, as in any process
that loads models; the refusals before skops is needed do not import it.

    python benchmarks/bench_hardening.py [--quick] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

CASES = ("skops_4gb_zeros", "npz_2gb_zeros", "npy_header_8tb", "card_600k_classes", "card_nested",
         "skops_schema_nested", "skops_shared_refs", "tree_child_out_of_range")


def _hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _npy_header(shape: tuple, dtype: str = "<f8") -> bytes:
    from numpy.lib import format as npy

    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _zeros_member(z: zipfile.ZipFile, name: str, nbytes: int) -> None:
    """An .npy member of ``nbytes`` zeros, streamed (deflate shrinks it about 1000 times)."""
    with z.open(name, "w", force_zip64=True) as f:
        f.write(_npy_header((nbytes // 8,)))
        chunk = bytes(64 << 20)
        left = nbytes // 8 * 8
        while left:
            f.write(chunk[:min(left, len(chunk))])
            left -= min(left, len(chunk))


def _card(folder: Path, card: dict, files: dict[str, bytes]) -> Path:
    import hashlib

    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    card["files"] = {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
    (folder / "model.json").write_text(card if isinstance(card, str) else json.dumps(card))
    return folder


def build(case: str, root: Path) -> Path:
    """The hostile file (or model folder) of ``case`` under ``root`` (built once, reused)."""
    out = root / case
    if out.exists():
        return out
    tmp = root / f".{case}.tmp"
    if case in ("skops_4gb_zeros", "npz_2gb_zeros"):
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            if case.startswith("skops"):
                z.writestr("schema.json", "{}")
            _zeros_member(z, "a.npy", (4 << 30) if case.startswith("skops") else (2200 << 20))
    elif case == "npy_header_8tb":
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("a.npy", _npy_header((10**12,)) + bytes(64))
    elif case in ("card_600k_classes", "card_nested"):
        card = {"format_version": 2, "kind": "vision", "task": "multiclass", "flavor": "safetensors",
                "name": "resnet18", "input_schema": {"type": "image", "size": 64}}
        if case == "card_600k_classes":
            card["classes"] = [f"class{i}" for i in range(600_000)]
        else:
            card["details"] = {"x": 0}
        folder = _card(tmp, card, {"model.safetensors": b"\0" * 16})
        if case == "card_nested":
            text = (folder / "model.json").read_text().replace('"x": 0', '"x": ' + "[" * 200_000 + "]" * 200_000)
            (folder / "model.json").write_text(text)
    elif case == "skops_schema_nested":
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("schema.json", "[" * 500_000 + "]" * 500_000)
    elif case == "skops_shared_refs":
        node = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "__id__": 1, "content": []}
        for i in range(2, 40):
            node = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "__id__": i,
                    "content": [node] + [{"__class__": "list", "__module__": "builtins", "__loader__": "CachedNode",
                                          "__id__": i - 1}] * 50}
        with zipfile.ZipFile(tmp, "w") as z:
            z.writestr("schema.json", json.dumps({**node, "protocol": 2}))
    elif case == "tree_child_out_of_range":
        import numpy as np
        import skops.io as sio
        from sklearn.ensemble import RandomForestClassifier

        rng = np.random.default_rng(0)
        X, y = rng.normal(size=(500, 8)), rng.integers(0, 2, 500)
        est = RandomForestClassifier(n_estimators=50, random_state=0).fit(X, y)
        tree = est.estimators_[7].tree_
        state = tree.__getstate__()
        nodes = state["nodes"].copy()
        nodes["left_child"][0] = 10**9
        tree.__setstate__({**state, "nodes": nodes})
        sio.dump(est, tmp)
    tmp.rename(out)
    return out


def refuse(case: str, path: Path) -> dict:
    """In this (fresh) process: import, read the baseline, load ``path``, expect a ModelError."""
    import numpy  # noqa: F401 - a process that loads models has these imported (skops: seconds, ~500 MB)
    import sklearn.tree  # noqa: F401
    import skops.io  # noqa: F401

    from workbench.errors import ModelError
    from workbench.models import load
    from workbench.models.flavors import load_arrays, load_skops
    from workbench.tabular._skops_types import SKOPS_ALLOWED

    sys.path.insert(0, str(Path(__file__).parent))
    from _common import rss_mb

    base = rss_mb()
    t = time.perf_counter()
    try:
        if path.is_dir():
            load(path)
        elif case.startswith("npz") or case.startswith("npy"):
            load_arrays(path)
        else:
            load_skops(path, SKOPS_ALLOWED)
        message = "NOT REFUSED"
    except ModelError as e:
        message = str(e)
    return {"case": case, "seconds": time.perf_counter() - t, "above_baseline_mb": _hwm_mb() - base,
            "message": message}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one run per case")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "workbench-bench-hardening"))
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    if args.case:
        print(json.dumps(refuse(args.case, build(args.case, root))))
        return
    repeat = 1 if args.quick else args.repeat
    print(f"load average {os.getloadavg()[0]:.2f}; {repeat} fresh process(es) per case; goal <= 2 s, <= 300 MB")
    print(f"{'case':<26} {'file':>10} {'time s':>8} {'MB above':>9}  refusal")
    for case in CASES:
        path = build(case, root)
        size = sum(p.stat().st_size for p in ([path] if path.is_file() else path.iterdir()))
        runs = []
        for _ in range(repeat):
            proc = subprocess.run([sys.executable, __file__, "--dir", str(root), "--case", case], capture_output=True,
                                  text=True, timeout=600)
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        sec = statistics.median(r["seconds"] for r in runs)
        mb = statistics.median(r["above_baseline_mb"] for r in runs)
        print(f"{case:<26} {size / 2**20:>8.2f}MB {sec:>8.3f} {mb:>9.1f}  {runs[0]['message'][:90]}")


if __name__ == "__main__":
    main()
