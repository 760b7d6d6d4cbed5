"""Property-based fuzzing of the OpenAPI document (schemathesis): no input gives a 500, and every answer
matches what the document promises (status codes, content types, response schemas).

Inputs that once broke the contract are kept in :data:`PAST_FAILURES` and tried first by every run (and
alone, quickly, in the unit layer); the slow layer fuzzes with pytest's seed and with 20 fixed seeds.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from workbench.serve import create_app

TOKEN = "fuzz-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAST_FAILURES = {  # operation label -> Case arguments that once failed a check
    # --hypothesis-seed=41583445683364883211740632659774605939: "\x1d" is white space to Python (stripped to an
    # empty id, 422) but the schema allowed any string: the path parameter now carries the body's NOT_BLANK
    "GET /models/recs/users/{user}": [{"path_parameters": {"user": "\x1d"}}, {"path_parameters": {"user": " \x1c"}}],
}
SEEDS = range(20)


def _fuzz(operation, mode: GenerationMode, examples: int, fixed_seed: int | None = None,
          explicit_only: bool = False) -> None:
    phases = [Phase.explicit] if explicit_only else list(Phase)

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              phases=phases)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        # schema-valid but rightly refused (422): text that is not a CSV with every column (a CSV is a "string"
        # to OpenAPI) and items outside the recommender's catalog; everything else is held to every check
        data_dependent = case.media_type not in (None, "application/json") or case.path.endswith("/interactions")
        excluded = [positive_data_acceptance] if data_dependent else []
        case.call_and_validate(headers=AUTH, excluded_checks=excluded)

    for kwargs in PAST_FAILURES.get(operation.label, []):
        run = example(case=operation.Case(**kwargs))(run)
    if fixed_seed is not None:
        run = seed(fixed_seed)(run)
    try:
        run()
    except Unsatisfiable:  # negative data for an operation that takes no input: nothing to break
        assert mode == GenerationMode.NEGATIVE and not operation.body and not operation.path_parameters


def _operations(churn_dir, vision_dir, recsys_dir, config_for) -> list:
    app = create_app(config_for(("churn", churn_dir), ("parts", vision_dir), ("recs", recsys_dir), token=TOKEN,
                                max_rows=50, max_images=3, max_body_bytes=1 << 20))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH)
    # too many records (over maxItems) is refused with the documented 413, a rejection schemathesis does not list
    rejection = schema.config.checks.negative_data_rejection
    schema.config.checks.negative_data_rejection = type(rejection)(
        expected_statuses=[*rejection.expected_statuses, "413"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9, [op.label for op in operations]
    return operations


def test_past_failures_hold_the_contract(churn_dir, vision_dir, recsys_dir, config_for):
    """Each past failure: the schema and the handler agree on it (schema-valid: accepted; else: 422)."""
    import jsonschema

    operations = {op.label: op for op in _operations(churn_dir, vision_dir, recsys_dir, config_for)}
    assert set(PAST_FAILURES) <= set(operations)
    for label, cases in PAST_FAILURES.items():
        op = operations[label]
        schemas = {p.name: p.definition["schema"] for p in op.path_parameters}
        for kwargs in cases:
            valid = all(jsonschema.Draft202012Validator(schemas[n]).is_valid(v)
                        for n, v in kwargs["path_parameters"].items())
            response = op.Case(**kwargs).call(headers=AUTH)
            assert (response.status_code != 422) == valid, (label, kwargs, valid, response.status_code, response.text)
            assert response.status_code < 500
        _fuzz(op, GenerationMode.POSITIVE, 1, explicit_only=True)


@pytest.mark.slow
def test_no_input_breaks_the_server_or_the_contract(churn_dir, vision_dir, recsys_dir, config_for):
    for op in _operations(churn_dir, vision_dir, recsys_dir, config_for):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(op, mode, 20)


@pytest.mark.slow
@pytest.mark.parametrize("fixed_seed", SEEDS)
def test_no_input_breaks_the_contract_for_20_seeds(fixed_seed, churn_dir, vision_dir, recsys_dir, config_for):
    for op in _operations(churn_dir, vision_dir, recsys_dir, config_for):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(op, mode, 8, fixed_seed)
