"""`promote` refusals that need no engine: what the source outputs and target config say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelpack.cli.commands import build_parser
from modelpack.cli.errors import CliError
from modelpack.cli.promote import promote, promoted_path, source_image, target_registry
from modelpack.cli.workspaces import Workspace

DIGEST = "sha256:" + "c" * 64


class FakeRunner:
    """The two things promote asks a runner before copying: outputs and config."""

    def __init__(self, name: str, outputs: dict[str, Any], config: dict[str, Any], root: Path):
        self.workspace = Workspace(name, root, (root / name).as_uri(), "test", root / name)
        self._outputs, self._config = outputs, config

    @property
    def ws(self) -> str:
        return self.workspace.name

    def outputs(self, show_secrets: bool = False) -> dict[str, Any]:
        return self._outputs

    def config(self) -> dict[str, Any]:
        return self._config

    def ensure_stack(self) -> bool:
        return False


def package_outputs(mode: str) -> dict[str, Any]:
    return {
        "registry": {"address": "127.0.0.1:18500", "root": "/srv/dev/registry"},
        "packages": {
            "pkg": {
                "digest": f"127.0.0.1:18500/pkg@{DIGEST}",
                "mode": mode,
                "tag": "modelpack/dev/pkg/pkg:0123456789ab",
            }
        },
    }


def test_readonly_mount_packages_are_refused(tmp_path: Path) -> None:
    source = FakeRunner("dev", package_outputs("readonly_mount"), {}, tmp_path)
    with pytest.raises(CliError, match="readonly_mount.*not portable") as error:
        source_image(source, "pkg")
    assert "mode: copy" in error.value.next_step


def test_unknown_package_and_missing_registry_output(tmp_path: Path) -> None:
    source = FakeRunner("dev", package_outputs("copy"), {}, tmp_path)
    with pytest.raises(CliError, match=r"no package 'other' deployed \(packages: pkg\)"):
        source_image(source, "other")
    outputs = package_outputs("copy")
    del outputs["registry"]
    with pytest.raises(CliError, match="no registry digest"):
        source_image(FakeRunner("dev", outputs, {}, tmp_path), "pkg")
    entry, spec = source_image(source, "pkg")
    assert (spec.root, spec.port) == (Path("/srv/dev/registry"), 18500)
    assert entry["digest"].endswith(DIGEST)


def test_target_needs_a_fixed_registry_port(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="no fixed modelpack:registryPort"):
        target_registry(FakeRunner("prod", {}, {}, tmp_path), {})
    config = {"modelpack:registryPort": {"value": "28500"}}
    spec = target_registry(FakeRunner("prod", {}, config, tmp_path), config)
    assert (spec.root, spec.port) == (tmp_path / "prod" / "registry", 28500)
    config["modelpack:stateDir"] = {"value": "elsewhere"}
    spec = target_registry(FakeRunner("prod", {}, config, tmp_path), config)
    assert spec.root == tmp_path / "elsewhere" / "registry"


def test_same_workspace_is_refused(tmp_path: Path) -> None:
    runner = FakeRunner("dev", package_outputs("copy"), {}, tmp_path)
    with pytest.raises(CliError, match="both 'dev'"):
        promote(runner, runner, "pkg")  # type: ignore[arg-type]


def test_parsing_and_config_path() -> None:
    args = build_parser().parse_args(["promote", "pkg", "--from", "dev", "--to", "prod", "--up"])
    assert (args.package, args.source, args.workspace, args.up) == ("pkg", "dev", "prod", True)
    args = build_parser().parse_args(["preview-summary", "-w", "prod", "--output", "s.md"])
    assert (args.workspace, args.output) == ("prod", Path("s.md"))
    assert promoted_path("my-pkg") == 'modelpack:promoted["my-pkg"]'
