"""Project invariants: dependency lists agree, notebooks are committed clean and parameterized."""

import json
import re
import subprocess
import tomllib
from pathlib import Path

import yaml

from workbench.runner.params import inspect_parameters, parameters_cell

REPO = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"pytorch": "torch", "redis-py": "redis"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _spec(req: str) -> str:
    return re.sub(r"\[.*?\]", "", req.strip()).replace(" ", "")[len(_name(req)):]


def test_environment_yml_agrees_with_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pyproject = {_name(r): _spec(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda: dict[str, str] = {}
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            if item.startswith("-e") or _name(item) in ("python", "pip"):
                continue
            name = CONDA_TO_PYPI.get(_name(item), _name(item))
            conda[name] = _spec(item)
    # dask[distributed] on PyPI is dask + distributed on conda-forge
    if "dask" in pyproject:
        pyproject["distributed"] = pyproject["dask"]
    assert conda == pyproject


def _committed_notebooks() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=REPO, capture_output=True, text=True).stdout.split()
    return [REPO / p for p in out] or sorted((REPO / "notebooks").glob("*.ipynb"))


def test_committed_notebooks_have_no_outputs_and_a_documented_parameters_cell():
    notebooks = _committed_notebooks()
    for nb_path in notebooks:
        nb = json.loads(nb_path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), \
            f"{nb_path.name} has outputs: strip them before committing"
        assert "parameters" in code[0].get("metadata", {}).get("tags", []), f"{nb_path.name}: first code cell untagged"
        import nbformat
        assert parameters_cell(nbformat.reads(nb_path.read_text(), as_version=4))[0] == nb["cells"].index(code[0])
        for p in inspect_parameters(nb_path):
            assert p.help, f"{nb_path.name}: parameter {p.name} has no help comment"


def test_package_exposes_a_small_public_api():
    import workbench

    for name in workbench.__all__:
        assert getattr(workbench, name) is not None


PACKAGE = REPO / "workbench"


def test_root_holds_only_the_public_api_and_errors():
    files = sorted(p.name for p in PACKAGE.iterdir() if p.is_file())
    assert files == ["__init__.py", "errors.py", "py.typed"]
    packages = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert packages == ["cli", "core", "data", "drift", "evaluation", "explore", "models", "recsys", "reports",
                        "runner", "serve", "tabular", "vision"]


def _functions(tree):
    import ast

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_modules_and_functions_stay_small():
    """Modules under 400 lines, functions under 60 (the CLI's argument tables excepted)."""
    import ast

    long_modules, long_functions = [], []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if text.count("\n") > 400:
            long_modules.append(f"{path.relative_to(REPO)}: {text.count(chr(10))} lines")
        if path.parent.name == "cli" and path.name == "_parser.py":
            continue
        for fn in _functions(ast.parse(text)):
            n = fn.end_lineno - fn.lineno + 1
            if n > 60:
                long_functions.append(f"{path.relative_to(REPO)}:{fn.lineno} {fn.name}: {n} lines")
    assert not long_modules and not long_functions, long_modules + long_functions


def test_import_layers_are_enforced_by_import_linter():
    import shutil
    import sys

    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a dev dependency: pip install -e '.[dev]'"
    proc = subprocess.run([exe], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "broken" in proc.stdout and "0 broken" in proc.stdout


def test_importing_workbench_stays_cheap():
    """``import workbench`` (and the data registry the run cache reads) pulls in neither pandas, numpy nor torch."""
    import sys

    code = ("import sys, workbench, workbench.data, workbench.models._card, workbench.runner.cache; "
            "print(sorted(m for m in ('pandas', 'numpy', 'torch', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
