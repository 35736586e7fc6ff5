"""What the spec layer lets through to builds: environment values exactly as written, links
that stay inside their folder (and hashes that never follow a link), no empty asset file.
The refusals themselves are cases of test_asset_folder_errors.CASES."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pydantic
import pytest
from asset_helpers import BASE, Files, Link

from modelpack.assets import AssetFolderError, hash_path, hash_tree, load_asset_folder
from modelpack.assets.base import AssetName, DeploymentName, EndpointName, Version

AWKWARD_VALUES = {
    "QUOTES": 'it\'s "quoted"',
    "NEWLINES": "line one\nline two\n",
    "DOLLARS": "$HOME ${PATH} $(id) `id`",
    "BACKSLASHES": "C:\\path\\ \\n \\",
    "UNICODE": "ünïcödé ✓ 🎉",
    "SPACES": "  padded  ",
}


def yaml_mapping(values: dict[str, str]) -> str:
    # JSON is YAML: every value in its escaped, double-quoted form.
    return "".join(
        f"  {key}: {json.dumps(value, ensure_ascii=False)}\n" for key, value in values.items()
    )


def test_environment_values_are_kept_byte_for_byte(
    make_workspace: Callable[[Files], Path],
) -> None:
    folder = make_workspace(
        {"package.yml": BASE["package.yml"] + "environment_variables:\n"}
        | {"blue.yml": BASE["blue.yml"] + "environment_variables:\n"}
    )
    for name in ("package.yml", "blue.yml"):
        with (folder / name).open("a") as file:
            file.write(yaml_mapping(AWKWARD_VALUES))
    workspace = load_asset_folder(folder)
    assert workspace.package("pkg1").environment_variables == AWKWARD_VALUES
    assert workspace.deployment("ep1", "blue").environment_variables == AWKWARD_VALUES


def test_whitespace_only_asset_file_is_an_error_naming_it(
    make_workspace: Callable[[Files], Path],
) -> None:
    folder = make_workspace()
    (folder / "endpoint.yml").write_text("  \n\t\n   ")
    with pytest.raises(AssetFolderError) as caught:
        load_asset_folder(folder)
    (error,) = caught.value.errors
    assert error.file == folder / "endpoint.yml"
    assert "the file is empty" in error.message


def test_links_inside_a_folder_are_allowed(make_workspace: Callable[[Files], Path]) -> None:
    folder = make_workspace(
        {
            "model/weights-latest.bin": Link("weights.bin"),
            "model/sub/up.bin": Link("../weights.bin"),
            "src/helpers/score_link.py": Link("../score.py"),
        }
    )
    workspace = load_asset_folder(folder)
    assert workspace.package("pkg1").model.content_hash


def test_hashes_take_a_link_as_its_target_text_and_never_follow_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("one")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_text("weights")
    (folder / "out").symlink_to(outside)
    (folder / "dir").symlink_to(tmp_path)  # a folder link: not walked into
    before_tree, before_path = hash_tree(folder), hash_path(folder)

    outside.write_text("two")  # what the link points at changes; the link does not
    assert (hash_tree(folder), hash_path(folder)) == (before_tree, before_path)

    (folder / "out").unlink()
    (folder / "out").symlink_to(tmp_path / "elsewhere.txt")
    assert hash_tree(folder) != before_tree


def test_a_link_and_a_file_with_the_same_text_hash_differently(tmp_path: Path) -> None:
    as_link, as_file = tmp_path / "a", tmp_path / "b"
    as_link.mkdir()
    as_file.mkdir()
    (as_link / "x").symlink_to("target")
    (as_file / "x").write_text("target")
    assert hash_tree(as_link) != hash_tree(as_file)


@pytest.mark.parametrize("kind", [AssetName, EndpointName, DeploymentName, Version])
def test_a_name_with_a_trailing_newline_is_refused(kind) -> None:
    """`$` in a pattern matches before a final newline: names are checked in full."""
    adapter = pydantic.TypeAdapter(kind)
    assert adapter.validate_python("blue") == "blue"
    with pytest.raises(pydantic.ValidationError):
        adapter.validate_python("blue\n")
