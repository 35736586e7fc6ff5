"""Kubernetes object names for Azure ML names (modelpack/targets/kubernetes/naming.py)."""

from __future__ import annotations

import re

from modelpack.targets.kubernetes.naming import MAX_LENGTH, namespace_for, object_name

DNS_LABEL = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")


def test_a_name_that_is_already_a_dns_label_is_kept() -> None:
    assert object_name("sklearn-regression-online", "blue") == "sklearn-regression-online-blue"
    assert namespace_for("staging") == "modelpack-staging"


def test_underscores_and_capitals_are_translated_with_a_hash_of_the_original() -> None:
    translated = object_name("my-endpoint", "Blue_1")
    assert DNS_LABEL.match(translated)
    assert translated.startswith("my-endpoint-blue-1-")
    # Two spellings that translate alike stay two objects.
    assert translated != object_name("my-endpoint", "blue-1")
    assert translated != object_name("my-endpoint", "blue_1")


def test_long_names_are_cut_to_a_dns_label_and_stay_distinct() -> None:
    first = object_name("e" * 40, "deployment-one-" + "x" * 30)
    second = object_name("e" * 40, "deployment-two-" + "x" * 30)
    for name in (first, second):
        assert len(name) <= MAX_LENGTH and DNS_LABEL.match(name), name
    assert first != second


def test_a_name_starting_with_a_digit_gets_a_letter_first() -> None:
    assert DNS_LABEL.match(object_name("1st", "blue"))
