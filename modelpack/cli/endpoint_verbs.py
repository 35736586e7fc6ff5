"""`modelpack online-endpoint create|show|list|update|delete`, spelled as `az ml
online-endpoint`. Verbs that change an endpoint edit the endpoint's YAML in the workspace's
asset folder, then `up` (or not, with --no-up)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .apply import apply_edit
from .az_args import parse_set, parse_shares, shares_argument
from .errors import CliError
from .online_edits import create_endpoint, delete_endpoint, find_endpoint, update_endpoint
from .online_views import ENDPOINT_COLUMNS, Context, endpoint_view
from .pulumi_runner import PulumiRunner
from .verb_support import (
    WorkspaceOption,
    add_action,
    confirm,
    delete_options,
    emit,
    no_up_option,
    output_options,
    read_context,
    set_option,
)
from .workspace_assets import workspace_assets


def add_verbs(
    verbs: argparse._SubParsersAction, workspace_option: WorkspaceOption
) -> argparse._SubParsersAction:
    """Add `online-endpoint` and its actions; returns its sub-parsers (for more actions)."""
    group = verbs.add_parser(
        "online-endpoint", help="az ml online-endpoint: show, list, update, create, delete"
    )
    actions = group.add_subparsers(dest="endpoint_verb", required=True, metavar="ACTION")

    sub = add_action(
        actions, "show", "an endpoint as it runs (scoring URI, traffic, state) and its YAML file"
    )
    workspace_option(sub)
    sub.add_argument("-n", "--name", required=True, help="endpoint name")
    output_options(sub)
    sub.set_defaults(handler=show)

    sub = add_action(actions, "list", "every endpoint of the workspace")
    workspace_option(sub)
    output_options(sub)
    sub.set_defaults(handler=list_endpoints)

    sub = add_action(
        actions,
        "update",
        "change traffic, mirror traffic or any field in the endpoint's YAML file "
        "(named in the output), then up",
        'e.g. modelpack online-endpoint update -n my-endpoint --traffic "blue=90 '
        "green=10\": writes traffic: {blue: 90, green: 10} into the endpoint's YAML file in "
        "the workspace's asset folder (modelpack:assets), then runs `up`. Deployments not "
        "named in --traffic go to 0, as with az.",
    )
    workspace_option(sub)
    sub.add_argument("-n", "--name", required=True, help="endpoint name")
    sub.add_argument(
        "--traffic", nargs="+", metavar="D=PERCENT", help='e.g. "blue=90 green=10" (sum 100)'
    )
    sub.add_argument(
        "--mirror-traffic", nargs="+", metavar="D=PERCENT", help='e.g. "green=10" (at most 50)'
    )
    set_option(sub, "auth_mode=aml_token")
    no_up_option(sub)
    output_options(sub)
    sub.set_defaults(handler=update)

    sub = add_action(
        actions,
        "create",
        "write a new endpoint's YAML into the workspace's asset folder, then up",
        "Writes endpoint-<name>.yml (or the --file given, copied in) into the "
        "workspace's asset folder, then runs `up`.",
    )
    workspace_option(sub)
    sub.add_argument("-n", "--name", required=True, help="endpoint name")
    sub.add_argument("-f", "--file", type=Path, help="an endpoint YAML to copy in")
    sub.add_argument("--auth-mode", choices=("key", "aml_token"), help="default: key")
    set_option(sub, "description=...")
    no_up_option(sub)
    output_options(sub)
    sub.set_defaults(handler=create)

    sub = add_action(
        actions,
        "delete",
        "delete the endpoint's YAML file and its deployments' files, then up (removes it)",
    )
    workspace_option(sub)
    sub.add_argument("-n", "--name", required=True, help="endpoint name")
    delete_options(sub)
    no_up_option(sub)
    sub.set_defaults(handler=delete)
    return actions


def _require(context: Context, name: str) -> None:
    known = context.endpoint_names()
    if name not in known:
        raise CliError(
            f"workspace '{context.workspace}' has no endpoint '{name}' (endpoints: "
            f"{', '.join(known) or 'none'})",
            "pick one of those with --name",
        )


def show(args: argparse.Namespace, runner: PulumiRunner) -> int:
    context = read_context(runner)
    _require(context, args.name)
    emit(args, endpoint_view(context, args.name), ENDPOINT_COLUMNS)
    return 0


def list_endpoints(args: argparse.Namespace, runner: PulumiRunner) -> int:
    context = read_context(runner)
    emit(args, [endpoint_view(context, n) for n in context.endpoint_names()], ENDPOINT_COLUMNS)
    return 0


def update(args: argparse.Namespace, runner: PulumiRunner) -> int:
    ws = workspace_assets(runner)
    assets = ws.current()
    traffic = parse_shares(args.traffic, "--traffic") if args.traffic else None
    mirror = parse_shares(args.mirror_traffic, "--mirror-traffic") if args.mirror_traffic else None
    before = find_endpoint(assets, args.name, ws)
    edit = update_endpoint(ws, assets, args.name, traffic, mirror, parse_set(args.sets))
    undo = None
    if traffic is not None and before.traffic:
        undo = (
            f'modelpack online-endpoint update -w {runner.ws} -n {args.name} --traffic "'
            f'{shares_argument(before.traffic)}"'
        )
    apply_edit(runner, ws, edit, args.up, undo)
    emit(args, endpoint_view(read_context(runner, ws), args.name), ENDPOINT_COLUMNS)
    return 0


def create(args: argparse.Namespace, runner: PulumiRunner) -> int:
    ws = workspace_assets(runner)
    edit = create_endpoint(
        ws, ws.current(), args.name, args.file, args.auth_mode, parse_set(args.sets)
    )
    apply_edit(runner, ws, edit, args.up)
    emit(args, endpoint_view(read_context(runner, ws), args.name), ENDPOINT_COLUMNS)
    return 0


def delete(args: argparse.Namespace, runner: PulumiRunner) -> int:
    ws = workspace_assets(runner)
    edit = delete_endpoint(ws, ws.current(), args.name)
    confirm(args, f"endpoint '{args.name}' of workspace '{runner.ws}' and its deployments")
    apply_edit(runner, ws, edit, args.up)
    return 0
