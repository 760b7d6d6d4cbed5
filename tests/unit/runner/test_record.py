"""The rerun command and the record's shared fields."""

from workbench.runner.record import rerun_command


def test_rerun_command_round_trips_through_the_shell_and_yaml():
    import shlex

    from workbench.runner.params import parse_value

    values = {"models": ["logreg", "catboost"], "label": "two words", "n": 3, "s": "3", "empty": "", "x": 0.5,
              "opts": {"a": [1, 2]}, "none": None, "flag": True}
    argv = shlex.split(rerun_command("nb.ipynb", values))
    assert argv[:3] == ["workbench", "run", "nb.ipynb"]
    pairs = argv[3:]
    assert pairs[0::3] == ["-p"] * len(values)
    parsed = {k: parse_value(v) for k, v in zip(pairs[1::3], pairs[2::3])}
    assert parsed == values
    assert "-p models '[logreg, catboost]'" in rerun_command("nb.ipynb", {"models": ["logreg", "catboost"]})
