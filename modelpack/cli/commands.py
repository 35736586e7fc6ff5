"""The verbs of `modelpack`, in the manner of `az ml online-endpoint`:

    modelpack up|preview|destroy|refresh [--workspace dev] [-- <more pulumi flags>]
    modelpack destroy --remove-stack  # also forget the stack (pulumi stack rm)
    modelpack invoke --name <endpoint> [--deployment-name <d>] --request-file <f.json>
    modelpack get-credentials --name <endpoint>   # keys, or a token for aml_token
    modelpack keys show --name <endpoint>
    modelpack keys regenerate --name <endpoint> --key-type primary|secondary
    modelpack logs --name <endpoint> --deployment-name <d> [--instance <i>] [--lines <n>]
    modelpack list [--json]
    modelpack workspace            # which stack, backend and passphrase a workspace uses
    modelpack promote <package> --from dev --to prod [--up]   # copy by digest, no rebuild
    modelpack preview-summary [--output summary.md]  # Markdown of `pulumi preview`, for PRs
    modelpack touched-workspaces --base origin/main  # workspaces a change touches

and the verbs of `az ml`, which edit the workspace's YAML (its asset folder stays the source of
truth) and then `up` it, or with --no-up only edit; JSON output by default, -o table:

    modelpack online-endpoint show|list|create|update|delete|invoke|get-credentials
    modelpack online-endpoint update -n <e> --traffic "blue=90 green=10" [--mirror-traffic ...]
    modelpack online-deployment show|list|get-logs|create|update|delete -e <endpoint> -n <d>
    modelpack online-deployment update -e <e> -n <d> --instance-count 2   # or --set ...=2
    modelpack online-deployment create -f <file> -e <e> [--package-model|--with-package]
    modelpack model create --name <m> --path <p> --type custom_model|mlflow_model
    modelpack model package --name <m> --version <v> --file package.yml  # build + push only
    modelpack environment create -f <env.yml>

Every verb takes `--workspace/-w` (default $MODELPACK_WORKSPACE, else dev); see cli/workspaces.py
for how a workspace picks its backend and passphrase.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..interrupts import stop_on_interrupt
from . import asset_verbs, deployment_verbs, endpoint_verbs, tokens
from . import keys as keys_verbs
from .changes import changed_files, shared_paths, stack_folders, touched_workspaces
from .endpoints import (
    endpoint_key,
    endpoint_statuses,
    invoke,
    read_request_file,
    render_statuses,
    require_success,
)
from .errors import CliError, report
from .logs import DEFAULT_LINES, replica_logs
from .outputs import load_outputs
from .preview_summary import parse_preview, render_markdown
from .promote import promote, release_registry
from .pulumi_runner import LIFECYCLE_VERBS, PulumiRunner
from .workspaces import (
    DEFAULT_WORKSPACE,
    passphrase_env_var,
    resolve_passphrase,
    resolve_workspace,
)

Handler = Callable[[argparse.Namespace, PulumiRunner], int]

_LIFECYCLE_HELP = {
    "up": "create the workspace's stack if missing, then deploy it (pulumi up --yes)",
    "preview": "show what `up` would change, resource by resource (pulumi preview --diff)",
    "destroy": "remove everything the workspace deployed (pulumi destroy --yes)",
    "refresh": "reconcile the stack's state with what runs (pulumi refresh --yes)",
}


def _workspace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-w",
        "--workspace",
        "--workspace-name",
        dest="workspace",
        default=os.environ.get("MODELPACK_WORKSPACE") or DEFAULT_WORKSPACE,
        help="workspace (= Pulumi stack) to act on (default: %(default)s)",
    )


def _endpoint_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--name", required=True, help="endpoint name")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelpack",
        description="Deploy model packages to online endpoints and call them.",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    for verb in LIFECYCLE_VERBS:
        sub = verbs.add_parser(verb, help=_LIFECYCLE_HELP[verb])
        _workspace_option(sub)
        sub.add_argument(
            "pulumi_args",
            nargs="*",
            metavar="-- PULUMI_FLAGS",
            help="more flags for pulumi, after `--` (e.g. -- --target <urn>)",
        )
        if verb == "destroy":
            sub.add_argument(
                "--remove-stack",
                action="store_true",
                help="then delete the stack and its history (its config file stays)",
            )
        sub.set_defaults(handler=_lifecycle, remove_stack=False)

    endpoint_actions = endpoint_verbs.add_verbs(verbs, _workspace_option)
    deployment_verbs.add_verbs(verbs, _workspace_option)
    asset_verbs.add_verbs(verbs, _workspace_option)
    for group in (verbs, endpoint_actions):  # `modelpack invoke` = `online-endpoint invoke`
        sub = group.add_parser("invoke", help="send a request file to an endpoint; its answer")
        _workspace_option(sub)
        _endpoint_option(sub)
        sub.add_argument(
            "-d",
            "--deployment-name",
            "--deployment",
            help="send to this deployment, whatever traffic",
        )
        sub.add_argument("-r", "--request-file", required=True, type=Path, help="JSON body")
        sub.add_argument("--timeout", type=float, default=90.0, help="seconds (default: 90)")
        sub.set_defaults(handler=_invoke)

        sub = group.add_parser(
            "get-credentials", help="an endpoint's keys, or a short-lived token (aml_token)"
        )
        _workspace_option(sub)
        _endpoint_option(sub)
        sub.add_argument(
            "--lifetime",
            type=int,
            default=tokens.DEFAULT_LIFETIME_S,
            help=f"token lifetime in seconds (default: {tokens.DEFAULT_LIFETIME_S})",
        )
        sub.set_defaults(handler=_get_credentials)

    keys = verbs.add_parser("keys", help="an endpoint's keys").add_subparsers(
        dest="keys_verb", required=True, metavar="ACTION"
    )
    sub = keys.add_parser("show", help="print the primary and secondary keys as JSON")
    _workspace_option(sub)
    _endpoint_option(sub)
    sub.set_defaults(handler=_keys_show)
    sub = keys.add_parser("regenerate", help="replace one key (the other keeps working)")
    _workspace_option(sub)
    _endpoint_option(sub)
    sub.add_argument("--key-type", required=True, choices=keys_verbs.KEY_TYPES)
    sub.add_argument(
        "--no-up", dest="apply", action="store_false", help="only record it; the next up applies"
    )
    sub.set_defaults(handler=_keys_regenerate)

    sub = verbs.add_parser("logs", help="a deployment replica's last log lines")
    _workspace_option(sub)
    _endpoint_option(sub)
    sub.add_argument("-d", "--deployment-name", required=True)
    sub.add_argument("-i", "--instance", help="replica index or container name (default: 0)")
    sub.add_argument("-l", "--lines", type=_non_negative, default=DEFAULT_LINES)
    sub.set_defaults(handler=_logs)

    sub = verbs.add_parser("list", help="endpoints, traffic, deployments and replica state")
    _workspace_option(sub)
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub.set_defaults(handler=_list)

    sub = verbs.add_parser("workspace", help="the stack, backend and passphrase a workspace uses")
    _workspace_option(sub)
    sub.set_defaults(handler=_workspace)

    sub = verbs.add_parser(
        "promote", help="copy a package by digest to another workspace's registry and config"
    )
    sub.add_argument("package", help="package name (target_environment_name)")
    sub.add_argument("--from", dest="source", required=True, help="source workspace (e.g. dev)")
    sub.add_argument("--to", dest="workspace", required=True, help="target workspace (e.g. prod)")
    sub.add_argument("--up", action="store_true", help="then `up` the target workspace")
    sub.set_defaults(handler=_promote)

    sub = verbs.add_parser(
        "preview-summary", help="Markdown summary of `pulumi preview` (for a pull request)"
    )
    _workspace_option(sub)
    sub.add_argument("-o", "--output", type=Path, help="write it here (default: print it)")
    sub.set_defaults(handler=_preview_summary)

    sub = verbs.add_parser(
        "touched-workspaces", help="the workspaces the changes since a base commit touch"
    )
    _workspace_option(sub)
    sub.add_argument("--base", required=True, help="base commit or branch (e.g. origin/main)")
    sub.add_argument("--head", default="HEAD", help="head commit (default: HEAD)")
    sub.set_defaults(handler=_touched_workspaces)
    return parser


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


# --- handlers -----------------------------------------------------------------------------------


def _lifecycle(args: argparse.Namespace, runner: PulumiRunner) -> int:
    code = runner.lifecycle(args.verb, args.pulumi_args)
    if args.verb == "destroy" and runner.stack_exists():
        for pid in release_registry(runner):
            runner.note(f"stopped the workspace's registry (pid {pid}), started by `promote`")
    if args.remove_stack and runner.stack_exists():
        runner.capture("stack", "rm", "--yes", "--preserve-config")
        print(f"removed stack '{runner.ws}' from {runner.workspace.backend_url}")
    return code


def _invoke(args: argparse.Namespace, runner: PulumiRunner) -> int:
    body = read_request_file(args.request_file)
    endpoint = load_outputs(runner, show_secrets=True).endpoint(args.name)
    result = invoke(endpoint, body, runner.ws, args.deployment_name, timeout=args.timeout)
    require_success(result, endpoint, runner.ws, args.deployment_name)
    print(result.body)
    if result.deployment:
        print(f"served by deployment: {result.deployment}", file=sys.stderr)
    return 0


def _get_credentials(args: argparse.Namespace, runner: PulumiRunner) -> int:
    """As `az ml online-endpoint get-credentials`: the keys of a key endpoint, a token (with
    its expiry and refresh times, unix seconds) for an aml_token endpoint."""
    endpoint = load_outputs(runner, show_secrets=True).endpoint(args.name)
    endpoint_key(endpoint, runner.ws)  # says what to do when the stack has no keys yet
    assert endpoint.keys is not None
    if endpoint.auth_mode == "aml_token":
        tokens.check_lifetime(args.lifetime, tokens.max_lifetime(runner.config()))
        credentials = tokens.mint(endpoint.name, endpoint.keys.primary, args.lifetime).credentials()
    else:
        credentials = {"primaryKey": endpoint.keys.primary, "secondaryKey": endpoint.keys.secondary}
    print(json.dumps(credentials, indent=2))
    return 0


def _keys_show(args: argparse.Namespace, runner: PulumiRunner) -> int:
    found = keys_verbs.show(runner, args.name)
    print(json.dumps({"primary": found.primary, "secondary": found.secondary}, indent=2))
    return 0


def _keys_regenerate(args: argparse.Namespace, runner: PulumiRunner) -> int:
    keys_verbs.regenerate(runner, args.name, args.key_type, apply=args.apply)
    if args.apply:
        print(
            f"regenerated the {args.key_type} key of '{args.name}'; `modelpack keys show "
            f"--workspace {runner.ws} --name {args.name}` prints it"
        )
    return 0


def _logs(args: argparse.Namespace, runner: PulumiRunner) -> int:
    outputs = load_outputs(runner)
    found = replica_logs(
        outputs, outputs.runtime(), args.name, args.deployment_name, args.instance, args.lines
    )
    for line in found.lines:
        print(line)
    if found.others:
        runner.note(
            f"these are the logs of instance {found.instance} ({found.container}); the "
            f"deployment also runs {', '.join(found.others)} (--instance picks one)"
        )
    return 0


def _list(args: argparse.Namespace, runner: PulumiRunner) -> int:
    outputs = load_outputs(runner)
    statuses = endpoint_statuses(outputs, outputs.runtime())
    if args.json:
        print(json.dumps([status.as_dict() for status in statuses], indent=2))
    else:
        print(render_statuses(runner.ws, statuses))
    return 0


def _workspace(args: argparse.Namespace, runner: PulumiRunner) -> int:
    workspace = runner.workspace
    passphrase = resolve_passphrase(workspace, runner.environ, create=False)
    exists = runner.stack_exists()
    print(f"workspace:    {workspace.name}")
    print(f"stack:        {workspace.stack} ({'exists' if exists else 'not created yet'})")
    print(f"backend:      {workspace.backend_url} ({workspace.backend_source})")
    print(f"config:       {workspace.stack_config_file}")
    if passphrase is not None:
        known = passphrase.source
    elif exists:
        known = f"unknown: set PULUMI_CONFIG_PASSPHRASE or write {workspace.passphrase_file}"
    elif workspace.local_backend_dir is None:
        known = f"none: set {passphrase_env_var(workspace.name)} (a shared backend's passphrase)"
    else:
        known = f"none yet (up generates {workspace.passphrase_file})"
    print(f"passphrase:   {known}")
    return 0


def _promote(args: argparse.Namespace, runner: PulumiRunner) -> int:
    source = PulumiRunner(resolve_workspace(args.source), environ=runner.environ)
    done = promote(source, runner, args.package)
    for address in done.started_registries:
        runner.note(
            f"started the registry on {address} (the workspace's next `up` takes it over; "
            "`destroy` stops it)"
        )
    print(f"copied {done.source}\n    to {done.target} in {done.copy_seconds:.1f} s")
    print(
        f"recorded modelpack:promoted[{args.package}] in {runner.workspace.stack_config_file.name}"
    )
    if args.up:
        return runner.lifecycle("up")
    print(f"next: `modelpack up --workspace {runner.ws}` deploys it without building")
    return 0


def _preview_summary(args: argparse.Namespace, runner: PulumiRunner) -> int:
    code, document = runner.preview_json()
    summary = parse_preview(document, runner.ws)
    text = render_markdown(summary)
    if args.output:
        args.output.write_text(text)
        print(f"wrote the preview summary of '{runner.ws}' to {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    return 1 if summary.failed or code != 0 else 0


def _touched_workspaces(args: argparse.Namespace, runner: PulumiRunner) -> int:
    root = runner.workspace.project_dir
    folders = stack_folders(root)
    changed = changed_files(root, args.base, args.head)
    for workspace in touched_workspaces(changed, folders, shared_paths(root, folders)):
        print(workspace)
    return 0


# --- entry point --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    stop_on_interrupt()
    args = build_parser().parse_args(argv)
    try:
        workspace = resolve_workspace(args.workspace, environ=environ)
        runner = PulumiRunner(workspace, environ=environ)
        handler: Handler = args.handler
        return handler(args, runner)
    except CliError as error:
        return report(error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `modelpack ... | head`
        sys.stderr.close()
        return 0
