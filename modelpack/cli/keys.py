"""`keys show` and `keys regenerate`: an endpoint's primary and secondary keys.

Regenerating a key raises its generation in the stack config
(`modelpack:keyGenerations: {<endpoint>: {primary: n, secondary: m}}`, set with
`pulumi config set --path ... --type int`) and runs `up`, which replaces that key alone
(modelpack/providers/endpoint_keys.py) and reloads the router with the new pair: the other key
keeps working throughout, so clients move to it before the rotation.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import CliError
from .outputs import EndpointKeys, load_outputs
from .pulumi_runner import PulumiRunner

KEY_TYPES = ("primary", "secondary")
GENERATIONS_KEY = "modelpack:keyGenerations"


def show(runner: PulumiRunner, endpoint: str) -> EndpointKeys:
    target = load_outputs(runner, show_secrets=True).endpoint(endpoint)
    if target.auth_mode != "key":
        raise CliError(
            f"endpoint '{endpoint}' uses auth_mode {target.auth_mode}: its keys sign tokens and "
            "are not credentials",
            f"`modelpack get-credentials --workspace {runner.ws} --name {endpoint}` prints a token",
        )
    return _keys_of(runner, endpoint)


def _keys_of(runner: PulumiRunner, endpoint: str) -> EndpointKeys:
    target = load_outputs(runner, show_secrets=True).endpoint(endpoint)
    if target.keys is None:
        raise CliError(
            f"the stack outputs of workspace '{runner.ws}' carry no keys for '{endpoint}'",
            f"run `modelpack up --workspace {runner.ws}`",
        )
    return target.keys


def generation_table(config: dict[str, Any]) -> dict[str, dict[str, int]]:
    """`modelpack:keyGenerations` from `pulumi config --json` ({} when unset)."""
    entry = config.get(GENERATIONS_KEY)
    if not entry:
        return {}
    table = entry.get("objectValue")
    if table is None:
        try:
            table = json.loads(entry.get("value") or "{}")
        except json.JSONDecodeError:
            table = None
    if not isinstance(table, dict):
        raise CliError(
            f"{GENERATIONS_KEY} is not an object: {entry.get('value')!r}",
            f"remove it (`pulumi config rm {GENERATIONS_KEY}`) or set it to "
            '{"<endpoint>": {"primary": 0, "secondary": 0}}',
        )
    return {
        str(name): {str(k): int(v) for k, v in (value or {}).items()}
        for name, value in table.items()
    }


def next_generation(table: dict[str, dict[str, int]], endpoint: str, key_type: str) -> int:
    if key_type not in KEY_TYPES:
        raise CliError(f"--key-type must be primary or secondary, not {key_type!r}")
    return int(table.get(endpoint, {}).get(key_type, 0)) + 1


def generation_path(endpoint: str, key_type: str) -> str:
    """The `pulumi config set --path` key of one key's generation."""
    return f'{GENERATIONS_KEY}["{endpoint}"].{key_type}'


def bump_generation(runner: PulumiRunner, endpoint: str, key_type: str) -> int:
    """Raise the key's generation in the stack config; returns the new generation."""
    config = runner.config()
    entry = config.get(GENERATIONS_KEY)
    table = generation_table(config)
    generation = next_generation(table, endpoint, key_type)
    if entry and entry.get("objectValue") is None:
        # Set as a JSON string: --path cannot go into a string, so store the table as an object.
        runner.capture("config", "rm", GENERATIONS_KEY)
        for name, keys in table.items():
            for which, value in keys.items():
                runner.set_config_int(generation_path(name, which), value)
    runner.set_config_int(generation_path(endpoint, key_type), generation)
    return generation


def regenerate(runner: PulumiRunner, endpoint: str, key_type: str, apply: bool = True) -> int:
    """Regenerate one key of `endpoint`: bump its generation, then `up` (unless not `apply`).
    An aml_token endpoint's keys sign its tokens: tokens signed with the other key stay valid."""
    _keys_of(runner, endpoint)  # the endpoint exists and has keys
    generation = bump_generation(runner, endpoint, key_type)
    print(
        f"{key_type} key of '{endpoint}': generation {generation} in "
        f"{runner.workspace.stack_config_file}",
        flush=True,
    )
    if apply:
        try:
            runner.lifecycle("up")
        except CliError as error:
            raise CliError(
                f"{error.message}\nthe new generation is recorded, so the key is replaced by the "
                "next successful up",
                f"fix the cause, then `modelpack up --workspace {runner.ws}`",
            ) from None
    return generation
