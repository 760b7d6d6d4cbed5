"""Odd and hostile model folders and inputs: each gives one clear line (a ModelError naming the field),
never a traceback; and memory bombs from small files are refused from their headers, before anything
is decompressed (the time and memory of each refusal: benchmarks/bench_hardening.py)."""

from __future__ import annotations

import json
import os
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from support import run_cli

import workbench
from workbench import tabular
from workbench.core.io import file_sha256
from workbench.errors import ModelError
from workbench.models import ModelCard, load, read_card
from workbench.models.flavors import load_arrays, load_skops
from workbench.tabular._persist import save_model
from workbench.tabular._skops_types import SKOPS_ALLOWED


@pytest.fixture(scope="module")
def data():
    return workbench.load_dataset("telco_churn").frame.iloc[:300].copy()


@pytest.fixture(scope="module")
def folders(data, tmp_path_factory) -> dict[str, Path]:
    """A logistic regression and a stacking ensemble (binary), saved through the contract."""
    root = tmp_path_factory.mktemp("odd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = tabular.prepare_task(data, "churn", folds=2, models=["logreg", "naive_bayes", "decision_tree"])
        comp = tabular.compare_models(t, n_jobs=1, verbose=False, ensemble=True)
        out = {"logreg": save_model(tabular.fit_best(t, comp, "logreg").model, root / "logreg"),
               "stacking": save_model(tabular.fit_best(t, comp, "stacking").model, root / "stacking")}
    return out


def _copy(folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(folder, out)
    return out


def _card(folder: Path, change) -> Path:
    card = json.loads((folder / "model.json").read_text())
    change(card)
    (folder / "model.json").write_text(json.dumps(card))
    return folder


def _v1(folder: Path) -> dict:
    card = read_card(folder)
    table = card.input_schema
    return {"format_version": 1, "model": card.name, "file": "model.skops", "format": "skops",
            "sha256": card.files["model.skops"], "numeric": table.numeric, "categorical": table.categorical,
            "classes": card.classes, "categories": table.categories, "dtypes": table.dtypes}


@pytest.mark.parametrize("field,value,match", [
    ("numeric", 1, "format-1 field 'numeric' must be list, got int"),
    ("categories", ["a", "b"], "format-1 field 'categories' must be dict, got list"),
    ("classes", 3, "format-1 field 'classes' must be list, got int"),
    ("numeric", [1, 2], "format-1 field 'numeric' must list column names"),
    ("categories", {"gender": "Male"}, "'categories' must map each column to a list"),
])
def test_format_1_fields_of_the_wrong_type_are_named(folders, tmp_path, field, value, match):
    folder = _copy(folders["logreg"], tmp_path)
    v1 = _v1(folder)
    v1[field] = value
    (folder / "model.json").write_text(json.dumps(v1))
    with pytest.raises(ModelError, match=match):
        load(folder)


def test_card_classes_that_disagree_with_the_estimator_are_refused(folders, tmp_path):
    folder = _card(_copy(folders["logreg"], tmp_path), lambda c: c.update(classes=["No", "Maybe"]))
    with pytest.raises(ModelError, match=r"card.s classes \[.No., .Maybe.\] disagree with the estimator.s \[.No., .Yes.\]"):
        load(folder)


@pytest.mark.parametrize("coef,intercept,match", [
    ([[1.0, 2.0]], [0.0], r"coef must be 1 x 3 numbers"),
    ([[1.0, 2.0, 3.0, 4.0]], [0.0], r"coef must be 1 x 3 numbers"),
    ([[1.0, "NaN", 3.0]], [0.0], "list of finite numbers"),
    ([[1.0, 2.0, 3.0]], [0.0, 1.0], r"intercept must be 1 numbers"),
])
def test_stacking_weights_of_the_wrong_shape_or_not_finite_are_refused(folders, tmp_path, coef, intercept, match):
    def change(card):
        ens = card["details"]["ensemble"]
        ens["coef"] = [[float(v) for v in row] for row in coef]
        ens["intercept"] = intercept

    folder = _card(_copy(folders["stacking"], tmp_path), change)
    with pytest.raises(ModelError, match=match):
        load(folder)


def test_nan_stacking_weights_written_as_json_nan_are_refused(folders, tmp_path):
    folder = _copy(folders["stacking"], tmp_path)
    text = (folder / "model.json").read_text()
    card = json.loads(text)
    card["details"]["ensemble"]["coef"] = [[float("nan")] * len(card["details"]["ensemble"]["coef"][0])]
    (folder / "model.json").write_text(json.dumps(card))  # json writes NaN, which json reads back
    with pytest.raises(ModelError, match="coef must be a list of finite numbers"):
        load(folder)


def test_model_json_through_a_link_out_of_the_folder_is_refused(folders, tmp_path):
    folder = _copy(folders["logreg"], tmp_path)
    outside = tmp_path / "elsewhere.json"
    (folder / "model.json").rename(outside)
    os.symlink(outside, folder / "model.json")
    with pytest.raises(ModelError, match="model.json' is not a regular file"):
        load(folder)
    with pytest.raises(ModelError, match="model.json' is not a regular file"):
        read_card(folder)


@pytest.mark.parametrize("nest", ["details", "input"])
def test_deeply_nested_cards_are_one_line(folders, tmp_path, nest):
    folder = _copy(folders["logreg"], tmp_path)
    text = (folder / "model.json").read_text()
    deep = "[" * 100_000 + "]" * 100_000 if nest == "input" else '{"a": ' * 80 + "1" + "}" * 80
    (folder / "model.json").write_text(text.replace('"details": {', f'"details": {{"deep": {deep}, ', 1))
    with pytest.raises(ModelError, match="nests (too deeply|over 64 levels)"):
        load(folder)


def test_a_card_with_600000_classes_is_refused_before_anything_is_built():
    card = {"format_version": 2, "kind": "vision", "task": "multiclass", "flavor": "safetensors", "name": "resnet18",
            "files": {"model.safetensors": "0" * 64}, "classes": [f"c{i}" for i in range(600_000)]}
    with pytest.raises(ModelError, match="600000 classes, more than the 10000"):
        ModelCard.from_dict(card)


def test_a_huge_number_in_the_predict_input_is_an_error_row_not_a_traceback(folders, data, tmp_path):
    rows = data.iloc[:3].copy()
    rows.to_csv(tmp_path / "rows.csv", index=False)
    text = (tmp_path / "rows.csv").read_text().splitlines()
    header = text[0].split(",")
    col = header.index("monthly_charges")
    cells = text[2].split(",")
    cells[col] = "1e400"
    text[2] = ",".join(cells)
    (tmp_path / "rows.csv").write_text("\n".join(text) + "\n")
    proc = run_cli("predict", folders["logreg"], "rows.csv", "-o", "out.csv", cwd=tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    import pandas as pd

    out = pd.read_csv(tmp_path / "out.csv")
    assert out["error"].notna().tolist() == [False, True, False]
    assert out["prediction"].notna().tolist() == [True, False, True]


# ------------------------------------------------------------------------------------ memory bombs
def _bomb_zip(path: Path, members: dict[str, bytes], compress: bool = True) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def _npy(shape: tuple, dtype: str = "<f8", body: bytes | None = None) -> bytes:
    import io

    from numpy.lib import format as npy

    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return buf.getvalue() + (body if body is not None else bytes(n))


def test_an_npz_that_expands_a_thousand_times_is_refused_from_its_headers(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    _bomb_zip(path, {"a.npy": _npy((300_000_000 // 8,))})  # 300 MB of zeros in about 0.3 MB
    assert path.stat().st_size < 1 << 20
    opened = []
    monkeypatch.setattr(np, "load", lambda *a, **k: opened.append(a) or pytest.fail("np.load was reached"))
    with pytest.raises(ModelError, match=r"declares 286 MiB uncompressed from 0.3 MiB.*before decompressing"):
        load_arrays(path)


def test_an_npy_header_that_disagrees_with_its_size_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    _bomb_zip(path, {"a.npy": _npy((10**12,), body=b"\0" * 64)})  # claims 8 TB, holds 64 bytes
    with pytest.raises(ModelError, match=r"header declares \(1000000000000,\) float64 .* in 64 bytes"):
        load_arrays(path)
    _bomb_zip(path, {"a.npy": _npy((2,), dtype="|O", body=b"\0" * 16)})
    with pytest.raises(ModelError, match="array of Python objects"):
        load_arrays(path)


def test_a_skops_file_that_expands_is_refused_before_skops_reads_it(tmp_path):
    path = tmp_path / "model.skops"
    _bomb_zip(path, {"schema.json": b"{}", "1.npy": _npy((40_000_000,))})
    with pytest.raises(ModelError, match="declares 305 MiB uncompressed"):
        load_skops(path, SKOPS_ALLOWED)


def test_a_deeply_nested_skops_schema_is_one_line(tmp_path):
    path = tmp_path / "model.skops"
    _bomb_zip(path, {"schema.json": b"[" * 200_000 + b"]" * 200_000})
    with pytest.raises(ModelError, match="schema.json nests"):
        load_skops(path, SKOPS_ALLOWED)
    _bomb_zip(path, {"schema.json": json.dumps(json.loads("[" * 300 + "]" * 300)).encode()})
    with pytest.raises(ModelError, match="schema.json nests over 200 levels"):
        load_skops(path, SKOPS_ALLOWED)


def _laughs_schema(levels: int) -> bytes:
    """A skops schema of nested lists, each holding the previous one ten times by reference."""
    def lst(content, i):
        return {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": content, "__id__": i}

    node = lst([{"__class__": "float", "__module__": "builtins", "__loader__": "JsonNode", "content": "1.0",
                 "is_json": True, "__id__": 10**6}], 1)
    for i in range(2, levels + 2):
        node = lst([node] + [{"__class__": "list", "__module__": "builtins", "__loader__": "CachedNode",
                              "__id__": i - 1}] * 9, i)
    return json.dumps({**node, "protocol": 2, "_skops_version": "0.16.0"}).encode()


def test_shared_references_are_refused_and_walked_once(tmp_path, monkeypatch):
    """A list reachable 10**20 ways through shared references (a billion laughs): references to lists are
    not on the allow-list, and the tree walk visits each object once whatever reaches it."""
    import sys

    from workbench.models import _trees

    path = tmp_path / "model.skops"
    _bomb_zip(path, {"schema.json": _laughs_schema(20)})
    with pytest.raises(ModelError, match="outside the allow-list: CachedNode builtins.list"):
        load_skops(path, SKOPS_ALLOWED)
    inner: list = [1.0]
    for _ in range(20):
        inner = [inner] * 10
    assert len(list(_trees._walk(inner))) == 22  # 21 lists and the float
    if "skops.io" not in sys.modules:  # refusals come before skops is imported (seconds, hundreds of MB)
        monkeypatch.setitem(sys.modules, "skops.io", None)
        with pytest.raises(ModelError, match="outside the allow-list"):
            load_skops(path, SKOPS_ALLOWED)


def test_workbench_saved_files_pass_the_archive_checks(folders):
    for folder in folders.values():
        for name in read_card(folder).files:
            if name.endswith(".skops"):
                with zipfile.ZipFile(folder / name) as z:
                    from workbench.models.flavors import check_archive

                    check_archive(folder / name, z)
    assert file_sha256(folders["logreg"] / "model.skops")
