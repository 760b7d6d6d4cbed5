"""A pipeline file read and checked: steps (notebook runs or the built-in ``register`` / ``alias``
actions), their parameters, ``${step.…}`` references, ``when:`` conditions and ``after:``.

Everything is checked here, before anything runs: the YAML (``safe_load``, no anchors), step and key
names, each notebook's parameters against its signature (unknown names list the valid ones; literal
values are type-checked), references (known step, known attribute), conditions (parsed, never
evaluated as code) and the graph (a cycle is shown as ``a -> b -> a``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from ..errors import WorkbenchError
from ..runner import NotebookSource, Signature
from ._expr import Condition, ExpressionError, parse_condition


class PipelineError(WorkbenchError, ValueError):
    """A pipeline file that cannot run as written (the message names the problem and the fix)."""


_STEP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_REF = re.compile(r"\$\{([^}]*)\}")
_REF_BODY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\.(run_id|artifacts|report|dir|metrics\.[A-Za-z_][A-Za-z0-9_.-]*)")
ATTRIBUTES = "run_id, artifacts, report, dir, metrics.NAME"
ACTIONS = {"register": ("name", "source", "alias"), "alias": ("name", "alias", "version")}
ACTION_REQUIRED = {"register": ("name", "source"), "alias": ("name", "alias", "version")}
_COMMON = ("when", "after")
MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class Ref:
    """One ``${step.attr}`` reference."""

    step: str
    attr: str
    text: str


def references(value: Any) -> Iterator[Ref]:
    """Every reference in a value (text, lists and dicts walked); a malformed one raises."""
    if isinstance(value, str):
        for m in _REF.finditer(value):
            body = m.group(1).strip()
            ok = _REF_BODY.fullmatch(body)
            if ok is None:
                raise PipelineError(f"bad reference {m.group(0)!r}: write ${{STEP.ATTR}} with ATTR one of {ATTRIBUTES} "
                                    "(e.g. ${retrain.artifacts}/model)")
            yield Ref(ok.group(1), ok.group(2), m.group(0))
    elif isinstance(value, list):
        for v in value:
            yield from references(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from references(v)


def substitute(value: Any, lookup) -> Any:
    """``value`` with every reference replaced by ``lookup(ref)``; a value that is one reference alone
    takes the referenced value's type (a metric stays a number)."""
    if isinstance(value, str):
        whole = _REF.fullmatch(value.strip())
        if whole is not None:
            return lookup(next(references(value)))
        return _REF.sub(lambda m: str(lookup(next(references(m.group(0))))), value)
    if isinstance(value, list):
        return [substitute(v, lookup) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, lookup) for k, v in value.items()}
    return value


@dataclass
class Step:
    """One step: a notebook run (``notebook``, ``params``) or an action (``action`` with its ``args``)."""

    name: str
    notebook: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)
    action: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    when: Condition | None = None
    after: tuple[str, ...] = ()
    deps: tuple[str, ...] = ()
    source: NotebookSource | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return self.action or "notebook"

    @property
    def label(self) -> str:
        """What the step does, in a few words."""
        if self.notebook is not None:
            return str(self.notebook)
        return f"{self.action} {self.args.get('name')}" + (f"@{self.args['alias']}" if self.args.get("alias") else "")


@dataclass
class Pipeline:
    """A checked pipeline: its file, steps in a dependency order, and the registry its actions use."""

    path: Path
    steps: dict[str, Step]
    order: list[str]
    registry: str | None = None

    def descendants(self, name: str) -> set[str]:
        """Every step that depends on ``name``, directly or not."""
        out: set[str] = set()
        for s in self.order:
            if any(d == name or d in out for d in self.steps[s].deps):
                out.add(s)
        return out

    def ancestors(self, name: str) -> set[str]:
        out: set[str] = set()
        todo = list(self.steps[name].deps)
        while todo:
            d = todo.pop()
            if d not in out:
                out.add(d)
                todo += self.steps[d].deps
        return out


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise PipelineError(f"pipeline file {str(path)!r} not found; give a YAML file with a steps: mapping")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise PipelineError(f"pipeline file {str(path)!r} is over 1 MiB; a pipeline lists steps, not data")
    text = path.read_text(encoding="utf-8")
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise PipelineError(f"{path}: YAML anchors and aliases (&name / *name) are not allowed; write "
                                    "the values out")
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise PipelineError(f"{path} is not valid YAML: {' '.join(str(e).split())}") from None


def _find_notebook(text: Any, where: Path, step: str) -> NotebookSource:
    if not isinstance(text, str) or not text:
        raise PipelineError(f"step {step!r}: notebook must be a path to a .ipynb file")
    for base in (Path("."), where):
        if (base / text).is_file():
            try:
                return NotebookSource.load(base / text)
            except WorkbenchError as e:
                raise PipelineError(f"step {step!r}: {e}") from None
    raise PipelineError(f"step {step!r}: notebook {text!r} not found (relative to here or to {where}); fix the path")


