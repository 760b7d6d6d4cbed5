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


ROOT_API = {  # name -> the module that defines it: the root re-exports these objects, not copies or stubs
    "record": "workbench.core.journal", "record_curve": "workbench.core.journal",
    "artifacts_dir": "workbench.core.context", "in_headless_run": "workbench.core.context",
    "run_id": "workbench.core.context", "WorkbenchError": "workbench.errors", "ParameterError": "workbench.errors",
    "NotebookNotFoundError": "workbench.errors", "DatasetError": "workbench.errors", "ModelError": "workbench.errors",
    "RunFailedError": "workbench.errors", "run_notebook": "workbench.runner.execute",
    "inspect_parameters": "workbench.runner.params", "load_dataset": "workbench.data._tables",
    "Dataset": "workbench.data._dataset", "load_image_dataset": "workbench.data._images",
    "track": "workbench.core.tracking", "load_model": "workbench.registry._load",
    "register_model": "workbench.registry._registry",
}


def test_package_exposes_a_small_public_api():
    import importlib

    import workbench

    assert sorted(workbench.__all__) == sorted(ROOT_API) and len(set(workbench.__all__)) == len(workbench.__all__)
    for name, module in ROOT_API.items():
        obj = getattr(workbench, name)
        assert callable(obj) and obj.__module__ == module, (name, obj)
        assert getattr(importlib.import_module(module), name) is obj, name
    assert all(issubclass(getattr(workbench, n), workbench.WorkbenchError) for n in ROOT_API if n.endswith("Error"))


TIMER = re.compile(r"perf_counter|monotonic|time\.time|process_time")
TIMED_NAME = re.compile(r"(^|_)(elapsed|wall|duration|latency|seconds|took)$|_(ms|s)$|^t_?\d*$|^dt$")


def _timed(side) -> bool:
    """Whether an expression reads a stopwatch: a timer call, or a name or key such as ``elapsed``,
    ``latency_ms``, ``duration_s``."""
    import ast

    if TIMER.search(ast.unparse(side)):
        return True
    leaf = side.slice if isinstance(side, ast.Subscript) else side
    name = (leaf.value if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str) else
            leaf.attr if isinstance(leaf, ast.Attribute) else leaf.id if isinstance(leaf, ast.Name) else "")
    return bool(TIMED_NAME.search(name))


def _timed_upper_bound(node) -> bool:
    """A comparison that bounds a stopwatch reading from above (``elapsed < 5``, ``5 > latency_ms``): the
    kind a busy machine breaks. Lower bounds, two timings compared, and polling deadlines are fine."""
    import ast

    if not isinstance(node, ast.Compare):
        return False
    sides = [node.left, *node.comparators]
    for i, op in enumerate(node.ops):
        if not isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
            continue
        small, big = (sides[i], sides[i + 1]) if isinstance(op, (ast.Lt, ast.LtE)) else (sides[i + 1], sides[i])
        if _timed(small) and not _timed(big) and "deadline" not in ast.unparse(big):
            return True
    return False


# the h-serve helper replaces this one (issue 21, item 9); drop the entry once that lands
PENDING_TIMED = {("tests/unit/serve/test_redis.py", "assert time.perf_counter() - start < 2.0")}


def test_no_timed_assertions_in_tests():
    """Timing goals live in benchmarks/ (A B A B, medians): a test asserts a mechanism, or a bound so loose
    that only a hang breaks it, marked on its line with ``# hang guard``."""
    import ast

    found = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Assert) and any(_timed_upper_bound(n) for n in ast.walk(node.test)):
                line = lines[node.lineno - 1]
                if "# hang guard" not in line and (str(path.relative_to(REPO)), line.strip()) not in PENDING_TIMED:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not found, "timed assertions (assert a mechanism, or mark a hang-only bound '# hang guard'):\n" + \
        "\n".join(found)


PACKAGE = REPO / "workbench"


def test_root_holds_only_the_public_api_and_errors():
    files = sorted(p.name for p in PACKAGE.iterdir() if p.is_file())
    assert files == ["__init__.py", "errors.py", "py.typed"]
    packages = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert packages == ["batch", "cli", "core", "data", "drift", "evaluation", "explore", "models", "pipeline", "recsys",
                        "registry", "reports", "rollout", "runner", "serve", "tabular", "vision"]


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


