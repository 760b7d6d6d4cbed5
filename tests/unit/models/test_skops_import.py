"""Loading a tabular model does not import torch (issue 27: it was 5 of a 7 s serve start), and skops's
own trusted-type lists are the same as after a plain ``import skops.io``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from serve_support import fit_churn

_LISTS = ("import json, sys; from skops.io._trusted_types import SKLEARN_ESTIMATOR_TYPE_NAMES as S, "
          "SKLEARN_INTERNAL_TYPE_NAMES as I; json.dump([sorted(S), sorted(I)], sys.stdout)")


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_a_tabular_model_loads_and_predicts_without_torch_and_skops_trusts_the_same(tmp_path: Path):
    folder = fit_churn(tmp_path / "churn", rows=400)
    out = _python(
        "import sys, json; from workbench.models import load; import pandas as pd; "
        f"m = load({str(folder)!r}); from workbench.data import load_dataset; "
        "p = m.predict(load_dataset('telco_churn').frame.drop(columns=['churn']).iloc[:5]); "
        "print(json.dumps(['torch' in sys.modules, len(p)])); " + _LISTS)
    head, _, lists = out.partition("\n")
    assert json.loads(head) == [False, 5]
    assert json.loads(lists) == json.loads(_python("import skops.io; " + _LISTS))
    # and the shim the walk skipped is still importable afterwards (torch arrays keep working in sklearn)
    assert _python("from workbench.models._skops_import import skops_io; skops_io(); "
                   "import sklearn.externals.array_api_compat.torch, sys; print('torch' in sys.modules)").strip() == "True"


@pytest.mark.slow
def test_workbench_processes_skip_the_estimator_walk_and_load_the_same_model(tmp_path: Path):
    folder = fit_churn(tmp_path / "churn", rows=400)
    predict = (f"from workbench.models import load; m = load({str(folder)!r}); from workbench.data import "
               "load_dataset; p = m.predict(load_dataset('telco_churn').frame.drop(columns=['churn']).iloc[:50]); "
               "print(json.dumps([p.to_dict('list'), 'torch' in sys.modules, 'sklearn.utils._testing' in sys.modules]))")
    lean = json.loads(_python("import sys, json; from workbench.models._skops_import import lean_skops; lean_skops(); "
                              + predict + "; " + _LISTS).splitlines()[0])
    plain = json.loads(_python("import sys, json; " + predict).splitlines()[0])
    assert lean[0] == plain[0] and lean[1:] == [False, False]  # the same probabilities; no torch, no walk
    out = _python("import sys, json; from workbench.models._skops_import import lean_skops, skops_io; lean_skops(); "
                  "skops_io(); import sklearn.utils; print(sklearn.utils.all_estimators.__name__); " + _LISTS)
    restored, lists = out.split("\n", 1)
    estimators, internal = json.loads(lists)
    assert restored == "all_estimators" and estimators == [] and internal  # stricter defaults; the walk restored
