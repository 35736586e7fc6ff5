"""`modelpack online-deployment create|show|list|get-logs|update|delete`, spelled as `az ml
online-deployment`. Verbs that change a deployment edit its YAML in the workspace's asset
folder (and the endpoint's, for traffic), then `up` (or not, with --no-up)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .apply import apply_edit, note
from .az_args import parse_set
from .errors import CliError
from .logs import DEFAULT_LINES, replica_logs
from .online_edits import create_deployment, delete_deployment, update_deployment
from .online_views import DEPLOYMENT_COLUMNS, Context, deployment_view
from .outputs import load_outputs
from .pulumi_runner import PulumiRunner
from .verb_support import (
    WorkspaceOption,
    add_action,
    confirm,
    delete_options,
    emit,
    endpoint_name_option,
    no_up_option,
    output_options,
    read_context,
    set_option,
)
from .workspace_assets import workspace_assets


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def add_verbs(verbs: argparse._SubParsersAction, workspace_option: WorkspaceOption) -> None:
    group = verbs.add_parser(
        "online-deployment",
        help="az ml online-deployment: show, list, get-logs, update, create, delete",
    )
    actions = group.add_subparsers(dest="deployment_verb", required=True, metavar="ACTION")

    sub = add_action(actions, "show", "a deployment: replicas, traffic, state, its YAML file")
    workspace_option(sub)
    sub.add_argument("-n", "--name", required=True, help="deployment name")
    endpoint_name_option(sub)
    output_options(sub)
    sub.set_defaults(handler=show)

    sub = add_action(actions, "list", "the deployments of an endpoint")
    workspace_option(sub)
    endpoint_name_option(sub)
    output_options(sub)
    sub.set_defaults(handler=list_deployments)

    sub = add_action(actions, "get-logs", "a replica's last log lines (as `modelpack logs`)")
    workspace_option(sub)
    sub.add_argument("-n", "--name", required=True, help="deployment name")
    endpoint_name_option(sub)
    sub.add_argument("-l", "--lines", type=int, default=DEFAULT_LINES, help="default: 100")
    sub.add_argument("-i", "--instance", help="replica index or container name (default: 0)")
    sub.set_defaults(handler=get_logs)

    sub = add_action(
        actions,
        "update",
        "change instance_count or any field in the deployment's YAML file (named in the "
        "output), then up",
        "e.g. modelpack online-deployment update -n blue -e my-endpoint "
        "--instance-count 2 (or --set instance_count=2): writes instance_count: 2 into blue's "
        "YAML file in the workspace's asset folder (modelpack:assets), then runs `up`.",
    )
    workspace_option(sub)
    sub.add_argument("-n", "--name", required=True, help="deployment name")
    endpoint_name_option(sub)
    sub.add_argument("--instance-count", type=_count, help="replicas (1 or more)")
    set_option(sub, "instance_count=2")
    no_up_option(sub)
    output_options(sub)
    sub.set_defaults(handler=update)

    sub = add_action(
        actions,
        "create",
        "copy a deployment YAML into the workspace's asset folder, then up",
        "Copies FILE into the workspace's asset folder (as its own name, or "
        "<endpoint>-<name>.yml when taken; a FILE already in the folder is edited in place), "
        "with endpoint_name from -e, name from -n and package_model: true from "
        "--package-model/--with-package; relative paths in it are rewritten to name the same "
        "files. Then runs `up`.",
    )
    workspace_option(sub)
    sub.add_argument("-f", "--file", type=Path, required=True, help="deployment YAML")
    sub.add_argument("-e", "--endpoint-name", "--endpoint", dest="endpoint", help="endpoint")
    sub.add_argument("-n", "--name", help="deployment name (default: the file's)")
    sub.add_argument(
        "--package-model",
        "--with-package",
        dest="package_model",
        action="store_true",
        help="package model, code and environment into one image first (package_model: true)",
    )
    sub.add_argument(
        "--all-traffic", action="store_true", help="send it 100%% of the endpoint's traffic"
    )
    set_option(sub, "instance_count=2")
    no_up_option(sub)
    output_options(sub)
    sub.set_defaults(handler=create)

    sub = add_action(
        actions,
        "delete",
        "delete the deployment's YAML file (and its 0%% traffic entries), then up",
    )
    workspace_option(sub)
    sub.add_argument("-n", "--name", required=True, help="deployment name")
    endpoint_name_option(sub)
    delete_options(sub)
    no_up_option(sub)
    sub.set_defaults(handler=delete)


def _require(context: Context, endpoint: str, name: str) -> None:
    known = context.deployment_names(endpoint)
    if name not in known:
        raise CliError(
            f"endpoint '{endpoint}' of workspace '{context.workspace}' has no deployment "
            f"'{name}' (deployments: {', '.join(known) or 'none'})",
            "pick one of those with --name",
        )


def show(args: argparse.Namespace, runner: PulumiRunner) -> int:
    context = read_context(runner)
    _require(context, args.endpoint, args.name)
    emit(args, deployment_view(context, args.endpoint, args.name), DEPLOYMENT_COLUMNS)
    return 0


def list_deployments(args: argparse.Namespace, runner: PulumiRunner) -> int:
    context = read_context(runner)
    if args.endpoint not in context.endpoint_names():
        known = ", ".join(context.endpoint_names()) or "none"
        raise CliError(
            f"workspace '{runner.ws}' has no endpoint '{args.endpoint}' (endpoints: {known})"
        )
    views = [
        deployment_view(context, args.endpoint, name)
        for name in context.deployment_names(args.endpoint)
    ]
    emit(args, views, DEPLOYMENT_COLUMNS)
    return 0


def get_logs(args: argparse.Namespace, runner: PulumiRunner) -> int:
    if args.lines < 0:
        raise CliError(f"--lines {args.lines}: must be 0 or more")
    outputs = load_outputs(runner)
    found = replica_logs(
        outputs, outputs.runtime(), args.endpoint, args.name, args.instance, args.lines
    )
    for line in found.lines:
        print(line)
    if found.others:
        note(
            f"these are the logs of instance {found.instance} ({found.container}); the "
            f"deployment also runs {', '.join(found.others)} (--instance picks one)"
        )
    return 0


def update(args: argparse.Namespace, runner: PulumiRunner) -> int:
    ws = workspace_assets(runner)
    assets = ws.current()
    edit = update_deployment(
        ws, assets, args.endpoint, args.name, args.instance_count, parse_set(args.sets)
    )
    before = next(d for d in assets.deployments_of(args.endpoint) if d.name == args.name)
    undo = (
        f"modelpack online-deployment update -w {runner.ws} -e {args.endpoint} -n {args.name} "
        f"--instance-count {before.instance_count}"
        if args.instance_count is not None
        else None
    )
    apply_edit(runner, ws, edit, args.up, undo)
    context = read_context(runner, ws)
    emit(args, deployment_view(context, args.endpoint, args.name), DEPLOYMENT_COLUMNS)
    return 0


def create(args: argparse.Namespace, runner: PulumiRunner) -> int:
    ws = workspace_assets(runner)
    edit = create_deployment(
        ws,
        ws.current(),
        args.file,
        args.endpoint,
        args.name,
        args.package_model,
        args.all_traffic,
        parse_set(args.sets),
    )
    edited = apply_edit(runner, ws, edit, args.up)
    written = next(c for c in edit.changes if c.action in ("created", "written"))
    created = next(
        d for d in edited.deployments if d.file.relative_to(edited.folder) == written.path
    )
    context = read_context(runner, ws)
    emit(args, deployment_view(context, created.endpoint_name, created.name), DEPLOYMENT_COLUMNS)
    return 0


def delete(args: argparse.Namespace, runner: PulumiRunner) -> int:
    ws = workspace_assets(runner)
    edit = delete_deployment(ws, ws.current(), args.endpoint, args.name)
    confirm(args, f"deployment '{args.name}' of endpoint '{args.endpoint}' ({runner.ws})")
    apply_edit(runner, ws, edit, args.up)
    return 0
