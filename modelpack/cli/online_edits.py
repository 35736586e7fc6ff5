"""The changes `online-endpoint create|update|delete` and `online-deployment
create|update|delete` make to a workspace's YAML, as `AssetEdit`s (checked, then written by
cli/apply.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from modelpack.assets import AssetFolder, DeploymentAsset, EndpointAsset

from .asset_edit import AssetEdit
from .asset_paths import DEPLOYMENT_PATHS, bring_in
from .az_args import describe_shares
from .errors import CliError
from .workspace_assets import WorkspaceAssets
from .yaml_roundtrip import YamlDocument

FIXED_FIELDS = ("name", "endpoint_name")
"""What `update --set` may not change (az refuses it too): it would be another asset."""


def find_endpoint(assets: AssetFolder, name: str, ws: WorkspaceAssets) -> EndpointAsset:
    for endpoint in assets.endpoints:
        if endpoint.name == name:
            return endpoint
    known = ", ".join(sorted(e.name for e in assets.endpoints)) or "none"
    raise CliError(
        f"the asset folder {ws.shown} of workspace '{ws.workspace}' has no endpoint '{name}' "
        f"(endpoints: {known})",
        "pick one of those with --name",
    )


def find_deployment(
    assets: AssetFolder, endpoint: str, name: str, ws: WorkspaceAssets
) -> DeploymentAsset:
    find_endpoint(assets, endpoint, ws)
    for deployment in assets.deployments_of(endpoint):
        if deployment.name == name:
            return deployment
    known = ", ".join(sorted(d.name for d in assets.deployments_of(endpoint))) or "none"
    raise CliError(
        f"endpoint '{endpoint}' in {ws.shown} has no deployment '{name}' (deployments: {known})",
        "pick one of those with --name",
    )


def _document(ws: WorkspaceAssets, file: Path) -> tuple[Path, YamlDocument]:
    path = ws.path(file)
    return path, YamlDocument.read(path, ws.shown / path.relative_to(ws.folder))


def _apply_sets(document: YamlDocument, sets: Sequence[tuple[str, Any]]) -> list[str]:
    details = []
    for path, value in sets:
        if path in FIXED_FIELDS:
            raise CliError(
                f"--set {path}: {path} cannot be changed by update (it names another asset)",
                "create the other asset instead",
            )
        details.append(f"{path}: {document.get_path(path)} -> {value}")
        document.set_path(path, value)
    return details


def _merge_shares(table: CommentedMap, shares: dict[str, int], replace: bool) -> None:
    """Set the given shares; with `replace` (traffic), deployments not named go to 0, as az's
    `--traffic` sets the whole table."""
    if replace:
        for name in table:
            if name not in shares:
                table[name] = 0
    for name, share in shares.items():
        table[name] = share


# --- endpoints ------------------------------------------------------------------------------


def update_endpoint(
    ws: WorkspaceAssets,
    assets: AssetFolder,
    name: str,
    traffic: dict[str, int] | None,
    mirror: dict[str, int] | None,
    sets: Sequence[tuple[str, Any]],
) -> AssetEdit:
    endpoint = find_endpoint(assets, name, ws)
    if traffic is None and mirror is None and not sets:
        raise CliError("nothing to update", "give --traffic, --mirror-traffic or --set")
    path, document = _document(ws, endpoint.file)
    details = []
    if traffic is not None:
        table = document.mapping("traffic")
        before = {str(k): int(v) for k, v in table.items()}
        _merge_shares(table, traffic, replace=True)
        details.append(f"traffic: {describe_shares(before, dict(table))}")
    if mirror is not None:
        table = document.mapping("mirror_traffic")
        before = {str(k): int(v) for k, v in table.items()}
        _merge_shares(table, mirror, replace=False)
        details.append(f"mirror_traffic: {describe_shares(before, dict(table))}")
    details += _apply_sets(document, sets)
    edit = ws.edit()
    edit.write(path, document.dumps(), "; ".join(details))
    return edit


def create_endpoint(
    ws: WorkspaceAssets,
    assets: AssetFolder,
    name: str,
    file: Path | None,
    auth_mode: str | None,
    sets: Sequence[tuple[str, Any]],
) -> AssetEdit:
    existing = next((e for e in assets.endpoints if e.name == name), None)
    if existing is not None:
        raise CliError(
            f"endpoint '{name}' already exists in {ws.shown} ({existing.file.name})",
            "`modelpack online-endpoint update` changes it",
        )
    if file is not None:
        document = YamlDocument.read(file)
    else:
        document = YamlDocument(
            "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint"
            ".schema.json\n",
            f"endpoint {name}",
        )
    document.set("name", name)
    if auth_mode is not None or document.get("auth_mode") is None:
        document.set("auth_mode", auth_mode or "key")
    for path, value in sets:
        document.set_path(path, value)
    edit = ws.edit()
    edit.write(_free_path(ws, file, f"endpoint-{name}.yml"), document.dumps(), "new endpoint")
    return edit


def delete_endpoint(ws: WorkspaceAssets, assets: AssetFolder, name: str) -> AssetEdit:
    """The endpoint's file and the files of every deployment of it."""
    endpoint = find_endpoint(assets, name, ws)
    edit = ws.edit()
    for deployment in assets.deployments_of(name):
        edit.delete(ws.path(deployment.file), f"deployment {deployment.name} of {name}")
    edit.delete(ws.path(endpoint.file), f"endpoint {name}")
    return edit


