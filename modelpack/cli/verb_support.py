"""What the az-style verbs share: their common options (`-o`, `--query`, `--no-up`,
`--yes`), reading what runs and what the YAML says, printing, and asking before a delete."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from modelpack.assets import AssetFolderError

from .apply import note
from .endpoints import EndpointStatus, endpoint_statuses
from .errors import CliError
from .online_views import Context
from .output_format import FORMATS, Column, render
from .outputs import load_outputs
from .pulumi_runner import PulumiRunner
from .workspace_assets import WorkspaceAssets, workspace_assets

WorkspaceOption = Callable[[argparse.ArgumentParser], None]
"""Adds `-w/--workspace` to a verb's parser (cli/commands.py's, shared by every verb)."""


def output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=FORMATS,
        default="json",
        help="json (default, as az), table or tsv",
    )
    parser.add_argument("--query", help="print only this field (a dotted path, e.g. scoring_uri)")


def add_action(
    actions: argparse._SubParsersAction, name: str, summary: str, details: str = ""
) -> argparse.ArgumentParser:
    """A verb's parser: `summary` in the listing of its group, and with `details` at the top
    of its own --help."""
    text = summary.replace("%%", "%")  # help is %-formatted by argparse, description not
    return actions.add_parser(
        name, help=summary, description=f"{text[0].upper()}{text[1:]}. {details}".strip()
    )


def no_up_option(
    parser: argparse.ArgumentParser,
    text: str = "only edit the workspace's YAML; the next `modelpack up` deploys it",
) -> None:
    parser.add_argument("--no-up", dest="up", action="store_false", help=text)


def delete_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--no-wait", action="store_true", help="accepted as az does; modelpack always waits"
    )


def set_option(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        metavar="FIELD=VALUE",
        help=f"set a field of the YAML, e.g. --set {example} (repeatable)",
    )


def endpoint_name_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-e", "--endpoint-name", "--endpoint", dest="endpoint", required=True, help="endpoint name"
    )


def emit(args: argparse.Namespace, value: Any, columns: list[Column]) -> None:
    print(render(value, args.output, columns, args.query))


def confirm(args: argparse.Namespace, what: str) -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"not deleting {what} without confirmation", "pass --yes (as az does)")
    answer = input(f"Are you sure you want to delete {what}? (y/n): ")
    if answer.strip().lower() not in ("y", "yes"):
        raise CliError("cancelled; nothing was changed")


def deployed_statuses(runner: PulumiRunner) -> dict[str, EndpointStatus]:
    """What the workspace's stack runs, by endpoint ({} before its first `up`)."""
    if not runner.stack_exists():
        return {}
    outputs = load_outputs(runner)
    if not outputs.endpoints:
        return {}
    return {s.endpoint.name: s for s in endpoint_statuses(outputs, outputs.runtime())}


def read_context(runner: PulumiRunner, ws: WorkspaceAssets | None = None) -> Context:
    ws = ws or workspace_assets(runner)
    try:
        assets = ws.load()
    except AssetFolderError as error:
        note(f"the asset folder is not valid, so only what runs is shown:\n{error}")
        assets = None
    return Context(runner.ws, assets, deployed_statuses(runner), ws.shown)
