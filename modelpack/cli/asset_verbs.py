"""`modelpack model create|package` and `modelpack environment create`, spelled as `az ml`:
each writes (or copies) an asset's YAML into the workspace's asset folder; `model package`
then builds and pushes that one package, deploying nothing (cli/package_build.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelpack.assets import AssetFolder

from .apply import apply_edit, note, write_edit
from .asset_create import create_environment, create_model, package_file
from .asset_edit import AssetEdit
from .package_build import build_package
from .pulumi_runner import PulumiRunner
from .verb_support import WorkspaceOption, add_action, emit, no_up_option, output_options
from .workspace_assets import workspace_assets

MODEL_TYPES = ("custom_model", "mlflow_model")
PACKAGE_COLUMNS = [("Name", "name"), ("Model", "model"), ("Image", "image")]
ASSET_COLUMNS = [("Name", "name"), ("Version", "version"), ("File", "file")]


def add_verbs(verbs: argparse._SubParsersAction, workspace_option: WorkspaceOption) -> None:
    model = verbs.add_parser("model", help="az ml model: create, package")
    actions = model.add_subparsers(dest="model_verb", required=True, metavar="ACTION")

    sub = add_action(
        actions,
        "create",
        "write model-<name>.yml into the workspace's asset folder (files outside it are "
        "copied in as model-<name>/), then up",
    )
    workspace_option(sub)
    sub.add_argument("-n", "--name", required=True, help="model name")
    sub.add_argument("-p", "--path", type=Path, required=True, help="model file or folder")
    sub.add_argument("--type", choices=MODEL_TYPES, default="custom_model")
    sub.add_argument("-v", "--version", help="default: assigned from the content")
    sub.add_argument("-d", "--description")
    no_up_option(sub)
    output_options(sub)
    sub.set_defaults(handler=model_create)

    sub = add_action(
        actions,
        "package",
        "copy a package spec into the workspace's asset folder naming the model, then "
        "build the package image and push it to the workspace's registry (no deployment "
        "changes)",
        "Builds with `pulumi up --target` on the package's resources (its "
        "ModelPackage, the model registration and environment image it needs, the registry); "
        "prints the pushed image by digest.",
    )
    workspace_option(sub)
    sub.add_argument("-n", "--name", required=True, help="model name")
    sub.add_argument("-v", "--version", help="model version (default: the latest)")
    sub.add_argument("-l", "--label", choices=("latest",), help="as az: latest")
    sub.add_argument("-f", "--file", type=Path, required=True, help="package spec YAML")
    no_up_option(sub, "only write the package spec into the asset folder; build nothing")
    output_options(sub)
    sub.set_defaults(handler=model_package)

    environment = verbs.add_parser("environment", help="az ml environment: create")
    actions = environment.add_subparsers(dest="environment_verb", required=True, metavar="ACTION")
    sub = add_action(
        actions,
        "create",
        "copy an environment YAML and its conda file into the workspace's asset folder "
        "(environment-<name>.yml, environment-<name>/), then up",
    )
    workspace_option(sub)
    sub.add_argument("-f", "--file", type=Path, required=True, help="environment YAML")
    sub.add_argument("-n", "--name", help="default: the file's")
    sub.add_argument("-v", "--version", help="default: the file's (none: version 1)")
    no_up_option(sub)
    output_options(sub)
    sub.set_defaults(handler=environment_create)


def _asset_view(edit: AssetEdit, folder: AssetFolder, kind: str, name: str) -> dict[str, Any]:
    assets = folder.models if kind == "model" else folder.environments
    written = {edit.shown / c.path for c in edit.changes}
    for asset in assets:
        shown = edit.shown / asset.file.relative_to(folder.folder)
        if asset.name == name and shown in written:
            view = asset.spec.model_dump(mode="json", exclude_none=True)
            return view | {"file": str(shown)}
    return {"name": name}


def model_create(args: argparse.Namespace, runner: PulumiRunner) -> int:
    ws = workspace_assets(runner)
    edit = create_model(
        ws, ws.current(), args.name, args.path, args.type, args.version, args.description
    )
    edited = apply_edit(runner, ws, edit, args.up)
    emit(args, _asset_view(edit, edited, "model", args.name), ASSET_COLUMNS)
    return 0


def environment_create(args: argparse.Namespace, runner: PulumiRunner) -> int:
    ws = workspace_assets(runner)
    edit, name = create_environment(ws, ws.current(), args.file, args.name, args.version)
    edited = apply_edit(runner, ws, edit, args.up)
    emit(args, _asset_view(edit, edited, "environment", name), ASSET_COLUMNS)
    return 0


def model_package(args: argparse.Namespace, runner: PulumiRunner) -> int:
    ws = workspace_assets(runner)
    edit, package = package_file(ws, ws.current(), args.file, args.name, args.version)
    write_edit(runner, ws, edit)
    model = f"{args.name}:{args.version}" if args.version else f"{args.name}@latest"
    if not args.up:
        note(f"not built (--no-up): `modelpack model package` without it builds '{package}'")
        emit(args, {"name": package, "model": model, "image": None}, PACKAGE_COLUMNS)
        return 0
    note(f"building package '{package}' alone (pulumi up --target its resources)")
    built = build_package(runner, package, model)
    emit(args, built.as_dict(), PACKAGE_COLUMNS)
    return 0
