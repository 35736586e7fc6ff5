"""Parsing what az takes on its command line."""

from __future__ import annotations

import pytest

from modelpack.cli.az_args import describe_shares, parse_set, parse_shares, shares_argument
from modelpack.cli.errors import CliError


def test_traffic_is_parsed_as_az_writes_it() -> None:
    assert parse_shares(["blue=90 green=10"], "--traffic") == {"blue": 90, "green": 10}
    assert parse_shares(["blue=90", "green=10"], "--traffic") == {"blue": 90, "green": 10}
    assert parse_shares(["blue=90,green=10"], "--traffic") == {"blue": 90, "green": 10}
    assert parse_shares(["regular_deployment=100"], "--traffic") == {"regular_deployment": 100}
    assert shares_argument({"blue": 80, "green": 20}) == "blue=80 green=20"


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["blue"], "'blue' is not <deployment>=<percent>"),
        (["blue=ninety"], "'blue=ninety' is not"),
        (["blue=1 blue=2"], "'blue' is given twice"),
        ([""], "no <deployment>=<percent>"),
    ],
)
def test_bad_traffic_says_what_is_expected(words: list[str], message: str) -> None:
    with pytest.raises(CliError, match=message):
        parse_shares(words, "--traffic")


def test_set_values_are_yaml_scalars() -> None:
    assert parse_set(["instance_count=2", "x.y=true", "v='2'", "e=a=b", "empty="]) == [
        ("instance_count", 2),
        ("x.y", True),
        ("v", "2"),
        ("e", "a=b"),
        ("empty", ""),
    ]
    assert parse_set(None) == []
    with pytest.raises(CliError, match="expected <field>=<value>"):
        parse_set(["instance_count"])


def test_share_changes_are_described() -> None:
    assert describe_shares({"blue": 80, "green": 20}, {"blue": 90, "green": 10, "red": 0}) == (
        "blue 80 -> 90, green 20 -> 10, red - -> 0"
    )
    assert describe_shares({"blue": 100}, {"blue": 100}) == "unchanged"
