"""References and names: what parses, what each part means, and the errors for what does not."""

from __future__ import annotations

import re

import pytest

from workbench.errors import ModelError
from workbench.registry import ModelRef, check_alias, check_name, is_ref, parse_ref


@pytest.mark.parametrize("text, ref", [
    ("churn", ModelRef("churn")),
    ("churn@champion", ModelRef("churn", alias="champion")),
    ("churn@latest", ModelRef("churn")),  # the same as the bare name
    ("churn:3", ModelRef("churn", version=3)),
    ("telco-churn_v2.1:12", ModelRef("telco-churn_v2.1", version=12)),
])
def test_references_parse(text, ref):
    assert parse_ref(text) == ref
    assert str(ref) in (text, "churn")


@pytest.mark.parametrize("text, message", [
    ("churn@", "alias '' in 'churn@' is not allowed"),
    ("@champion", "model name '' in '@champion' is not allowed"),
    ("churn:0", "version '0' in 'churn:0' must be a positive integer"),
    ("churn:x", "version 'x' in 'churn:x' must be a positive integer"),
    ("churn:-1", "version '-1' in 'churn:-1' must be a positive integer"),
    ("churn@a:1", "has both '@' and ':'"),
    ("../churn", "model name '../churn' is not allowed"),
    ("a/b@x", "model name 'a/b' in 'a/b@x' is not allowed"),
    (".hidden", "model name '.hidden' is not allowed"),
    ("", "model name '' is not allowed"),
    ("x" * 101, "at most 100 characters"),
])
def test_bad_references_name_the_part_that_is_wrong(text, message):
    with pytest.raises(ModelError, match=re.escape(message)):
        parse_ref(text)
    assert not is_ref(text)


def test_names_are_single_safe_path_components():
    for good in ("churn", "Churn2", "a.b-c_d", "0day"):
        assert check_name(good) == good
    for bad in ("a/b", "..", ".", "-x", "_x", "a b", "a\\b", "a\x00b", "ä", 3, None):
        with pytest.raises(ModelError, match="letters, digits"):
            check_name(bad)


def test_latest_is_a_reserved_alias():
    assert check_alias("champion") == "champion"
    with pytest.raises(ModelError, match="'latest' is reserved"):
        check_alias("latest")
