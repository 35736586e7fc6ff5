"""Round-trip YAML: what the verbs do not set stays as the user wrote it."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelpack.cli.errors import CliError
from modelpack.cli.yaml_roundtrip import YamlDocument

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "assets" / "example"


@pytest.mark.parametrize(
    "name", ["blue.yml", "green.yml", "endpoint.yml", "model.yml", "environment.yml"]
)
def test_an_untouched_file_comes_back_byte_for_byte(name: str) -> None:
    text = (EXAMPLE / name).read_text()
    assert YamlDocument(text, name).dumps() == text


def test_setting_keys_keeps_comments_order_and_indentation() -> None:
    text = (
        "# my endpoint\n"
        "name: ep   # the name\n"
        "traffic:\n"
        "    blue: 80  # most\n"
        "    green: 20\n"
        "auth_mode: key\n"
    )
    document = YamlDocument(text, "endpoint.yml")
    document.mapping("traffic")["blue"] = 90
    document.mapping("traffic")["green"] = 10
    document.set_path("tags.owner", "me")
    assert document.dumps() == (
        "# my endpoint\n"
        "name: ep   # the name\n"
        "traffic:\n"
        "    blue: 90  # most\n"
        "    green: 10\n"
        "auth_mode: key\n"
        "tags:\n"
        "    owner: me\n"
    )
    assert document.get_path("tags.owner") == "me" and document.get_path("a.b") is None


def test_sequences_keep_their_indentation() -> None:
    text = "name: e\nimage: x\nitems:\n  - a\n  - b\n"
    document = YamlDocument(text, "e.yml")
    document.set("image", "y")
    assert document.dumps() == text.replace("image: x", "image: y")


def test_bad_yaml_and_non_mappings_name_the_file_and_line() -> None:
    with pytest.raises(
        CliError, match=r"d.yml: invalid YAML at line 3, column 1: expected ',' or ']'"
    ):
        YamlDocument("name: a\nendpoint_name: [oops\n", "d.yml")
    with pytest.raises(CliError, match="d.yml: must hold a YAML mapping"):
        YamlDocument("- a\n- b\n", "d.yml")
    with pytest.raises(CliError, match="missing.yml does not exist"):
        YamlDocument.read(Path("/nonexistent/missing.yml"), "missing.yml")


def test_set_path_refuses_to_go_into_a_scalar() -> None:
    document = YamlDocument("name: a\nmodel: azureml:m:1\n", "d.yml")
    with pytest.raises(CliError, match="model is 'azureml:m:1', not a mapping"):
        document.set_path("model.path", "x")
