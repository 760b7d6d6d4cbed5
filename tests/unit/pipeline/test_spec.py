"""Pipeline files: parsed with safe_load and checked before anything runs (each error names the fix)."""

from pathlib import Path

import pytest
from support import make_notebook

from workbench.pipeline import PipelineError, load_pipeline, plan_pipeline, run
from workbench.pipeline._run import apply_overrides
from workbench.pipeline._spec import references, substitute
from workbench.runner import RunOptions


@pytest.fixture
def folder(tmp_path: Path, monkeypatch) -> Path:
    make_notebook(tmp_path / "a.ipynb", 'x = 1  # a number\nname = "n"  # a text', "import workbench")
    make_notebook(tmp_path / "b.ipynb", 'y = 0.0  # from a\npath = ""  # a folder', "import workbench")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, text: str) -> Path:
    (folder / "p.yaml").write_text(text)
    return folder / "p.yaml"


GOOD = """
steps:
  b:    {notebook: b.ipynb, params: {y: "${a.metrics.y}", path: "${a.artifacts}/model"}, when: "a.y > 1"}
  a:    {notebook: a.ipynb, params: {x: 3}}
  c:    {notebook: a.ipynb, after: [b]}
  reg:  {register: {name: churn, source: b, alias: challenger}, when: "b.score >= 0.8"}
  move: {alias: {name: churn, alias: champion, version: "${reg.metrics.version}"}}
"""


def test_a_good_pipeline_gives_steps_in_dependency_order(folder):
    p = load_pipeline(write(folder, GOOD))
    assert p.order == ["a", "b", "c", "reg", "move"]
    assert p.steps["b"].deps == ("a",) and p.steps["c"].deps == ("b",) and p.steps["reg"].deps == ("b",)
    assert p.steps["move"].deps == ("reg",) and p.steps["reg"].kind == "register"
    assert p.descendants("a") == {"b", "c", "reg", "move"} and p.ancestors("move") == {"reg", "b", "a"}


@pytest.mark.parametrize("text, message", [
    ("steps:\n  a: {notebook: a.ipynb, params: {x: '${b.metrics.y}'}}\n  b: {notebook: b.ipynb, params: {y: '${a.metrics.x}'}}",
     r"cycle: a -> b -> a"),
    ("steps:\n  a: {notebook: a.ipynb, after: [c]}\n  b: {notebook: a.ipynb, after: a}\n  c: {notebook: a.ipynb, after: b}",
     r"cycle: a -> c -> b -> a"),
    ("steps:\n  a: {notebook: a.ipynb, params: {x: '${a.metrics.x}'}}", r"cycle: a -> a"),
    ("steps:\n  a: {notebook: a.ipynb, after: [nope]}", r"unknown step 'nope'; steps: a"),
    ("steps:\n  a: {notebook: a.ipynb, when: 'nope.x > 1'}", r"unknown step 'nope'"),
    ("steps:\n  a: {notebook: a.ipynb, params: {z: 1}}", r"step 'a': unknown parameter 'z' .*valid parameters: x, name"),
    ("steps:\n  a: {notebook: a.ipynb, params: {x: one}}", r"step 'a': parameter 'x' of .* must be int"),
    ("steps:\n  a: {notebook: a.ipynb}\n  b: {notebook: b.ipynb, params: {y: '${a.score}'}}", r"bad reference '\$\{a.score\}'"),
    ("steps:\n  a: {notebook: a.ipynb}\n  b: {notebook: b.ipynb, params: {path: '${a}/x'}}", r"bad reference"),
    ("steps:\n  a: {notebook: missing.ipynb}", r"notebook 'missing.ipynb' not found"),
    ("steps:\n  a: {notebook: a.ipynb, register: {name: x, source: a}}", r"exactly one of notebook:, register:, alias:"),
    ("steps:\n  a: {notebook: a.ipynb, parms: {x: 1}}", r"unknown key parms; a notebook step takes notebook, params, when"),
    ("steps:\n  a: {register: {name: churn}}", r"register: missing source"),
    ("steps:\n  a: {alias: {name: churn, alias: champion, version: 1, extra: 2}}", r"alias: unknown extra"),
    ("steps:\n  1a: {notebook: a.ipynb}", r"step name '1a'"),
    ("steps:\n  a: {notebook: a.ipynb, when: 'a b'}", r"step 'a': when: "),
    ("steps: {}", r"non-empty steps"),
    ("step:\n  a: {notebook: a.ipynb}", r"non-empty steps"),
    ("steps:\n  a: {notebook: a.ipynb}\nextra: 1", r"unknown top-level key extra"),
    ("steps:\n  a: &x {notebook: a.ipynb}\n  b: *x", r"anchors and aliases"),
    ("steps: [a, b", r"is not valid YAML"),
])
def test_bad_pipelines_fail_before_anything_runs_naming_the_problem(folder, text, message):
    with pytest.raises(PipelineError, match=message):
        load_pipeline(write(folder, text))
    with pytest.raises(PipelineError, match=message):
        run(folder / "p.yaml")
    assert not (folder / "reports").exists()