def _input_schema_dict_access(tree) -> list[tuple[int, str]]:
    """Where code digs in a card's input schema as a dict: ``input_schema[...]``, ``.get(``/``.items()``,
    ``isinstance(... input_schema ...)`` or ``in``, directly or through a name a function binds to it."""
    import ast

    def aliases(scope) -> set[str]:
        out = set()
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
                pairs = zip(target.elts, value.elts) if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) \
                    else [(target, value)]
                out |= {t.id for t, v in pairs if isinstance(t, ast.Name) and ast.unparse(v).endswith("input_schema")}
        return out

    def bad(node, names: set[str]) -> bool:
        def schema(expr) -> bool:
            return ast.unparse(expr).endswith("input_schema") or (isinstance(expr, ast.Name) and expr.id in names)

        return (isinstance(node, ast.Subscript) and schema(node.value)) or (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and schema(node.func.value)
            and node.func.attr in ("get", "items", "keys", "values", "setdefault", "pop")) or (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"
            and any("input_schema" in ast.unparse(a) or schema(a) for a in node.args)) or (
            isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops)
            and any(schema(c) for c in node.comparators))

    scopes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))]
    found = set()
    for scope in scopes:
        names = aliases(scope) if scope is not tree else set()
        found |= {(n.lineno, ast.unparse(n)) for n in ast.walk(scope) if bad(n, names)}
    return sorted(found)


def test_only_the_models_package_reads_the_card_input_schema_as_json():
    """The card's input schema is typed (``TableInput``, ``ImageInput``, ``UsersInput``): everywhere but
    ``workbench/models/`` code reads attributes, never ``input_schema[...]``, ``.get(`` or ``isinstance``."""
    import ast

    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if (PACKAGE / "models") in path.parents:
            continue
        for line, code in _input_schema_dict_access(ast.parse(path.read_text())):
            offenders.append(f"{path.relative_to(REPO)}:{line}: {code}")
    assert not offenders, offenders
    planted = ast.parse("def f(card, p, s):\n    s = card.input_schema\n    n = s.get('size')\n"
                        "    k = card.input_schema['type']\n    ok = isinstance(p.card.input_schema, dict)\n"
                        "    t = 'columns' in s\n    u = card.input_schema.size\n\ndef g(s):\n    return s['x']\n")
    assert [line for line, _ in _input_schema_dict_access(planted)] == [3, 4, 5, 6]  # the checker itself finds them


# ------------------------------------------------------------------------------ the public surfaces
DOMAINS = ("explore", "tabular", "vision", "recsys", "drift", "rollout")
PUBLIC_API = {
    "workbench": {"record", "record_curve", "artifacts_dir", "in_headless_run", "run_id", "WorkbenchError",
                  "ParameterError", "NotebookNotFoundError", "DatasetError", "ModelError", "RunFailedError",
                  "run_notebook", "inspect_parameters", "load_dataset", "Dataset", "load_image_dataset", "track",
                  "load_model", "register_model"},
    # the notebook-facing names only: the verbs, the result types, the report objects
    "workbench.explore": {"Exploration", "AlertThresholds", "record"},
    "workbench.tabular": {"prepare_task", "compare_models", "fit_best", "save", "log", "record", "model_names",
                          "TabularTask", "Comparison", "BestModel", "TabularModel"},
    "workbench.vision": {"train", "save", "log", "record", "VisionRun", "dataset_overview", "backbone_names"},
    "workbench.recsys": {"prepare_interactions", "prepare_task", "compare_models", "save", "log", "record",
                         "describe_models", "model_names", "latency_ms", "update_demo", "Interactions", "RecTask",
                         "Comparison"},
    "workbench.drift": {"DriftReport", "Thresholds", "save", "log", "record"},
    "workbench.rollout": {"RolloutReport", "simulate", "Simulation", "Verdict", "save", "log", "record"},
}
# importable from the package without being exported: the model kinds' loaders (models._store, entry points)
UNEXPORTED = {"workbench.tabular": {"load_predictor"}, "workbench.vision": {"load_predictor"},
              "workbench.recsys": {"load_predictor"}}


def test_each_domain_exports_at_most_15_names():
    import importlib

    sizes = {d: len(importlib.import_module(f"workbench.{d}").__all__) for d in DOMAINS}
    assert all(n <= 15 for n in sizes.values()), sizes