def _check_params(step: str, source: NotebookSource, params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise PipelineError(f"step {step!r}: params must be a mapping NAME: VALUE")
    signature = Signature.of(source)
    try:  # names first (a reference's value is known at run time only), then every literal value's type
        signature.validate({k: None for k in params})
        signature.validate({k: v for k, v in params.items() if not any(True for _ in references(v))})
    except WorkbenchError as e:
        raise PipelineError(f"step {step!r}: {e}") from None
    return dict(params)


def _parse_step(name: str, body: Any, where: Path) -> Step:
    if not _STEP_NAME.fullmatch(str(name)):
        raise PipelineError(f"step name {name!r} must be letters, digits and _ (not starting with a digit), "
                            "as conditions read STEP.METRIC")
    if not isinstance(body, dict):
        raise PipelineError(f"step {name!r} must be a mapping with notebook: or one of {', '.join(ACTIONS)}:")
    kinds = [k for k in ("notebook", *ACTIONS) if k in body]
    if len(kinds) != 1:
        raise PipelineError(f"step {name!r} needs exactly one of notebook:, register:, alias: (found "
                            f"{', '.join(kinds) or 'none'})")
    allowed = {"notebook": ("notebook", "params")}.get(kinds[0], (kinds[0],)) + _COMMON
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise PipelineError(f"step {name!r}: unknown key{'s' if len(extra) > 1 else ''} {', '.join(extra)}; "
                            f"a {kinds[0]} step takes {', '.join(allowed)}")
    step = Step(name, when=_condition(name, body.get("when")), after=_after(name, body.get("after")))
    if kinds[0] == "notebook":
        step.source = _find_notebook(body["notebook"], where, name)
        step.notebook = step.source.path
        step.params = _check_params(name, step.source, body.get("params"))
    else:
        step.action, step.args = kinds[0], _action_args(name, kinds[0], body[kinds[0]])
    return step


def _condition(step: str, text: Any) -> Condition | None:
    if text is None:
        return None
    if isinstance(text, bool):
        text = "true" if text else "false"
    try:
        return parse_condition(text)
    except ExpressionError as e:
        raise PipelineError(f"step {step!r}: when: {e}") from None


def _after(step: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise PipelineError(f"step {step!r}: after: must be a step name or a list of step names")
    return tuple(items)


def _action_args(step: str, action: str, args: Any) -> dict[str, Any]:
    if not isinstance(args, dict):
        raise PipelineError(f"step {step!r}: {action}: must be a mapping of {', '.join(ACTIONS[action])}")
    unknown = sorted(set(args) - set(ACTIONS[action]))
    missing = [k for k in ACTION_REQUIRED[action] if args.get(k) in (None, "")]
    if unknown or missing:
        what = f"unknown {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
        raise PipelineError(f"step {step!r}: {action}: {what}; it takes {', '.join(ACTIONS[action])} "
                            f"({', '.join(ACTION_REQUIRED[action])} required)")
    return dict(args)


def _dependencies(step: Step, names: set[str]) -> tuple[str, ...]:
    deps: list[str] = list(step.after)
    for ref in references(step.params if step.action is None else step.args):
        deps.append(ref.step)
    if step.action == "register" and isinstance(step.args.get("source"), str) and step.args["source"] in names:
        deps.append(step.args["source"])  # `source: retrain`: that step's artifacts/model
    if step.when is not None:
        deps += sorted(step.when.steps)
    for d in deps:
        if d not in names:
            raise PipelineError(f"step {step.name!r} refers to unknown step {d!r}; steps: {', '.join(sorted(names))}")
    return tuple(dict.fromkeys(deps))


def _topological(steps: Mapping[str, Step]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise PipelineError(f"the steps form a cycle: {' -> '.join(cycle)}; remove one of these references "
                                "or after: entries")
        state[name] = 1
        path.append(name)
        for d in steps[name].deps:
            visit(d)
        path.pop()
        state[name] = 2
        order.append(name)

    for name in steps:
        visit(name)
    return order


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and check a pipeline file (raises :class:`PipelineError` naming the problem and the fix)."""
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("steps"), dict) or not data["steps"]:
        raise PipelineError(f"{path}: a pipeline file is a mapping with a non-empty steps: mapping "
                            "(steps: {NAME: {notebook: ..., params: {...}}})")
    extra = sorted(set(data) - {"steps", "registry", "description"})
    if extra:
        raise PipelineError(f"{path}: unknown top-level key{'s' if len(extra) > 1 else ''} {', '.join(map(str, extra))}; "
                            "a pipeline takes steps, registry, description")
    steps = {str(n): _parse_step(str(n), body, path.parent) for n, body in data["steps"].items()}
    for step in steps.values():
        step.deps = _dependencies(step, set(steps))
        if step.name in step.deps:
            raise PipelineError(f"the steps form a cycle: {step.name} -> {step.name}; a step cannot use its own results")
    registry = data.get("registry")
    if registry is not None and not isinstance(registry, str):
        raise PipelineError(f"{path}: registry: must be a folder path")
    return Pipeline(path, steps, _topological(steps), registry)