def test_a_missing_file_is_one_clear_error(folder):
    with pytest.raises(PipelineError, match="pipeline file 'nope.yaml' not found"):
        load_pipeline("nope.yaml")


def test_overrides_are_checked_against_the_step_notebook(folder):
    p = load_pipeline(write(folder, GOOD))
    apply_overrides(p, {"a.x": 5, "c": {"name": "m"}})
    assert p.steps["a"].params == {"x": 5} and p.steps["c"].params == {"name": "m"}
    with pytest.raises(PipelineError, match="unknown parameter 'q'"):
        apply_overrides(p, {"a.q": 1})
    with pytest.raises(PipelineError, match="STEP one of a, b, c, reg, move"):
        apply_overrides(p, {"zz.x": 1})
    with pytest.raises(PipelineError, match="register action, not a notebook"):
        apply_overrides(p, {"reg.name": "x"})


def test_references_keep_the_value_type_alone_and_become_text_inside_text():
    found = [r.text for r in references({"a": "${s.run_id}", "b": ["x ${t.metrics.auc} y"]})]
    assert found == ["${s.run_id}", "${t.metrics.auc}"]
    values = {"${s.metrics.n}": 3, "${s.artifacts}": "/r/s/1/artifacts"}
    out = substitute({"n": "${s.metrics.n}", "m": "${s.artifacts}/model", "k": ["n=${s.metrics.n}"]},
                     lambda ref: values[ref.text])
    assert out == {"n": 3, "m": "/r/s/1/artifacts/model", "k": ["n=3"]}


def test_show_on_a_fresh_folder_says_what_runs_and_what_waits_on_a_condition(folder):
    plan = {s.name: s for s in plan_pipeline(load_pipeline(write(folder, GOOD)), RunOptions(reports="reports"))}
    assert (plan["a"].verdict, plan["a"].why) == ("runs", "no earlier succeeded run")
    assert plan["b"].verdict == "runs if when holds" and plan["b"].why == "upstream step 'a' runs"
    assert plan["b"].when == "a.y > 1"
    assert plan["move"].verdict == "runs" and plan["move"].why == "upstream step 'reg' runs"
    with pytest.raises(PipelineError, match="no step 'zz'"):
        plan_pipeline(load_pipeline(folder / "p.yaml"), force=["zz"])
    assert not (folder / "reports").exists()


def test_the_shipped_retrain_pipeline_checks_against_the_real_notebooks(tmp_path, monkeypatch):
    root = Path(__file__).resolve().parents[3]
    monkeypatch.chdir(root)  # the file names notebooks relative to the repository
    pipeline = load_pipeline(root / "pipelines" / "retrain.yaml")
    plan = {s.name: s for s in plan_pipeline(pipeline, RunOptions(reports=str(tmp_path / "reports")))}
    assert set(plan) == {"drift", "retrain", "register", "explore"}
    assert plan["retrain"].when == "drift.dataset_drift" and plan["register"].when == "retrain.best_score >= 0.80"
    assert pipeline.steps["register"].deps == ("retrain",) and pipeline.steps["retrain"].deps == ("drift",)
    with pytest.raises(PipelineError, match="folds"):  # its parameters are checked against the notebook's signature
        apply_overrides(pipeline, {"retrain.fold": 3})
