"""``when:`` conditions: tokenizer and recursive-descent parser, evaluated on upstream values, never eval."""

import pytest

from workbench.pipeline._expr import ExpressionError, parse_condition, tokenize

VALUES = {("drift", "dataset_drift"): True, ("drift", "n_drifted"): 3, ("retrain", "best_score"): 0.85,
          ("retrain", "best_model"): "catboost"}


def holds(text: str) -> bool:
    return parse_condition(text).evaluate(lambda step, name: VALUES.get((step, name)))


@pytest.mark.parametrize("text, expected", [
    ("drift.dataset_drift", True),
    ("not drift.dataset_drift", False),
    ("retrain.best_score >= 0.84", True),
    ("retrain.best_score >= 0.86", False),
    ("drift.n_drifted > 2 and retrain.best_score < 1", True),
    ("drift.n_drifted > 5 or retrain.best_model == 'catboost'", True),
    ('retrain.best_model != "catboost"', False),
    ("not (drift.n_drifted > 5 or false)", True),
    ("drift.missing == null", True),
    ("drift.n_drifted == 3 and not drift.dataset_drift or true", True),
    ("1e-3 < 0.01", True),
    ("True", True),
])
def test_conditions_evaluate_on_upstream_values(text, expected):
    assert holds(text) is expected


def test_precedence_not_binds_tighter_than_and_tighter_than_or():
    assert parse_condition("a.x or b.y and not c.z").tree == ("or", ("name", "a.x"), ("and", ("name", "b.y"),
                                                                                        ("not", ("name", "c.z"))))


def test_names_are_collected_with_their_steps():
    c = parse_condition("drift.dataset_drift and retrain.best_score >= 0.84 and drift.n_drifted > 0")
    assert c.names == ("drift.dataset_drift", "retrain.best_score", "drift.n_drifted")
    assert c.steps == {"drift", "retrain"}


def test_tokens():
    assert tokenize("a.b >= -2.5 and 'x y'") == [("name", "a.b"), ("op", ">="), ("num", -2.5), ("word", "and"),
                                                 ("str", "x y")]


@pytest.mark.parametrize("text, message", [
    ("__import__('os').system('true')", "cannot read the condition"),
    ("drift.n_drifted >", "ends too early"),
    ("(drift.n_drifted > 1", "misses a closing"),
    ("drift.n_drifted > 1 drift.x", "join conditions with and/or"),
    ("dataset_drift", "must be STEP.METRIC"),
    ("a.b.c > 1", "must be STEP.METRIC"),
    ("", "an empty condition"),
    ("drift.x + 1", "cannot read the condition"),
    ("a.b; import os", "cannot read the condition"),
])
def test_bad_conditions_name_the_problem(text, message):
    with pytest.raises(ExpressionError, match=message):
        parse_condition(text)


def test_comparing_values_of_different_kinds_is_an_error_naming_them():
    with pytest.raises(ExpressionError, match=r"compares None > 1"):
        holds("drift.missing > 1")


def test_a_very_long_condition_is_refused():
    with pytest.raises(ExpressionError, match="over 1000 characters"):
        parse_condition("a.b and " * 200 + "a.b")