# --- deployments ----------------------------------------------------------------------------


def update_deployment(
    ws: WorkspaceAssets,
    assets: AssetFolder,
    endpoint: str,
    name: str,
    instance_count: int | None,
    sets: Sequence[tuple[str, Any]],
) -> AssetEdit:
    deployment = find_deployment(assets, endpoint, name, ws)
    if instance_count is None and not sets:
        raise CliError("nothing to update", "give --instance-count or --set <field>=<value>")
    path, document = _document(ws, deployment.file)
    details = []
    if instance_count is not None:
        details.append(f"instance_count: {document.get('instance_count')} -> {instance_count}")
        document.set("instance_count", instance_count)
    details += _apply_sets(document, sets)
    edit = ws.edit()
    edit.write(path, document.dumps(), "; ".join(details))
    return edit


def delete_deployment(
    ws: WorkspaceAssets, assets: AssetFolder, endpoint: str, name: str
) -> AssetEdit:
    """The deployment's file, and its 0 % entries in the endpoint's traffic tables. A
    deployment that still takes live traffic is refused, as Azure does."""
    deployment = find_deployment(assets, endpoint, name, ws)
    endpoint_asset = find_endpoint(assets, endpoint, ws)
    share = endpoint_asset.traffic.get(name, 0)
    if share > 0:
        others = {k: v for k, v in endpoint_asset.traffic.items() if k != name}
        if others:  # its share to the first other deployment
            first = next(iter(others))
            others[first] += share
        hint = " ".join(f"{k}={v}" for k, v in others.items()) or "<other>=100"
        raise CliError(
            f"deployment '{name}' takes {share}% of endpoint '{endpoint}''s traffic "
            f"({ws.shown / endpoint_asset.file.relative_to(ws.folder)}: traffic.{name}); "
            "nothing was changed",
            "move its traffic to other deployments first, e.g. `modelpack online-endpoint "
            f'update -n {endpoint} --traffic "{hint}"` (shares adding up to 100)',
        )
    edit = ws.edit()
    path, document = _document(ws, endpoint_asset.file)
    removed = []
    for table_name in ("traffic", "mirror_traffic"):
        table = document.get(table_name)
        if isinstance(table, dict) and name in table:
            del table[name]
            removed.append(f"{table_name}.{name}")
    if removed:
        edit.write(path, document.dumps(), f"removed {', '.join(removed)}")
    edit.delete(ws.path(deployment.file), f"deployment {name} of {endpoint}")
    return edit


def create_deployment(
    ws: WorkspaceAssets,
    assets: AssetFolder,
    file: Path,
    endpoint: str | None,
    name: str | None,
    package_model: bool,
    all_traffic: bool,
    sets: Sequence[tuple[str, Any]],
) -> AssetEdit:
    """Copy a deployment YAML into the asset folder (its relative paths rewritten to stay
    pointing at the same files), with the endpoint, name and package_model the command line
    gives; with `all_traffic`, the endpoint sends it 100 %."""
    source = file.resolve()
    document = YamlDocument.read(source, file)
    if endpoint:
        document.set("endpoint_name", endpoint)
    if name:
        document.set("name", name)
    if package_model:
        document.set("package_model", True)
    for path, value in sets:
        document.set_path(path, value)
    endpoint_name, deployment_name = document.get("endpoint_name"), document.get("name")
    if not endpoint_name or not deployment_name:
        missing = "endpoint_name (-e)" if not endpoint_name else "name (-n)"
        raise CliError(f"{file}: no {missing}", "give it in the file or on the command line")
    existing = next(
        (d for d in assets.deployments_of(str(endpoint_name)) if d.name == str(deployment_name)),
        None,
    )
    inside = source.is_relative_to(ws.folder)
    if existing is not None and not (inside and ws.path(existing.file) == source):
        raise CliError(
            f"endpoint '{endpoint_name}' already has a deployment '{deployment_name}' "
            f"({ws.shown / existing.file.relative_to(ws.folder)})",
            "`modelpack online-deployment update` changes it, or give another --name",
        )
    destination = (
        source if inside else _free_path(ws, file, f"{endpoint_name}-{deployment_name}.yml")
    )
    edit = ws.edit()
    if not inside:
        bring_in(edit, document, DEPLOYMENT_PATHS, source.parent, destination)
    what = "package_model: true" if package_model else "deployment"
    edit.write(destination, document.dumps(), f"{what} {deployment_name} of {endpoint_name}")
    if all_traffic:
        endpoint_asset = find_endpoint(assets, str(endpoint_name), ws)
        path, endpoint_document = _document(ws, endpoint_asset.file)
        table = endpoint_document.mapping("traffic")
        before = {str(k): int(v) for k, v in table.items()}
        _merge_shares(table, {str(deployment_name): 100}, replace=True)
        edit.write(path, endpoint_document.dumps(), f"traffic: {describe_shares(before, table)}")
    return edit


def _free_path(ws: WorkspaceAssets, file: Path | None, fallback: str) -> Path:
    """Where a new asset file goes: the given file's name when the folder has no such file,
    else `fallback`; a CliError when both are taken."""
    for candidate in ([file.name] if file is not None else []) + [fallback]:
        path = ws.folder / candidate
        if not path.exists():
            return path
    raise CliError(
        f"{ws.shown / fallback} already exists; nothing was written",
        "move it away, or give the asset another name",
    )