def test_public_api_is_exactly_the_decided_names():
    """Every name of each ``__all__`` resolves, the set is the decided one (a planted extra or missing export
    fails), nothing else public sits in the package namespace, and the model-kind loaders stay importable."""
    import importlib
    import types

    for name, expected in PUBLIC_API.items():
        module = importlib.import_module(name)
        assert set(module.__all__) == expected, (name, set(module.__all__) ^ expected)
        assert len(module.__all__) == len(expected), f"{name}: a name listed twice in __all__"
        for attr in module.__all__:
            assert hasattr(module, attr), f"{name}.{attr} is exported but does not resolve"
        public = {k for k, v in vars(module).items() if not k.startswith("_") and not isinstance(v, types.ModuleType)
                  and k != "annotations" and getattr(v, "__module__", None) != "typing"}
        allowed = expected | UNEXPORTED.get(name, set())
        assert public <= allowed, (name, public - allowed)
    for name, extra in UNEXPORTED.items():
        for attr in extra:
            assert callable(getattr(importlib.import_module(name), attr)), f"{name}.{attr}"


# ------------------------------------------------------------------------------ imports and messages


def _module_names() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the workbench modules it imports: module-level and function-level imports (and those under
    ``TYPE_CHECKING``), relative and absolute; ``from pkg import name`` points at ``pkg.name`` when that is a
    module, else at ``pkg`` (its ``__init__``)."""
    import ast

    modules = _module_names()

    def known(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        edges = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            edges.update(t for t in map(known, targets) if t and t != name)
    return graph


def _strongly_connected(members: set[str], graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components of ``graph`` restricted to ``members``, two or more modules each."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in members:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(members):
        if v not in index:
            visit(v)
    return found


def cycles_within_packages(graph: dict[str, set[str]]) -> list[set[str]]:
    """Import cycles among the modules of one package (the package's ``__init__`` and its direct modules and
    subpackages)."""
    packages: dict[str, set[str]] = {}
    for name in graph:
        packages.setdefault(name, set()).add(name)  # a package's own __init__ (plain modules: a set of one)
        if "." in name:
            packages.setdefault(name.rpartition(".")[0], set()).add(name)
    return [c for members in packages.values() for c in _strongly_connected(members, graph)]


def test_no_import_cycle_inside_a_package():
    """Modules are cut along concepts: no two modules of one package import each other, directly or through
    others (function-level imports count: they only postpone the cycle)."""
    cycles = cycles_within_packages(import_graph())
    assert not cycles, [sorted(c) for c in cycles]


def _messages(tree) -> list[tuple[int, str]]:
    """String literals of a module (f-strings whole, ``{}`` for their fields), docstrings left out."""
    import ast

    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            out.append((node.lineno, text))
            docstrings.update(id(v) for v in node.values)  # its parts are read with it
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            out.append((node.lineno, node.value))
    return out


def test_library_messages_name_arguments_not_cli_flags():
    """Only the CLI and the run path speak ``-p name value``; the library names the argument
    (``folds must be an integer >= 2 (folds=1)``), so its messages read right in a notebook too."""
    import ast

    flagged = []
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] in ("cli", "runner"):
            continue
        for line, text in _messages(ast.parse(path.read_text())):
            if re.search(r"(?<![\w-])-p\s", text):
                flagged.append(f"{path.relative_to(REPO)}:{line}: {text[:100]!r}")
    assert not flagged, flagged


def test_the_mutation_audits_patches_still_apply():
    """Each planted bug of ``benchmarks/mutation_audit.py`` still patches its code, and its guarding tests
    exist (else update the mutant: the audit would report it ``stale``)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("mutation_audit", REPO / "benchmarks" / "mutation_audit.py")
    audit = importlib.util.module_from_spec(spec)
    sys.modules["mutation_audit"] = audit  # its dataclasses look their module up
    try:
        spec.loader.exec_module(audit)
    finally:
        sys.modules.pop("mutation_audit", None)
    assert len(audit.MUTANTS) == 41 and len({m.id for m in audit.MUTANTS}) == 41
    assert sum(1 for m in audit.MUTANTS if m.unit) >= 20
    for m in audit.MUTANTS:
        assert (PACKAGE / m.file).read_text().count(m.old) == 1, f"{m.id}: its text no longer occurs once in {m.file}"
        for node in (*m.unit, *m.e2e):
            path, _, name = node.partition("::")
            assert (REPO / path).is_file(), (m.id, node)
            assert not name or f"def {name.split('[')[0]}(" in (REPO / path).read_text(), (m.id, node)
